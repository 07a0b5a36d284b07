/**
 * The state encoder's kernel (services/model/encoder.ts, kernels/assembly/encoder.ts: GRU → attention,
 * forward and hand-written backward) against TensorFlow.js autodiff of the same network written with
 * ordinary ops (referenceGru, referenceAttention).
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../services/model/backend.js';
import { referenceAttention, stepMask } from '../../services/model/attention.js';
import { createEncoder, encode, encodeWithoutGradient, type EncoderInput, type EncoderWeights } from '../../services/model/encoder.js';
import { referenceGru } from '../../services/model/gru.js';
import { ParamStore } from '../../services/model/params.js';

before(async () => {
  await selectBackend({ prefer: 'cpu' });
});

/** The model's encoder, with non-zero biases so that their gradients are checked too. */
function encoderWeights(store: ParamStore, sizes: { E: number; H: number; A: number }, heads: number): EncoderWeights {
  const w = createEncoder(store, 'enc', sizes, heads);
  const g = w.gru;
  let seed = 1;
  for (const bias of [g.br, g.bz, g.bn, g.bhn, w.attention.b]) bias.assign(tf.randomUniform(bias.shape, -0.5, 0.5, 'float32', seed++));
  return w;
}

function reference(w: EncoderWeights, input: EncoderInput, N: number, E: number): tf.Tensor2D {
  const o = referenceGru(w.gru, tf.tensor2d(input.x, [N * input.rows, E]), input.rows, N);
  const heads = input.heads === null ? null : (tf.oneHot(tf.tensor1d(Array.from(input.heads), 'int32'), w.attention.heads).toFloat() as tf.Tensor2D);
  return referenceAttention(o, stepMask(input.lengths, N), w.attention, heads);
}

// The first case pads every size in the kernel (E → 8, H → 8, A → 8), mixes heads in no order and has an
// empty, a one-item and a full history; the second pads nothing and has one head. Five and four rows
// exercise the kernel's four-row blocks and the rows left over.
const cases = [
  { E: 5, H: 6, A: 5, K: 2, heads: [1, 0, 1, 1, 0], lengths: [7, 3, 0, 1, 5] },
  { E: 4, H: 8, A: 8, K: 1, heads: null, lengths: [7, 7, 2, 6] },
];
for (const { E, H, A, K, heads, lengths } of cases) {
  test(`encode (E ${E}, H ${H}, A ${A}, ${K} head(s)) matches the reference network's output and autodiff gradients for every weight`, () => {
    const N = 7;
    const R = lengths.length;
    const store = new ParamStore(3);
    const w = encoderWeights(store, { E, H, A }, K);
    const input: EncoderInput = { x: tf.randomNormal([N * R, E], 0, 1, 'float32', 11).dataSync() as Float32Array, rows: R, lengths, heads };
    // A fixed random projection of the output makes the loss sensitive to every row and column.
    const probe = tf.randomNormal([R, H], 0, 1, 'float32', 13);
    const vars = [...store.variables.values()];
    const fast = tf.variableGrads(() => tf.sum(tf.mul(encode(w, input, N), probe)) as tf.Scalar, vars);
    const slow = tf.variableGrads(() => tf.sum(tf.mul(reference(w, input, N, E), probe)) as tf.Scalar, vars);

    const p = encode(w, input, N).arraySync();
    const q = reference(w, input, N, E).arraySync();
    p.forEach((row, j) => row.forEach((v, i) => assert.ok(Math.abs(v - q[j]![i]!) < 1e-5, `p[${j}][${i}] = ${v}, reference ${q[j]![i]}`)));
    lengths.forEach((len, j) => {
      if (len === 0) assert.deepEqual(p[j], new Array(H).fill(0), 'an empty history must encode to 0');
    });
    assert.deepEqual(encodeWithoutGradient(w, input, N).arraySync(), p, 'encodeWithoutGradient differs from encode');
    for (const [name, v] of store.variables) {
      const g1 = fast.grads[v.name]!.dataSync();
      const g2 = slow.grads[v.name]!.dataSync();
      let worst = 0;
      let largest = 0;
      for (let i = 0; i < g1.length; i++) {
        worst = Math.max(worst, Math.abs(g1[i]! - g2[i]!));
        largest = Math.max(largest, Math.abs(g2[i]!));
      }
      assert.ok(largest > 0, `the reference gradient of ${name} is zero: the check would be empty`);
      assert.ok(worst < 1e-4, `gradient of ${name} differs by ${worst}`);
    }
  });
}

test('what follows a history in its padding never changes its encoding', () => {
  const E = 4;
  const N = 6;
  const store = new ParamStore(9);
  const w = encoderWeights(store, { E, H: 5, A: 3 }, 1);
  const lengths = [4, 2];
  const x = tf.randomNormal([N * 2, E], 0, 1, 'float32', 21).dataSync() as Float32Array;
  const noisy = Float32Array.from(x);
  for (let t = 0; t < N; t++) for (let j = 0; j < 2; j++) if (t >= lengths[j]!) for (let e = 0; e < E; e++) noisy[(t * 2 + j) * E + e] = 100 * Math.sin(t + e);
  const a = encode(w, { x, rows: 2, lengths, heads: null }, N).arraySync();
  const b = encode(w, { x: noisy, rows: 2, lengths, heads: null }, N).arraySync();
  assert.deepEqual(b, a);
});

test('encode rejects inputs that do not fit the weights, naming what is wrong', () => {
  const store = new ParamStore(5);
  const w = encoderWeights(store, { E: 4, H: 8, A: 8 }, 2);
  const x = new Float32Array(3 * 2 * 4);
  assert.throws(() => encode(w, { x, rows: 2, lengths: [1, 1], heads: null }, 3), /2 heads needs one head index per row/);
  assert.throws(() => encode(w, { x, rows: 2, lengths: [1, 1], heads: [0, 2] }, 3), /row 1 asks for attention head 2; this attention has 2/);
  assert.throws(() => encode(w, { x: new Float32Array(5), rows: 2, lengths: [1, 1], heads: [0, 1] }, 3), /expected N·R·E = 3·2·4/);
});
