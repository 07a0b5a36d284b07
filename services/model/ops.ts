/**
 * Small tensor helpers the networks share. Most exist for speed on the WASM backend, where a matrix
 * product with a transpose flag runs on a slow generic kernel (≈1 GFLOP/s against ≈20 for the plain
 * product) and slice/split/gather copy whole inputs through JS; they are replaced by exact equivalents.
 */
import * as tf from '@tensorflow/tfjs';
import { flopMeter } from './flops.js';

type MatMulOptions = { constA?: boolean };

const mmGrad = tf.customGrad(((a: tf.Tensor2D, b: tf.Tensor2D, save: tf.GradSaveFunc) => {
  save([a, b]);
  const [m, k] = a.shape;
  const n = b.shape[1];
  flopMeter.add(2 * m * k * n);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as [tf.Tensor2D, tf.Tensor2D];
      flopMeter.add(4 * m * k * n);
      // dA = dy·Bᵀ, dB = Aᵀ·dy, with the transposes materialised (see the file comment).
      return [tf.matMul(dy as tf.Tensor2D, tf.transpose(sb)), tf.matMul(tf.transpose(sa), dy as tf.Tensor2D)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]);

const mmConstA = tf.customGrad(((a: tf.Tensor2D, b: tf.Tensor2D, save: tf.GradSaveFunc) => {
  save([a]);
  const [m, k] = a.shape;
  const n = b.shape[1];
  flopMeter.add(2 * m * k * n);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      flopMeter.add(2 * m * k * n);
      // `a` is data (item embeddings), never trained: its gradient is not computed.
      return [tf.zeros(a.shape), tf.matMul(tf.transpose(saved[0] as tf.Tensor2D), dy as tf.Tensor2D)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]);

/** a·b for 2-D tensors, counting its FLOPs; `constA` when `a` needs no gradient. */
export function mm(a: tf.Tensor2D, b: tf.Tensor2D, options: MatMulOptions = {}): tf.Tensor2D {
  return (options.constA ? mmConstA(a, b) : mmGrad(a, b)) as tf.Tensor2D;
}

/** Identity forward, zero gradient (TF's stop_gradient): fixes p in Eq. 1 and the critic inside Eq. 4. */
export const stopGradient = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]) as <T extends tf.Tensor>(x: T) => T;

/** Dense layer y = x·w + b. */
export function dense(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  return tf.add(mm(x, w), b);
}

/** Rows of a host embedding table [*, E] at the given indices, as one host array [ids.length, E]. */
export function gatherRows(table: Float32Array, E: number, ids: ArrayLike<number>): Float32Array {
  const out = new Float32Array(ids.length * E);
  for (let i = 0; i < ids.length; i++) out.set(table.subarray(ids[i]! * E, ids[i]! * E + E), i * E);
  return out;
}

/** The same rows uploaded as one [ids.length, E] tensor. */
export function embeddingRows(table: Float32Array, E: number, ids: ArrayLike<number>): tf.Tensor2D {
  return tf.tensor2d(gatherRows(table, E, ids), [ids.length, E]);
}
