/**
 * The model's Adam (services/model/adam.ts) against TensorFlow.js's tf.train.adam on the same variables
 * and gradients, and its state round trip for checkpoints.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../services/model/backend.js';
import { Adam } from '../../services/model/adam.js';

before(async () => {
  await selectBackend({ prefer: 'cpu' });
});

const shapes: Record<string, number[]> = { 'net.w': [3, 4], 'net.b': [4] };

function variables(seed: number): Map<string, tf.Variable> {
  return new Map(Object.entries(shapes).map(([name, shape], i) => [name, tf.variable(tf.randomNormal(shape, 0, 1, 'float32', seed + i), true, `${name}-${seed}-${Math.random()}`)]));
}

/** Gradients of step k, keyed by each variable's TF.js name as tf.variableGrads returns them (seeds are non-zero: TF.js takes 0 as no seed). */
function gradients(vars: Map<string, tf.Variable>, k: number): tf.NamedTensorMap {
  return Object.fromEntries([...vars].map(([name, v], i) => [v.name, tf.randomNormal(shapes[name]!, 0, 1 + k, 'float32', 1000 + 100 * k + i)]));
}

test('Adam follows tf.train.adam step for step', () => {
  const mine = variables(1);
  const theirs = variables(1);
  const adam = new Adam(0.01);
  const reference = tf.train.adam(0.01);
  for (let k = 0; k < 6; k++) {
    adam.applyGradients(mine, gradients(mine, k));
    const g = gradients(mine, k);
    // The same gradient values, keyed by the reference variables' names.
    reference.applyGradients(Object.fromEntries([...theirs].map(([name, v]) => [v.name, g[mine.get(name)!.name]!])) as tf.NamedTensorMap as never);
  }
  for (const [name, v] of mine) {
    const a = v.dataSync();
    const b = theirs.get(name)!.dataSync();
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    assert.ok(worst < 1e-5, `${name} differs from tf.train.adam by ${worst}`);
    assert.ok(Math.abs(a[0]! - tf.randomNormal(shapes[name]!, 0, 1, 'float32', name === 'net.w' ? 1 : 2).dataSync()[0]!) > 1e-3, `${name} did not move`);
  }
});

test('a restored Adam continues exactly where the saved one was', () => {
  const a = variables(5);
  const b = variables(5);
  const first = new Adam(0.05);
  for (let k = 0; k < 3; k++) first.applyGradients(a, gradients(a, k));
  for (const [name, v] of b) v.assign(a.get(name)!);
  const second = new Adam(0.05);
  second.loadState(first.state());
  assert.deepEqual(second.state(), first.state());
  first.applyGradients(a, gradients(a, 3));
  const g = gradients(a, 3);
  second.applyGradients(b, Object.fromEntries([...b].map(([name, v]) => [v.name, g[a.get(name)!.name]!])));
  for (const [name, v] of a) assert.deepEqual(b.get(name)!.dataSync(), v.dataSync(), `${name} diverged after restore`);
});

test('loadState names what it does not recognise', () => {
  const adam = new Adam(0.1);
  assert.throws(() => adam.loadState([{ name: '0', shape: [], values: Float32Array.of(1) }]), /optimiser state entry '0' is neither 'iterations' nor a moment/);
  assert.throws(() => adam.loadState([{ name: 'x/m', shape: [1], values: Float32Array.of(1) }]), /no 'iterations' entry/);
  assert.throws(
    () => adam.loadState([{ name: 'iterations', shape: [], values: Float32Array.of(2) }, { name: 'x/m', shape: [1], values: Float32Array.of(1) }]),
    /'x' holds only one of its two moments/,
  );
});
