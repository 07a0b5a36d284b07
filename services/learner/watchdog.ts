/**
 * The learner's divergence watchdog, as decisions only (no I/O; the loop in loop.ts acts on them).
 *
 * Training has diverged when a step's losses are not finite or explode — the critic or probability loss
 * above `maxLoss` (PUBLISH_MAX_LOSS, the bound the publisher already judges snapshots by, validation.ts),
 * the actor loss not finite — or when, at checkpoint time, a value of the training state is not finite (a
 * diverged state is never saved). The loop then restores the last good checkpoint (`restore`). A checkpoint
 * saved after a restore is the healthy stretch that ends the episode: until then the learner is not ready,
 * and a divergence after `maxRestores` restores in a row is answered `give up` — the learner stops and its
 * process exits with an error instead of going round the same loop for ever.
 */
import type { NamedTensor } from '../model/index.js';

export interface WatchdogRules {
  /** A critic or probability loss above this (or not finite) is a divergence (PUBLISH_MAX_LOSS). */
  maxLoss: number;
  /** Restores with no checkpoint saved in between, after which the next divergence gives up (WATCHDOG_MAX_RESTORES). */
  maxRestores: number;
}

export interface StepLosses {
  criticLoss: number;
  actorLoss: number;
  probabilityLoss: number;
}

export interface WatchdogState {
  /** Restores since the last checkpoint saved after one. */
  readonly restoresInARow: number;
  /** The divergence the learner restored from, until it saves a checkpoint again: why it is not ready. */
  readonly recovering: string | null;
}

export const HEALTHY: WatchdogState = Object.freeze({ restoresInARow: 0, recovering: null });

/** What the loop saw: a training step's losses, or the training state it was about to checkpoint. */
export type Observation =
  | { kind: 'step'; losses: StepLosses }
  /** `nonFinite`: where the state holds a value that is not finite (firstNonFinite), or null. */
  | { kind: 'checkpoint'; nonFinite: string | null };

export type Decision =
  | { action: 'ok' }
  /** Load the newest checkpoint into the trainer; `reason` says what diverged. */
  | { action: 'restore'; reason: string }
  /** Stop the learner: `reason` is the error it exits with (what happened and what to do). */
  | { action: 'give up'; reason: string };

/** What the loop did about a decision. */
export type WatchdogEvent = { kind: 'restored'; reason: string } | { kind: 'checkpoint saved' };

/** Why these losses mean training diverged, or null (the publisher's rule, judgeSnapshot, applied to every step). */
export function lossDivergence(losses: StepLosses, maxLoss: number): string | null {
  const reasons: string[] = [];
  for (const [name, v] of [['critic', losses.criticLoss], ['probability', losses.probabilityLoss]] as const) {
    if (!Number.isFinite(v) || v > maxLoss) reasons.push(`${name} loss ${v} (limit ${maxLoss})`);
  }
  if (!Number.isFinite(losses.actorLoss)) reasons.push(`actor loss ${losses.actorLoss}`);
  return reasons.length === 0 ? null : reasons.join(', ');
}

/** Where the first value that is not finite is (tensor, index, value), or null: a scan of every value. */
export function firstNonFinite(tensors: readonly Pick<NamedTensor, 'name' | 'values'>[]): string | null {
  for (const t of tensors) {
    const values = t.values;
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i]!)) return `tensor '${t.name}' holds ${values[i]} at index ${i}`;
    }
  }
  return null;
}

export function decide(state: WatchdogState, observation: Observation, rules: WatchdogRules): Decision {
  const diverged = observation.kind === 'step'
    ? lossDivergence(observation.losses, rules.maxLoss)
    : observation.nonFinite === null ? null : `the training state is not finite: ${observation.nonFinite}`;
  if (diverged === null) return { action: 'ok' };
  const reason = `training diverged: ${diverged}`;
  if (state.restoresInARow < rules.maxRestores) return { action: 'restore', reason };
  return {
    action: 'give up',
    reason: `${reason}, after ${state.restoresInARow} restore(s) of the last good checkpoint with no checkpoint saved since `
      + `(WATCHDOG_MAX_RESTORES=${rules.maxRestores}). ${WHAT_TO_DO}`,
  };
}

export function evolve(state: WatchdogState, event: WatchdogEvent): WatchdogState {
  switch (event.kind) {
    case 'restored': return { restoresInARow: state.restoresInARow + 1, recovering: event.reason };
    case 'checkpoint saved': return HEALTHY;
  }
}

/** The learner is not ready while it recovers from a divergence: the reason, or null when healthy. */
export function notReadyReason(state: WatchdogState): string | null {
  return state.recovering === null ? null : `recovering from divergence (restored the last good checkpoint; ready once a checkpoint trained since is saved): ${state.recovering}`;
}

/** The error to stop with when training diverged before any checkpoint was saved: nothing to go back to. */
export function nothingToRestore(reason: string): string {
  return `${reason}, before the first checkpoint: there is no good state to restore. A restart begins from scratch on the same `
    + `transitions and will likely diverge again. ${WHAT_TO_DO}`;
}

const WHAT_TO_DO = 'The learner stopped without saving the diverged state; its checkpoints are kept. Look for what drives it '
  + '(transitions with extreme rewards, learning rates too high for this data; PUBLISH_MAX_LOSS if such losses are expected), '
  + 'then restart the learner: it resumes from its newest checkpoint.';
