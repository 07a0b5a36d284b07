/**
 * Global critic Q(s, a, scenario) (paper §3.3, Figure 4): its own GRU, one attention head per scenario
 * chosen by the scenario indicator, concatenated with the action, fully connected layers to a scalar.
 *
 * One addition to Figure 4: the indicator (1_m, 1_d) also enters the fully connected layers. In the
 * figure it only chooses the attention head, so for a history of one item (or any history the heads weigh
 * alike) p_C is the same in every scenario and the critic cannot prefer different actions on different
 * pages; the learning test (different best items per scenario) fails without it.
 */
import * as tf from '@tensorflow/tfjs';
import { createEncoder, type EncoderWeights } from './encoder.js';
import { createMlp, mlp, type MlpWeights } from './head.js';
import type { ParamStore } from './params.js';

export interface CriticWeights {
  readonly encoder: EncoderWeights;
  readonly head: MlpWeights;
}

export function createCritic(
  store: ParamStore,
  prefix: string,
  sizes: { E: number; H: number; A: number },
  scenarios: number,
  hidden: readonly number[],
): CriticWeights {
  return {
    encoder: createEncoder(store, prefix, sizes, scenarios),
    head: createMlp(store, `${prefix}.head`, [sizes.H + sizes.E + scenarios, ...hidden, 1]),
  };
}

/** Q [R] from p_C, actions [R, E] and the scenario one-hot [R, S]. */
export function criticValue(
  critic: CriticWeights,
  pC: tf.Tensor2D,
  action: tf.Tensor2D,
  scenarioOneHot: tf.Tensor2D,
  frozen?: readonly { w: tf.Tensor; b: tf.Tensor }[],
): tf.Tensor1D {
  return tf.reshape(mlp(critic.head, tf.concat([pC, action, scenarioOneHot], 1), frozen), [-1]);
}
