/**
 * The online learner's core, free of Kafka and Postgres: transitions in, Algorithm 1 steps out. It owns
 * the replay buffer D (line 8), the item embeddings (item2vec over click sequences, DESIGN.md §2), the
 * DeepChain networks, and a held-out window of recent transitions the publisher validates against.
 */
import type { Transition } from '../common/index.js';
import {
  centredVectors, createDeepChain, decodeWeights, deepChainFromWeights, encodeWeights, Item2Vec, ItemVocabulary, ReplayBuffer, seededRandom, toReplayRecord,
  TransitionRejected, type DeepChainConfigInput, type DeepChainModel, type NamedTensor, type ReplayRecord, type TrainStepResult,
  type WeightsSnapshot,
} from '../model/index.js';
import { rewardMismatch } from './rewards.js';
import { firstNonFinite } from './watchdog.js';

export interface TrainerOptions {
  model: DeepChainConfigInput;
  replayCapacity: number;
  batchSize: number;
  /** Transitions in D before the first step. */
  trainStart: number;
  /**
   * One user in `holdoutEvery` (by a hash of the user id) is kept out of D for validation: whole users, so
   * their page views stay complete and a clicked item can be compared with the items skipped beside it.
   */
  holdoutEvery: number;
  /** Most recent held-out transitions kept. */
  holdoutSize: number;
  /** Steps between copies of the item2vec vectors into the networks' embedding table. */
  embeddingRefreshSteps: number;
  seed: number;
}

export interface IngestResult {
  accepted: number;
  heldOut: number;
  rejected: { transition: Transition; reason: string }[];
}

/** Tensor-name prefixes of the parts of a checkpoint that are not model variables. */
const OPTIMIZER = 'optimizer.';
const ITEM2VEC = 'item2vec.';

/** item2vec context window: a click sequence is trained on its newest window only (older pairs were seen). */
const ITEM2VEC_WINDOW = 5;

export class OnlineTrainer {
  readonly model: DeepChainModel;
  readonly vocabulary: ItemVocabulary;
  readonly buffer: ReplayBuffer;
  private readonly item2vec: Item2Vec;
  private readonly holdout: Transition[] = [];
  private readonly random: () => number;
  private received = 0;
  private embeddingsAt = -1;
  lastLosses: TrainStepResult | null = null;

  constructor(readonly options: TrainerOptions) {
    this.vocabulary = new ItemVocabulary();
    this.model = createDeepChain({ seed: options.seed, ...options.model }, this.vocabulary);
    this.buffer = new ReplayBuffer(options.replayCapacity, this.model.config.historyLength);
    this.item2vec = new Item2Vec(
      { dimension: this.model.config.embeddingSize, window: ITEM2VEC_WINDOW, seed: options.seed },
      this.vocabulary,
    );
    this.random = seededRandom(options.seed);
  }

  get steps(): number {
    return this.model.stepCount;
  }

  get transitionsSeen(): number {
    return this.received;
  }

  get ready(): boolean {
    return this.buffer.size >= this.options.trainStart;
  }

  get heldOut(): readonly Transition[] {
    return this.holdout;
  }

  /**
   * Algorithm 1 line 8 for each transition (or the held-out window), and item2vec on the click sequences
   * they reveal. `refill` transitions were seen before a restart: they go back into D but are not counted
   * again and train no embeddings (the checkpoint holds those).
   */
  ingest(transitions: readonly Transition[], refill = false): IngestResult {
    const result: IngestResult = { accepted: 0, heldOut: 0, rejected: [] };
    const sequences: string[][] = [];
    for (const t of transitions) {
      const record = this.toRecord(t, this.vocabulary);
      if (typeof record === 'string') {
        result.rejected.push({ transition: t, reason: record });
        continue;
      }
      if (!refill) this.received++;
      if (isHeldOutUser(t.userId, this.options.holdoutEvery)) {
        if (refill) continue;
        this.holdout.push(t);
        if (this.holdout.length > this.options.holdoutSize) this.holdout.shift();
        result.heldOut++;
      } else {
        this.buffer.add(record);
        result.accepted++;
      }
      if (!refill && (t.behaviour === 'click' || t.behaviour === 'purchase')) {
        sequences.push(t.nextState.slice(-(2 * ITEM2VEC_WINDOW + 1)));
      }
    }
    // Also grows item2vec's table to the vocabulary, so every index in D has an embedding row.
    this.item2vec.train(sequences);
    return result;
  }

  /**
   * Why this learner cannot use `t` (the loop dead-letters it with this reason, DESIGN.md §7), or null when
   * `ingest` would take it. Changes nothing: the check registers no item.
   */
  rejectionOf(t: Transition): string | null {
    const record = this.toRecord(t, new ItemVocabulary());
    return typeof record === 'string' ? record : null;
  }

  /** The replay record of `t` (registering its items in `vocabulary`), or the reason it cannot be used. */
  private toRecord(t: Transition, vocabulary: ItemVocabulary): ReplayRecord | string {
    // What toReplayRecord does not check but would break training: a NaN reward poisons every network, an
    // empty id has no vocabulary index (item2vec also reads nextState).
    if (!Number.isFinite(t.reward)) return `reward ${t.reward} is not a finite number`;
    // Eq. 1 trains with the learner's rewards: a transition scored with others would be trained against them.
    const mismatch = rewardMismatch(this.model.config.rewards, t);
    if (mismatch !== null) return mismatch;
    if (t.action === '' || t.state.includes('') || t.nextState.includes('')) return 'an item id is empty';
    try {
      return toReplayRecord(t, vocabulary, this.model.layout, this.model.config.historyLength);
    } catch (err) {
      if (err instanceof TransitionRejected) return err.reason;
      throw err;
    }
  }

