/**
 * Replay buffer D of Algorithm 1 (lines 3, 8, 9): a bounded ring of transitions stored as item indices in
 * typed arrays, never as embeddings, so 1M transitions at N = 50 take about 217 MB (50 int32 state slots
 * plus 17 bytes of scalars each). Sampling is uniform over what it holds.
 *
 * The next state is not stored: by DESIGN.md §2 it is the state with the shown item appended after a
 * click or purchase, and the state unchanged otherwise (see nextStateOf); toReplayRecord rejects a
 * transition whose nextState says otherwise.
 */
import type { Transition } from '../common/domain.js';
import type { ScenarioLayout } from './config.js';
import { isAppending } from './target.js';
import type { ItemVocabulary } from './vocabulary.js';

export interface ReplayRecord {
  /** Item indices, oldest first; only the last N are kept. */
  readonly state: ArrayLike<number>;
  readonly action: number;
  readonly scenario: number;
  readonly behaviour: number;
  readonly reward: number;
  /** −1 when the session ended. */
  readonly nextScenario: number;
  /**
   * The serving policy's probability of showing this item at its position (DESIGN.md §3), for off-policy
   * corrections; absent (NaN in a batch) when the transition carried none.
   */
  readonly propensity?: number;
}

/** A minibatch, structure of arrays; states right-padded with 0 to N. */
export interface ReplayBatch {
  readonly size: number;
  readonly historyLength: number;
  readonly states: Int32Array;
  readonly lengths: Uint16Array;
  readonly actions: Int32Array;
  readonly scenarios: Uint8Array;
  readonly behaviours: Uint8Array;
  readonly rewards: Float32Array;
  readonly nextScenarios: Int8Array;
  readonly propensities: Float32Array;
}

export class ReplayBuffer {
  readonly capacity: number;
  readonly historyLength: number;
  private readonly states: Int32Array;
  private readonly lengths: Uint16Array;
  private readonly actions: Int32Array;
  private readonly scenarios: Uint8Array;
  private readonly behaviours: Uint8Array;
  private readonly rewards: Float32Array;
  private readonly nextScenarios: Int8Array;
  private readonly propensities: Float32Array;
  private head = 0;
  private count = 0;
  private added = 0;

  constructor(capacity: number, historyLength: number) {
    if (!Number.isInteger(capacity) || capacity <= 0) throw new Error(`replay capacity must be a positive integer, got ${capacity}`);
    if (!Number.isInteger(historyLength) || historyLength <= 0 || historyLength > 65535) {
      throw new Error(`history length must be an integer in 1..65535, got ${historyLength}`);
    }
    this.capacity = capacity;
    this.historyLength = historyLength;
    this.states = new Int32Array(capacity * historyLength);
    this.lengths = new Uint16Array(capacity);
    this.actions = new Int32Array(capacity);
    this.scenarios = new Uint8Array(capacity);
    this.behaviours = new Uint8Array(capacity);
    this.rewards = new Float32Array(capacity);
    this.nextScenarios = new Int8Array(capacity);
    this.propensities = new Float32Array(capacity);
  }

  /** Transitions held now (≤ capacity). */
  get size(): number {
    return this.count;
  }

  /** Transitions ever added (the oldest are overwritten once full). */
  get totalAdded(): number {
    return this.added;
  }

  /** Bytes of the typed arrays that hold the transitions (allocated up front for the whole capacity). */
  get byteLength(): number {
    return (
      this.states.byteLength +
      this.lengths.byteLength +
      this.actions.byteLength +
      this.scenarios.byteLength +
      this.behaviours.byteLength +
      this.rewards.byteLength +
      this.nextScenarios.byteLength +
      this.propensities.byteLength
    );
  }

