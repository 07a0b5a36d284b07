/**
 * The fully connected part shared by the critic and the probability net (paper §3.3: "concatenate the
 * user's preference p_C and the current action a_t, and feed them into several fully connected layers").
 */
import * as tf from '@tensorflow/tfjs';
import { dense } from './ops.js';
import type { ParamStore } from './params.js';

export interface MlpWeights {
  readonly layers: readonly { readonly w: tf.Variable; readonly b: tf.Variable }[];
}

export function createMlp(store: ParamStore, prefix: string, widths: readonly number[]): MlpWeights {
  const layers = [];
  for (let i = 0; i + 1 < widths.length; i++) {
    layers.push({ w: store.glorot(`${prefix}.fc${i}.w`, [widths[i]!, widths[i + 1]!]), b: store.zeros(`${prefix}.fc${i}.b`, [widths[i + 1]!]) });
  }
  return { layers };
}

/** ReLU between layers, linear output. `frozen` evaluates with constant copies of the weights. */
export function mlp(weights: MlpWeights, x: tf.Tensor2D, frozen?: readonly { w: tf.Tensor; b: tf.Tensor }[]): tf.Tensor2D {
  let h = x;
  const layers = frozen ?? weights.layers;
  layers.forEach((l, i) => {
    h = dense(h, l.w as tf.Tensor2D, l.b as tf.Tensor1D);
    if (i + 1 < layers.length) h = tf.relu(h);
  });
  return h;
}