  /** Copies the item2vec vectors, centred (as the evaluation's item space), into the networks (all rows, new items included). */
  refreshEmbeddings(): void {
    this.model.setItemEmbeddings(centredVectors(this.item2vec.vectors(), this.model.config.embeddingSize));
    this.embeddingsAt = this.steps;
  }

  /** Algorithm 1 lines 9–14 once. */
  step(): TrainStepResult {
    if (!this.ready) throw new Error(`the replay buffer holds ${this.buffer.size} transitions; training starts at ${this.options.trainStart}`);
    const rowsNeeded = this.vocabulary.size;
    if (this.embeddingsAt < 0 || this.model.itemCount < rowsNeeded || this.steps - this.embeddingsAt >= this.options.embeddingRefreshSteps) {
      this.refreshEmbeddings();
    }
    this.lastLosses = this.model.trainStep(this.buffer.sample(this.options.batchSize, this.random));
    return this.lastLosses;
  }

  /** What serving nodes need: the actors and the item embeddings with their vocabulary. */
  publishableWeights(): Uint8Array {
    this.refreshEmbeddings();
    return this.model.serialize({ only: 'actors' });
  }

  /**
   * The whole training state in one weights file (checksummed by the format): every network (online,
   * target, probability net), the item embeddings with their vocabulary, the optimisers' moments, and
   * item2vec's vectors and counts.
   */
  async checkpointState(): Promise<Uint8Array> {
    return encodeWeights(await this.stateSnapshot());
  }

  /**
   * checkpointState(), unless a value of the training state is not finite — training diverged, and such a
   * state must never become a checkpoint (divergence watchdog, watchdog.ts): then where that value is.
   */
  async finiteCheckpointState(): Promise<{ state: Uint8Array } | { nonFinite: string }> {
    const snapshot = await this.stateSnapshot();
    const nonFinite = firstNonFinite(snapshot.tensors);
    return nonFinite === null ? { state: encodeWeights(snapshot) } : { nonFinite };
  }

  private async stateSnapshot(): Promise<WeightsSnapshot> {
    this.refreshEmbeddings();
    const snapshot = this.model.snapshot();
    const item2vec = this.item2vec.exportState();
    const E = this.model.config.embeddingSize;
    const n = item2vec.counts.length;
    const extra: NamedTensor[] = [
      ...(await this.model.optimizerState()).map((t) => ({ ...t, name: `${OPTIMIZER}${t.name}` })),
      { name: `${ITEM2VEC}input`, shape: [n, E], values: item2vec.input },
      { name: `${ITEM2VEC}output`, shape: [n, E], values: item2vec.output },
      { name: `${ITEM2VEC}counts`, shape: [n], values: item2vec.counts },
    ];
    return { ...snapshot, tensors: [...snapshot.tensors, ...extra] };
  }

  /**
   * Restores checkpointState() into this trainer: a freshly made one (at start), or this one after its
   * training diverged (loop.ts). Its vocabulary may then have grown since the checkpoint (the checkpoint's
   * is a prefix of it: items are only ever added): items first seen since keep the item2vec rows they have.
   * The replay buffer, the held-out window and the counters are not part of a checkpoint and stay as they are.
   */
  async restoreState(bytes: Uint8Array): Promise<void> {
    const snapshot = decodeWeights(bytes);
    const own = (prefix: string) => snapshot.tensors.filter((t) => t.name.startsWith(prefix));
    const part = (name: string) => {
      const t = own(ITEM2VEC).find((x) => x.name === `${ITEM2VEC}${name}`);
      if (!t) throw new Error(`checkpoint lacks '${ITEM2VEC}${name}'`);
      return t.values;
    };
    const saved = { input: part('input'), output: part('output'), counts: part('counts') };
    const now = this.item2vec.exportState();
    this.model.load({ ...snapshot, tensors: snapshot.tensors.filter((t) => !t.name.startsWith(OPTIMIZER) && !t.name.startsWith(ITEM2VEC)) });
    await this.model.loadOptimizerState(own(OPTIMIZER).map((t) => ({ ...t, name: t.name.slice(OPTIMIZER.length) })));
    const items = this.vocabulary.size;
    const E = this.model.config.embeddingSize;
    // The checkpoint's rows, then (after a divergence) the rows of the items it does not know yet.
    const grown = (mine: Float32Array, theirs: Float32Array, width: number) => {
      if (mine.length >= items * width) return mine;
      const out = new Float32Array(items * width);
      out.set(theirs.subarray(0, items * width));
      out.set(mine);
      return out;
    };
    this.item2vec.importState({ input: grown(saved.input, now.input, E), output: grown(saved.output, now.output, E), counts: grown(saved.counts, now.counts, 1) });
    this.lastLosses = null;
    // The networks read embeddings derived from item2vec's vectors, exactly as before the checkpoint.
    this.refreshEmbeddings();
  }

  /** After a restart: transitions counted before it. */
  restoreCounters(transitionsSeen: number): void {
    this.received = transitionsSeen;
  }
}

/** FNV-1a of the user id: a stable split that needs no state. */
export function isHeldOutUser(userId: string, every: number): boolean {
  let h = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) h = Math.imul(h ^ userId.charCodeAt(i), 0x01000193);
  return (h >>> 0) % every === 0;
}

/** A model to score with, from published weights (the live version, for the publisher's comparison). */
export function servingModelFromWeights(bytes: Uint8Array): DeepChainModel {
  return deepChainFromWeights(bytes);
}
