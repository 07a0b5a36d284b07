/**
 * Probability net (paper §3.4.1): the critic's architecture with one softmax head per scenario over that
 * scenario's behaviours, trained by cross-entropy on the logged behaviour. Output layout [R, S·Bmax]:
 * the scenario indicator also enters the fully connected layers, as in the critic (critic.ts). Scenario m's logits are columns m·Bmax .. m·Bmax + |behaviours(m)| − 1; the others are masked.
 */
import * as tf from '@tensorflow/tfjs';
import type { ScenarioLayout } from './config.js';
import { createEncoder, type EncoderWeights } from './encoder.js';
import { createMlp, mlp, type MlpWeights } from './head.js';
import type { ParamStore } from './params.js';

export interface ProbabilityNetWeights {
  readonly encoder: EncoderWeights;
  readonly head: MlpWeights;
}

export function createProbabilityNet(
  store: ParamStore,
  prefix: string,
  sizes: { E: number; H: number; A: number },
  layout: ScenarioLayout,
  hidden: readonly number[],
): ProbabilityNetWeights {
  return {
    encoder: createEncoder(store, prefix, sizes, layout.scenarios.length),
    head: createMlp(store, `${prefix}.head`, [sizes.H + sizes.E + layout.scenarios.length, ...hidden, layout.scenarios.length * layout.maxBehaviours]),
  };
}

/** −1e9 on the slots of behaviours that a scenario does not have; [S, Bmax]. */
export function behaviourSlotBias(layout: ScenarioLayout): tf.Tensor2D {
  const S = layout.scenarios.length;
  const B = layout.maxBehaviours;
  const v = new Float32Array(S * B);
  for (let m = 0; m < S; m++) for (let j = 0; j < B; j++) v[m * B + j] = j < (layout.behaviours[m]?.length ?? 0) ? 0 : -1e9;
  return tf.tensor2d(v, [S, B]);
}

/**
 * log p(b | s, a, m) [R, Bmax] for each row's own scenario m (one-hot [R, S]) from its encoded state pC
 * [R, H] (encoder.ts, the attention head of m); slots past the scenario's behaviours hold ≈ −1e9.
 */
export function behaviourLogProbs(
  net: ProbabilityNetWeights,
  pC: tf.Tensor2D,
  scenarioOneHot: tf.Tensor2D,
  action: tf.Tensor2D,
  slotBias: tf.Tensor2D,
): tf.Tensor2D {
  return tf.tidy(() => {
    const [S, B] = slotBias.shape;
    const logits = tf.reshape(mlp(net.head, tf.concat([pC, action, scenarioOneHot], 1)), [-1, S, B]);
    const own = tf.sum(tf.mul(logits, tf.expandDims(scenarioOneHot, 2)), 1);
    const bias = tf.matMul(scenarioOneHot, slotBias);
    return tf.logSoftmax(tf.add(own, bias)) as tf.Tensor2D;
  });
}
