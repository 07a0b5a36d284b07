/** Transitions (transitions.ts) as item indices of an item space, per row, for the baselines' own training loops. */
import type { ItemSpace } from '../item-space.js';
import type { PageView } from '../logged-session.js';
import { viewsToTransitions } from '../transitions.js';
import { PAPER_SCENARIOS } from '../../model/index.js';
import { isRelevant } from '../logged-session.js';
import type { Scenario } from '../../common/index.js';

export interface IndexedTransitions {
  readonly count: number;
  /** Last N item indices, oldest first. */
  readonly states: number[][];
  readonly nextStates: number[][];
  readonly actions: Int32Array;
  /** Index in the scenario list. */
  readonly scenarios: Int8Array;
  readonly rewards: Float32Array;
  /** −1 when terminal. */
  readonly nextScenarios: Int8Array;
}

export function indexTransitions(views: readonly PageView[], space: ItemSpace, N: number, scenarios: readonly Scenario[] = PAPER_SCENARIOS): IndexedTransitions {
  const ts = viewsToTransitions(views).transitions.filter((t) => scenarios.includes(t.scenario));
  const n = ts.length;
  const out = {
    count: n,
    states: [] as number[][],
    nextStates: [] as number[][],
    actions: new Int32Array(n),
    scenarios: new Int8Array(n),
    rewards: new Float32Array(n),
    nextScenarios: new Int8Array(n),
  };
  ts.forEach((t, i) => {
    out.states.push(space.historyIndices(t.state.slice(-N)));
    const next = isRelevant(t.behaviour) ? [...t.state, t.action] : t.state;
    out.nextStates.push(space.historyIndices(next.slice(-N)));
    out.actions[i] = space.index(t.action);
    out.scenarios[i] = scenarios.indexOf(t.scenario);
    out.rewards[i] = t.reward;
    out.nextScenarios[i] = t.terminal || t.nextScenario === null ? -1 : scenarios.indexOf(t.nextScenario);
  });
  return out;
}

/** Time-major [N, B, E] inputs and lengths for a batch of index sequences (right-padded). */
export function sequenceBatch(seqs: readonly (readonly number[])[], table: Float32Array, E: number, N: number): { x: Float32Array; lengths: Int32Array } {
  const B = seqs.length;
  const x = new Float32Array(N * B * E);
  const lengths = new Int32Array(B);
  seqs.forEach((s, b) => {
    const tail = s.slice(-N);
    lengths[b] = tail.length;
    tail.forEach((item, t) => x.set(table.subarray(item * E, item * E + E), (t * B + b) * E));
  });
  return { x, lengths };
}

/** The last N items as one left-padded [N·E] vector (DDPG's concatenated state). */
export function concatState(seq: readonly number[], table: Float32Array, E: number, N: number): Float32Array {
  const out = new Float32Array(N * E);
  const tail = seq.slice(-N);
  const offset = N - tail.length;
  tail.forEach((item, t) => out.set(table.subarray(item * E, item * E + E), (offset + t) * E));
  return out;
}
