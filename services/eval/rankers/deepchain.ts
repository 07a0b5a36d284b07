/**
 * DeepChain and its variants (paper §4.3) as offline-test rankers, through the model library's public
 * entry point: DeepChain (Eq. 1 over the scenario graph), DC-o (one shared actor), DC-f (model-free
 * target). Training is Algorithm 1 off-policy on the training part's transitions (transitions.ts);
 * ranking is Algorithm 3 with the scenario's actor.
 */
import {
  createDeepChain, rankByScore, ReplayBuffer, scoreCandidates, seededRandom, toReplayRecord, TransitionRejected,
  type DeepChainConfigInput, type DeepChainModel, type TargetMode, type TrainStepResult,
} from '../../model/index.js';
import type { ItemSpace } from '../item-space.js';
import type { PageView } from '../logged-session.js';
import { algorithm3, checkpointDue, type Checkpoint, type Observe, type Progress, type RankQuery, type Ranker } from '../ranker.js';
import { viewsToTransitions } from '../transitions.js';

export interface DeepChainRankerOptions {
  readonly name: string;
  readonly target: TargetMode;
  readonly sharedActor: boolean;
  /** Sizes and rates (the runner's; embeddingSize comes from the item space). */
  readonly model: Omit<DeepChainConfigInput, 'target' | 'sharedActor' | 'seed' | 'embeddingSize'>;
  readonly steps: number;
  readonly batchSize: number;
  readonly seed: number;
  /**
   * How a page is ranked. 'actor': a_t · e_k (paper §3.2.2). Beyond the paper, the Wolpertinger refinement
   * (Dulac-Arnold et al. 2015): the `neighbours` best candidates by a_t · e_k re-ranked by a model-based value
   * of each, 'critic' Q(s, e_k) or 'reward' the probability net's expected immediate reward; the rest follow
   * in actor order.
   */
  readonly ranking?: DeepChainRanking;
  readonly neighbours?: number;
  /** Beyond the paper: history codes for items without a learned vector (ItemSpace.codedVectors). */
  readonly historyCodes: boolean;
}

export type DeepChainRanking = 'actor' | 'critic' | 'reward';

export interface TrainingSummary {
  readonly transitions: number;
  readonly rejected: number;
  readonly steps: number;
  /** Mean losses over the last 10% of the steps. */
  readonly final: Omit<TrainStepResult, 'flops'> | null;
}

export class DeepChainRanker implements Ranker {
  readonly name: string;
  model: DeepChainModel | null = null;
  summary: TrainingSummary | null = null;

  constructor(private readonly space: ItemSpace, readonly options: DeepChainRankerOptions) {
    this.name = options.name;
  }

  async train(views: readonly PageView[], onProgress: Progress, checkpoint?: Checkpoint): Promise<void> {
    const o = this.options;
    const model = createDeepChain(
      { ...o.model, embeddingSize: this.space.dimension, target: o.target, sharedActor: o.sharedActor, seed: o.seed },
      this.space.vocabulary,
    );
    model.setItemEmbeddings(o.historyCodes ? this.space.codedVectors() : this.space.vectors);
    const { transitions } = viewsToTransitions(views);
    const N = model.config.historyLength;
    const buffer = new ReplayBuffer(Math.max(1, transitions.length), N);
    let rejected = 0;
    for (const t of transitions) {
      try {
        buffer.add(toReplayRecord(t, this.space.vocabulary, model.layout, N));
      } catch (err) {
        if (!(err instanceof TransitionRejected)) throw err;
        rejected++;
      }
    }
    if (model.itemCount !== this.space.vocabulary.size) throw new Error('the item space lost items while converting transitions');
    const random = seededRandom(o.seed * 7919 + 1);
    // Losses of the last 10% of the steps run (a checkpoint may stop training before o.steps).
    const tail: TrainStepResult[] = [];
    const window = Math.max(1, Math.floor(o.steps * 0.1));
    this.model = model;
    for (let s = 0; s < o.steps && buffer.size > 0; s++) {
      const r = model.trainStep(buffer.sample(o.batchSize, random));
      if (![r.criticLoss, r.actorLoss, r.probabilityLoss].every(Number.isFinite)) throw new Error(`${this.name}: training diverged at step ${s + 1} (critic loss ${r.criticLoss})`);
      tail.push(r);
      if (tail.length > window) tail.shift();
      onProgress(s + 1, o.steps);
      if (checkpointDue(checkpoint, s + 1, o.steps) && !checkpoint.at(s + 1)) break;
    }
    const avg = (f: (r: TrainStepResult) => number) => tail.reduce((a, r) => a + f(r), 0) / tail.length;
    this.summary = {
      transitions: buffer.size,
      rejected,
      steps: model.stepCount,
      final: tail.length
        ? { criticLoss: avg((r) => r.criticLoss), actorLoss: avg((r) => r.actorLoss), probabilityLoss: avg((r) => r.probabilityLoss), meanTarget: avg((r) => r.meanTarget) }
        : null,
    };
  }

  rank(q: RankQuery, observe: Observe): string[] {
    if (!this.model) throw new Error(`${this.name} is not trained`);
    const ids = q.items.map((it) => it.id);
    return algorithm3(
      ids,
      q.history,
      (state) => this.scores(q.scenario, state, ids),
      (state, clicked) => [...state, clicked],
      observe,
    );
  }

  /** Scores of the candidates `ids` in a state (item ids, oldest first); higher is better. */
  scores(scenario: RankQuery['scenario'], state: readonly string[], ids: readonly string[]): Float32Array {
    const model = this.model!;
    const E = this.space.dimension;
    const codes = this.options.historyCodes;
    const rows = this.space.stateRows(state.slice(-model.config.historyLength), codes);
    const inState = new Set(state);
    const candidates = new Float32Array(ids.length * E);
    ids.forEach((id, i) => candidates.set(this.space.vectorOf(id, inState.has(id), codes), i * E));
    const scores = scoreCandidates(model.actOnRows(scenario, rows), candidates, ids.map((_, i) => i));
    const ranking = this.options.ranking ?? 'actor';
    if (ranking === 'actor') return scores;
    const top = rankByScore(scores, this.options.neighbours ?? ids.length);
    const topRows = new Float32Array(top.length * E);
    top.forEach((i, j) => topRows.set(candidates.subarray(i * E, i * E + E), j * E));
    const values = model.valueCandidates(ranking, scenario, rows, topRows);
    // Actor scores lie in [−1, 1]; the re-ranked neighbours go above them, best value first.
    const byValue = top.map((i, j) => ({ i, v: values[j]! })).sort((a, b) => b.v - a.v);
    byValue.forEach(({ i }, r) => (scores[i] = 2 + byValue.length - r));
    return scores;
  }

  dispose(): void {
    this.model?.dispose();
    this.model = null;
  }
}
