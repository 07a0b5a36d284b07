/**
 * The critic's target y (paper Eq. 1, Algorithm 1 line 11), as pure functions of numbers and tensors.
 *
 * Every mode is written in one form. For a transition in scenario m with behaviours b_1..b_J (the
 * probability net's softmax order) there are J slots:
 *
 *   y = Σ_j w_j · (ρ_j + δ_j · q_j)
 *
 * where q_j = Q'(s'_j, π'_{n_j}(s'_j), n_j) is the target critic at slot j's next state s'_j and next
 * scenario n_j (0 and unused when δ_j = 0), and
 *
 * - 'graph' (DESIGN.md §2, the default): w_j = p_{b_j}(s, a); ρ_j = r_{b_j} (the behaviour's reward);
 *   δ_j = γ·[next(m, b_j) is not terminal]; s'_j = s with the item appended if b_j is a click or purchase,
 *   else s; n_j = next(m, b_j). With the paper's two scenarios these are Eq. 1's six rows with
 *   behaviour-specific rewards.
 * - 'literal': Eq. 1 as printed: w_j = p_{b_j}(s, a); ρ_j = r_t (the observed reward) except 0 on a skip
 *   row (the paper's skip rows carry no reward); δ_j as above; s'_j = the observed s_{t+1} in every row.
 * - 'model-free' (DC-f, paper §4.3): one slot, w = 1, ρ = r_t, δ = γ·[not terminal], s' = s_{t+1},
 *   n = the observed next scenario: y = r_t + γ·Q'(s_{t+1}, π'(s_{t+1})).
 */
import * as tf from '@tensorflow/tfjs';
import type { Rewards } from '../common/domain.js';
import { APPENDING_BEHAVIOURS, type ScenarioLayout, type TargetMode } from './config.js';

/** One logged transition, as Eq. 1 needs it (indices from ScenarioLayout). */
export interface LoggedStep {
  readonly scenario: number;
  /** Index of the logged behaviour in layout.behaviours[scenario]. */
  readonly behaviour: number;
  /** Observed r_t. */
  readonly reward: number;
  /** Observed next scenario index, −1 when the session ended. */
  readonly nextScenario: number;
}

/** Where slot j's q_j comes from: the state after appending the shown item or not, and the scenario. */
export interface NextStateRef {
  readonly appended: boolean;
  readonly scenario: number;
}

export interface Eq1Slots {
  /** w_j is p_j (model-based) or fixed (model-free: [1, 0, …]). */
  readonly usesProbabilities: boolean;
  readonly fixedWeight: Float32Array;
  readonly rewardTerm: Float32Array;
  readonly discount: Float32Array;
  /** null where δ_j = 0 (no bootstrap, q_j unused). */
  readonly next: readonly (NextStateRef | null)[];
}

export function isAppending(layout: ScenarioLayout, scenario: number, behaviour: number): boolean {
  const b = layout.behaviours[scenario]?.[behaviour];
  return b !== undefined && APPENDING_BEHAVIOURS.includes(b);
}

/** The slots of Eq. 1 for one transition (see the file comment). Length: layout.maxBehaviours. */
export function eq1Slots(mode: TargetMode, layout: ScenarioLayout, rewards: Rewards, gamma: number, step: LoggedStep): Eq1Slots {
  const J = layout.maxBehaviours;
  const fixedWeight = new Float32Array(J);
  const rewardTerm = new Float32Array(J);
  const discount = new Float32Array(J);
  const next: (NextStateRef | null)[] = new Array(J).fill(null);
  const observedAppended = isAppending(layout, step.scenario, step.behaviour);
  if (mode === 'model-free') {
    fixedWeight[0] = 1;
    rewardTerm[0] = step.reward;
    if (step.nextScenario >= 0) {
      discount[0] = gamma;
      next[0] = { appended: observedAppended, scenario: step.nextScenario };
    }
    return { usesProbabilities: false, fixedWeight, rewardTerm, discount, next };
  }
  const behaviours = layout.behaviours[step.scenario] ?? [];
  behaviours.forEach((b, j) => {
    const n = layout.next[step.scenario]?.[j] ?? -1;
    if (mode === 'graph') {
      rewardTerm[j] = rewards[b];
    } else {
      rewardTerm[j] = b === 'skip' ? 0 : step.reward;
    }
    if (n >= 0) {
      discount[j] = gamma;
      next[j] = { appended: mode === 'graph' ? isAppending(layout, step.scenario, j) : observedAppended, scenario: n };
    }
  });
  return { usesProbabilities: true, fixedWeight, rewardTerm, discount, next };
}

/** Eq. 1 on numbers: y = Σ_j w_j (ρ_j + δ_j q_j), w = p for the model-based modes. */
export function eq1Target(slots: Eq1Slots, p: ArrayLike<number>, q: ArrayLike<number>): number {
  let y = 0;
  for (let j = 0; j < slots.rewardTerm.length; j++) {
    const w = slots.usesProbabilities ? (p[j] ?? 0) : slots.fixedWeight[j]!;
    y += w * (slots.rewardTerm[j]! + slots.discount[j]! * (q[j] ?? 0));
  }
  return y;
}

/** Eq. 1 on a batch: weights [B, J] (p, or the fixed weights), q, ρ, δ [B, J] → y [B]. */
export function eq1TargetTensor(weights: tf.Tensor2D, q: tf.Tensor2D, rewardTerm: tf.Tensor2D, discount: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.sum(tf.mul(weights, tf.add(rewardTerm, tf.mul(discount, q))), 1) as tf.Tensor1D);
}
