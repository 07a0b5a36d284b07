/**
 * Item-level attention over GRU outputs (paper §3.2.1, "[17]"): additive attention with one head per
 * scenario where a network needs it (the critic and the probability net, paper §3.3: "the indicator picks
 * the head"), one head for an actor.
 *
 *   e_{t,h} = v_h · tanh(W_h·o_t + b_h),   α_{·,h} = softmax over the unpadded steps,   c = Σ_t α_{t,h} o_t
 *
 * Computed as e'_{t,h} = (2v_h) · σ(2(W_h·o_t + b_h)), which is e_{t,h} + Σ v_h: tanh(x) = 2σ(2x) − 1, and
 * a constant per head cancels in the softmax, so α is exactly the same (and WASM's sigmoid is fast).
 *
 * The networks compute it inside the state encoder's kernel (encoder.ts, kernels/assembly/encoder.ts), over
 * a row's unpadded steps only; an empty history attends to nothing (c = 0). `referenceAttention` is the
 * same attention in TensorFlow.js ops, the oracle the encoder's tests compare against: there padded steps
 * get a score of −1e9 (their weight underflows to exactly 0) and α is multiplied by the mask.
 */
import * as tf from '@tensorflow/tfjs';
import { mm } from './ops.js';
import type { ParamStore } from './params.js';

export interface AttentionWeights {
  /** [H, heads·A] */
  readonly w: tf.Variable;
  /** [heads·A] */
  readonly b: tf.Variable;
  /** [heads, A] */
  readonly v: tf.Variable;
  readonly heads: number;
}

export function createAttention(store: ParamStore, prefix: string, hidden: number, size: number, heads: number): AttentionWeights {
  return {
    w: store.glorot(`${prefix}.w`, [hidden, heads * size]),
    b: store.zeros(`${prefix}.b`, [heads * size]),
    v: store.glorot(`${prefix}.v`, [heads, size]),
    heads,
  };
}

/** Padding masks for a batch: mask [R, N] (1 where a step holds an item) and its additive score bias. */
export interface StepMask {
  readonly mask: tf.Tensor2D;
  readonly bias: tf.Tensor2D;
}

export function stepMask(lengths: ArrayLike<number>, steps: number): StepMask {
  const R = lengths.length;
  const m = new Float32Array(R * steps);
  const b = new Float32Array(R * steps);
  for (let j = 0; j < R; j++) {
    for (let t = 0; t < steps; t++) {
      const on = t < (lengths[j] ?? 0);
      m[j * steps + t] = on ? 1 : 0;
      b[j * steps + t] = on ? 0 : -1e9;
    }
  }
  return { mask: tf.tensor2d(m, [R, steps]), bias: tf.tensor2d(b, [R, steps]) };
}

/**
 * o: GRU outputs, time-major [N, R, H]. head: one-hot [R, heads] choosing each row's head (null for a
 * single head). Returns the context c [R, H].
 */
export function referenceAttention(o: tf.Tensor3D, mask: StepMask, att: AttentionWeights, head: tf.Tensor2D | null): tf.Tensor2D {
  return tf.tidy(() => {
    const [N, R, H] = o.shape;
    const A = att.v.shape[1]!;
    const u = tf.sigmoid(tf.add(mm(tf.reshape(o, [N * R, H]), tf.mul(att.w, 2) as tf.Tensor2D), tf.mul(att.b, 2)));
    // e' [N·R, heads]
    const e = tf.sum(tf.mul(tf.reshape(u, [N * R, att.heads, A]), tf.mul(att.v, 2)), 2);
    let scores: tf.Tensor2D;
    if (att.heads === 1) {
      scores = tf.reshape(e, [N, R]);
    } else {
      if (head === null) throw new Error('a multi-head attention needs each row\'s head');
      scores = tf.sum(tf.mul(tf.reshape(e, [N, R, att.heads]), head), 2) as tf.Tensor2D;
    }
    const alpha = tf.mul(tf.softmax(tf.add(tf.transpose(scores), mask.bias)), mask.mask);
    return tf.sum(tf.mul(o, tf.expandDims(tf.transpose(alpha), 2)), 0) as tf.Tensor2D;
  });
}
