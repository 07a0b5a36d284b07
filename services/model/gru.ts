/**
 * GRU over item-embedding histories (paper §3.2.1 and §3.3: actors, critic and probability net each own
 * one), in the reset-after form of Cho et al. 2014 as cuDNN and Keras compute it:
 *
 *   r = σ(x·W_r + b_r + h·U_r)            z = σ(x·W_z + b_z + h·U_z)
 *   n = tanh(x·W_n + b_n + r ⊙ (h·U_n + b_hn))
 *   h' = (1 − z) ⊙ n + z ⊙ h
 *
 * The networks run it inside the state encoder's kernel (encoder.ts); `referenceGru` is the same GRU in
 * TensorFlow.js ops, the oracle the encoder's tests compare values and autodiff gradients against.
 */
import * as tf from '@tensorflow/tfjs';

export interface GruWeights {
  /** Input kernels [E, H] of the reset, update and candidate gates. */
  readonly wr: tf.Variable;
  readonly wz: tf.Variable;
  readonly wn: tf.Variable;
  /** Recurrent kernels [H, H]. */
  readonly ur: tf.Variable;
  readonly uz: tf.Variable;
  readonly un: tf.Variable;
  /** Input-side biases [H]. */
  readonly br: tf.Variable;
  readonly bz: tf.Variable;
  readonly bn: tf.Variable;
  /** Recurrent-side bias of the candidate [H] (reset-after form). */
  readonly bhn: tf.Variable;
}

/** The same GRU written with ordinary ops and autodiff, one sequence block at a time: the test oracle. */
export function referenceGru(w: GruWeights, x: tf.Tensor2D, rows: number, steps: number): tf.Tensor3D {
  const E = x.shape[1];
  const x3 = tf.reshape(x, [steps, rows, E]);
  let h = tf.zeros([rows, w.ur.shape[0]!]) as tf.Tensor2D;
  const outs: tf.Tensor2D[] = [];
  for (let t = 0; t < steps; t++) {
    const xt = tf.reshape(tf.slice(x3, [t, 0, 0], [1, rows, E]), [rows, E]) as tf.Tensor2D;
    const r = tf.sigmoid(tf.add(tf.add(tf.matMul(xt, w.wr as tf.Tensor2D), w.br), tf.matMul(h, w.ur as tf.Tensor2D)));
    const z = tf.sigmoid(tf.add(tf.add(tf.matMul(xt, w.wz as tf.Tensor2D), w.bz), tf.matMul(h, w.uz as tf.Tensor2D)));
    const n = tf.tanh(tf.add(tf.add(tf.matMul(xt, w.wn as tf.Tensor2D), w.bn), tf.mul(r, tf.add(tf.matMul(h, w.un as tf.Tensor2D), w.bhn))));
    h = tf.add(tf.mul(tf.sub(1, z), n), tf.mul(z, h));
    outs.push(h);
  }
  return tf.stack(outs) as tf.Tensor3D;
}
