/**
 * Actor (paper §3.2, Figure 3): encoder → linear map into the item-embedding space, then scaled to unit
 * length. Its output a_t is a proto-action; candidate k scores a_t · e_k (§3.2.2), see inference.ts.
 *
 * Why unit length: the model's item embeddings are unit vectors (DeepChainModel.setItemEmbeddings), so
 * every logged action the critic learns from lies on the unit sphere, and so does a_t; ranking by a_t · e_k
 * needs only a direction. With the paper's unbounded linear output, the policy gradient grows a_t along
 * ∇_a Q, Eq. 1 then evaluates the target critic far from every logged action and the targets diverge (the
 * learning test diverged that way; DDPG's own fix, a tanh layer, still let a_t leave the sphere and did too).
 */
import * as tf from '@tensorflow/tfjs';
import { createEncoder, type EncoderWeights } from './encoder.js';
import { dense } from './ops.js';

/** Keeps a_t / ‖a_t‖ finite at a_t = 0. */
export const UNIT_EPSILON = 1e-12;
import type { ParamStore } from './params.js';

export interface ActorWeights {
  readonly encoder: EncoderWeights;
  /** [H, E] and [E] */
  readonly outW: tf.Variable;
  readonly outB: tf.Variable;
}

export function createActor(store: ParamStore, prefix: string, sizes: { E: number; H: number; A: number }): ActorWeights {
  return {
    encoder: createEncoder(store, prefix, sizes, 1),
    outW: store.glorot(`${prefix}.out.w`, [sizes.H, sizes.E]),
    outB: store.zeros(`${prefix}.out.b`, [sizes.E]),
  };
}

/** Proto-actions [R, E] from this actor's encoded states p [R, H] (encoder.ts). */
export function actorHead(actor: ActorWeights, p: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const l = dense(p, actor.outW as tf.Tensor2D, actor.outB as tf.Tensor1D);
    return tf.mul(l, tf.rsqrt(tf.add(tf.sum(tf.square(l), 1, true), UNIT_EPSILON))) as tf.Tensor2D;
  });
}
