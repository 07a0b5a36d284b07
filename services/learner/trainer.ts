/**
 * The online learner's core, free of Kafka and Postgres: transitions in, Algorithm 1 steps out. It owns
 * the replay buffer D (line 8), the item embeddings (item2vec over click sequences, DESIGN.md §2), the
 * DeepChain networks, and a held-out window of recent transitions the publisher validates against.
 */
import type { Transition } from '../common/index.js';
import {
  createDeepChain, deepChainFromWeights, Item2Vec, ItemVocabulary, ReplayBuffer, seededRandom, toReplayRecord,
  TransitionRejected, type DeepChainConfigInput, type DeepChainModel, type TrainStepResult,
} from '../model/index.js';

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
      let record;
      try {
        record = toReplayRecord(t, this.vocabulary, this.model.layout, this.model.config.historyLength);
      } catch (err) {
        if (!(err instanceof TransitionRejected)) throw err;
        result.rejected.push({ transition: t, reason: err.reason });
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

  /** Copies the item2vec vectors into the networks (all rows, new items included). */
  refreshEmbeddings(): void {
    this.model.setItemEmbeddings(this.item2vec.vectors());
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

  /** Every network (online, target, probability net) and the embeddings: the checkpoint's model part. */
  checkpointWeights(): Uint8Array {
    this.refreshEmbeddings();
    return this.model.serialize();
  }

  /** After a restart: transitions counted before it. */
  restoreCounters(transitionsSeen: number): void {
    this.received = transitionsSeen;
  }

  /** Restores the networks and embeddings of a checkpoint. */
  restoreWeights(bytes: Uint8Array): void {
    this.model.loadBytes(bytes);
    this.item2vec.train([]);
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
