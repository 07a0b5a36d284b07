/**
 * The GRU kernel's forward and hand-written backward pass (services/model/gru.ts,
 * kernels/assembly/gru.ts) against TensorFlow.js autodiff of the same equations.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../services/model/backend.js';
import { gru, gruOutputs, referenceGru, type GruWeights } from '../../services/model/gru.js';
import { ParamStore } from '../../services/model/params.js';
import { createGru } from '../../services/model/encoder.js';

before(async () => {
  await selectBackend({ prefer: 'cpu' });
});

/** The model's GRU (encoder.ts), with non-zero biases so that their gradients are checked too. */
function gruWeights(store: ParamStore, prefix: string, E: number, H: number): GruWeights {
  const w = createGru(store, prefix, E, H);
  for (const [name, bias] of Object.entries({ br: w.br, bz: w.bz, bn: w.bn, bhn: w.bhn })) {
    bias.assign(tf.randomUniform([H], -0.5, 0.5, 'float32', name.length + prefix.length));
  }
  return w;
}

// E = 5, H = 6 run the kernel on zero-padded blocks (Q = 8, P = 8), E = 4, H = 8 without padding; row
// counts of 5 and 3 exercise both the four-row blocks of its matrix products and the rows left over.
for (const { E, H, rows } of [{ E: 5, H: 6, rows: [5, 2] }, { E: 4, H: 8, rows: [4, 3] }]) {
  test(`gru (E = ${E}, H = ${H}, R = ${rows.join(' and ')}) matches the reference GRU forward and its autodiff gradients for every weight`, () => {
    const N = 7;
    const store = new ParamStore(3);
    const segments = rows.map((R, k) => ({
      weights: gruWeights(store, `s${k}`, E, H),
      x: tf.randomNormal([N * R, E], 0, 1, 'float32', 11 + k).dataSync() as Float32Array,
      rows: R,
    }));
    // A fixed random projection of the outputs makes the loss sensitive to every step and row.
    const probes = rows.map((R, k) => tf.randomNormal([N, R, H], 0, 1, 'float32', 13 + k));
    const vars = [...store.variables.values()];
    const loss = (outs: tf.Tensor[]) => tf.addN(outs.map((o, k) => tf.sum(tf.mul(o, probes[k]!)))) as tf.Scalar;

    const fast = tf.variableGrads(() => loss(segments.map((s) => gru(s, N))), vars);
    const slow = tf.variableGrads(() => loss(segments.map((s) => referenceGru(s.weights, tf.tensor2d(s.x, [N * s.rows, E]), s.rows, N))), vars);

    assert.ok(Math.abs(fast.value.dataSync()[0]! - slow.value.dataSync()[0]!) < 1e-4, 'forward values differ');
    for (const [name, v] of store.variables) {
      const g1 = fast.grads[v.name]!.dataSync();
      const g2 = slow.grads[v.name]!.dataSync();
      let worst = 0;
      for (let i = 0; i < g1.length; i++) worst = Math.max(worst, Math.abs(g1[i]! - g2[i]!));
      assert.ok(worst < 1e-4, `gradient of ${name} differs by ${worst}`);
    }
    // The forward-only pass (target networks) gives the same outputs.
    segments.forEach((s) => {
      const diff = tf.max(tf.abs(tf.sub(gruOutputs(s, N), gru(s, N)))).dataSync()[0]!;
      assert.equal(diff, 0, 'gruOutputs differs from gru');
    });
  });
}

test('gru equals the reference and padding never changes earlier outputs', () => {
  const E = 4;
  const H = 5;
  const N = 6;
  const store = new ParamStore(9);
  const w = gruWeights(store, 'c', E, H);
  const x = tf.randomNormal([N * 2, E], 0, 1, 'float32', 21) as tf.Tensor2D;
  const out = gru({ weights: w, x: x.dataSync() as Float32Array, rows: 2 }, N);
  const ref = referenceGru(w, x, 2, N);
  const diff = tf.max(tf.abs(tf.sub(out, ref))).dataSync()[0]!;
  assert.ok(diff < 1e-5, `forward differs by ${diff}`);
  // Right padding: changing the inputs after step 3 leaves steps 0..3 untouched.
  const x2 = tf.concat([tf.slice(x, [0, 0], [4 * 2, E]), tf.zeros([(N - 4) * 2, E])], 0) as tf.Tensor2D;
  const out2 = gru({ weights: w, x: x2.dataSync() as Float32Array, rows: 2 }, N);
  const prefixDiff = tf.max(tf.abs(tf.sub(tf.slice(out, [0, 0, 0], [4, 2, H]), tf.slice(out2, [0, 0, 0], [4, 2, H])))).dataSync()[0]!;
  assert.equal(prefixDiff, 0);
});
