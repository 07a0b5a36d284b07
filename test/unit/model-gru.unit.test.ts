/**
 * The hand-written GRU backward pass (services/model/gru.ts) against TensorFlow.js autodiff of the same
 * equations, for two segments with different weights and row counts run in lockstep.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../services/model/backend.js';
import { multiGru, referenceGru, type GruWeights } from '../../services/model/gru.js';
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

test('multiGru matches the reference GRU forward and its autodiff gradients for every weight', () => {
  const E = 5;
  const H = 6;
  const N = 7;
  const store = new ParamStore(3);
  const wa = gruWeights(store, 'a', E, H);
  const wb = gruWeights(store, 'b', E, H);
  const xa = tf.randomNormal([N * 3, E], 0, 1, 'float32', 11) as tf.Tensor2D;
  const xb = tf.randomNormal([N * 2, E], 0, 1, 'float32', 12) as tf.Tensor2D;
  // A fixed random projection of the outputs makes the loss sensitive to every step and row.
  const probe = tf.randomNormal([N, 5, H], 0, 1, 'float32', 13);
  const vars = [...store.variables.values()];

  const fast = tf.variableGrads(() => tf.sum(tf.mul(multiGru([{ weights: wa, x: xa, rows: 3 }, { weights: wb, x: xb, rows: 2 }], N), probe)) as tf.Scalar, vars);
  const slow = tf.variableGrads(() => {
    const out = tf.concat([referenceGru(wa, xa, 3, N), referenceGru(wb, xb, 2, N)], 1);
    return tf.sum(tf.mul(out, probe)) as tf.Scalar;
  }, vars);

  assert.ok(Math.abs(fast.value.dataSync()[0]! - slow.value.dataSync()[0]!) < 1e-4, 'forward values differ');
  for (const [name, v] of store.variables) {
    const g1 = fast.grads[v.name]!.dataSync();
    const g2 = slow.grads[v.name]!.dataSync();
    let worst = 0;
    for (let i = 0; i < g1.length; i++) worst = Math.max(worst, Math.abs(g1[i]! - g2[i]!));
    assert.ok(worst < 1e-4, `gradient of ${name} differs by ${worst}`);
  }
});

test('multiGru with one segment equals the reference and padding never changes earlier outputs', () => {
  const E = 4;
  const H = 5;
  const N = 6;
  const store = new ParamStore(9);
  const w = gruWeights(store, 'c', E, H);
  const x = tf.randomNormal([N * 2, E], 0, 1, 'float32', 21) as tf.Tensor2D;
  const out = multiGru([{ weights: w, x, rows: 2 }], N);
  const ref = referenceGru(w, x, 2, N);
  const diff = tf.max(tf.abs(tf.sub(out, ref))).dataSync()[0]!;
  assert.ok(diff < 1e-5, `forward differs by ${diff}`);
  // Right padding: changing the inputs after step 3 leaves steps 0..3 untouched.
  const x2 = tf.concat([tf.slice(x, [0, 0], [4 * 2, E]), tf.zeros([(N - 4) * 2, E])], 0) as tf.Tensor2D;
  const out2 = multiGru([{ weights: w, x: x2, rows: 2 }], N);
  const prefixDiff = tf.max(tf.abs(tf.sub(tf.slice(out, [0, 0, 0], [4, 2, H]), tf.slice(out2, [0, 0, 0], [4, 2, H])))).dataSync()[0]!;
  assert.equal(prefixDiff, 0);
});