  /** Algorithm 1 line 8: store a transition, overwriting the oldest when full. */
  add(r: ReplayRecord): void {
    const N = this.historyLength;
    const i = this.head;
    const len = Math.min(r.state.length, N);
    const from = r.state.length - len;
    const base = i * N;
    for (let t = 0; t < len; t++) this.states[base + t] = r.state[from + t]!;
    this.states.fill(0, base + len, base + N);
    this.lengths[i] = len;
    this.actions[i] = r.action;
    this.scenarios[i] = r.scenario;
    this.behaviours[i] = r.behaviour;
    this.rewards[i] = r.reward;
    this.nextScenarios[i] = r.nextScenario;
    this.propensities[i] = r.propensity ?? Number.NaN;
    this.head = (i + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
    this.added++;
  }

  /** Algorithm 1 line 9: a minibatch drawn uniformly (with replacement) from the held transitions. */
  sample(batchSize: number, random: () => number = Math.random): ReplayBatch {
    if (this.count === 0) throw new Error('cannot sample from an empty replay buffer');
    const picks = Array.from({ length: batchSize }, () => Math.min(this.count - 1, Math.floor(random() * this.count)));
    return this.gather(picks);
  }

  /** The transitions at the given slots (0 = oldest held), as a batch. */
  gather(slots: readonly number[]): ReplayBatch {
    const N = this.historyLength;
    const B = slots.length;
    const out: ReplayBatch = {
      size: B,
      historyLength: N,
      states: new Int32Array(B * N),
      lengths: new Uint16Array(B),
      actions: new Int32Array(B),
      scenarios: new Uint8Array(B),
      behaviours: new Uint8Array(B),
      rewards: new Float32Array(B),
      nextScenarios: new Int8Array(B),
      propensities: new Float32Array(B),
    };
    const oldest = this.count < this.capacity ? 0 : this.head;
    slots.forEach((slot, j) => {
      const i = (oldest + slot) % this.capacity;
      out.states.set(this.states.subarray(i * N, (i + 1) * N), j * N);
      out.lengths[j] = this.lengths[i]!;
      out.actions[j] = this.actions[i]!;
      out.scenarios[j] = this.scenarios[i]!;
      out.behaviours[j] = this.behaviours[i]!;
      out.rewards[j] = this.rewards[i]!;
      out.nextScenarios[j] = this.nextScenarios[i]!;
      out.propensities[j] = this.propensities[i]!;
    });
    return out;
  }
}

/** s' after behaviour b (DESIGN.md §2): the shown item appended (last N kept) after a click or purchase. */
export function nextStateOf(state: readonly number[], action: number, appended: boolean, historyLength: number): number[] {
  if (!appended) return state.slice(-historyLength);
  return [...state, action].slice(-historyLength);
}

export class TransitionRejected extends Error {
  constructor(readonly reason: string) {
    super(`transition rejected: ${reason}`);
    this.name = 'TransitionRejected';
  }
}

/**
 * Converts a transition of DESIGN.md §3 into a replay record, registering new items in the vocabulary.
 * Throws TransitionRejected (with the reason) for a scenario or behaviour the model does not have, or a
 * nextState that does not follow from state, action and behaviour.
 */
export function toReplayRecord(t: Transition, vocabulary: ItemVocabulary, layout: ScenarioLayout, historyLength: number): ReplayRecord {
  const scenario = layout.scenarios.indexOf(t.scenario);
  if (scenario < 0) throw new TransitionRejected(`scenario '${t.scenario}' has no agent in this model`);
  const behaviour = layout.behaviours[scenario]!.indexOf(t.behaviour);
  if (behaviour < 0) throw new TransitionRejected(`behaviour '${t.behaviour}' is not possible in scenario '${t.scenario}'`);
  let nextScenario = -1;
  if (!t.terminal) {
    if (t.nextScenario === null) throw new TransitionRejected('a non-terminal transition needs a next scenario');
    nextScenario = layout.scenarios.indexOf(t.nextScenario);
    if (nextScenario < 0) throw new TransitionRejected(`next scenario '${t.nextScenario}' has no agent in this model`);
  }
  const tail = (ids: readonly string[]) => ids.slice(-historyLength);
  const expected = isAppending(layout, scenario, behaviour) ? tail([...t.state, t.action]) : tail(t.state);
  const got = tail(t.nextState);
  if (!t.terminal && (expected.length !== got.length || expected.some((id, i) => id !== got[i]))) {
    throw new TransitionRejected(`nextState does not follow from state, action '${t.action}' and behaviour '${t.behaviour}'`);
  }
  return {
    state: tail(t.state).map((id) => vocabulary.add(id)),
    action: vocabulary.add(t.action),
    scenario,
    behaviour,
    reward: t.reward,
    nextScenario,
    ...(t.propensity === null ? {} : { propensity: t.propensity }),
  };
}
