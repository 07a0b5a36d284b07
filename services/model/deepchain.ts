/**
 * The DeepChain model as the learner, the serving nodes and the evaluation use it: networks, item
 * embeddings, optimisers, Algorithm 1's training step, the fast single-user inference path, and weights
 * snapshots in the versioned format.
 */
import * as tf from '@tensorflow/tfjs';
import type { ActorWeights } from './actor.js';
import { Adam } from './adam.js';
import { resolveConfig, type DeepChainConfig, type DeepChainConfigInput, type ScenarioLayout } from './config.js';
import { protoAction, rankByScore, scoreCandidates, type ActorArrays } from './inference.js';
import { actorNames, actorOf, createNetworks, type DeepChainNetworks } from './networks.js';
import type { ReplayBatch } from './replay-buffer.js';
import { trainStep, type Optimizers, type TrainStepResult } from './train-step.js';
import { ItemVocabulary, PAD_INDEX } from './vocabulary.js';
import { decodeWeights, encodeWeights, WeightsFormatError, type NamedTensor, type WeightsSnapshot } from './weights-format.js';
import type { Scenario } from '../common/domain.js';
import { criticValue } from './critic.js';
import { encodeWithoutGradient, type EncoderWeights } from './encoder.js';
import { behaviourLogProbs, behaviourSlotBias } from './probability-net.js';

export const ITEM_EMBEDDINGS = 'items.embedding';

export class DeepChainModel {
  readonly config: DeepChainConfig;
  readonly layout: ScenarioLayout;
  readonly networks: DeepChainNetworks;
  readonly vocabulary: ItemVocabulary;
  private readonly optimizers: Optimizers;
  private embeddingTensor: tf.Tensor2D;
  private embeddingArray: Float32Array;
  private inference: (ActorArrays | undefined)[] = [];
  private steps = 0;

  constructor(config: DeepChainConfig, vocabulary = new ItemVocabulary()) {
    this.config = config;
    this.networks = createNetworks(config);
    this.layout = this.networks.layout;
    this.vocabulary = vocabulary;
    this.optimizers = {
      actor: new Adam(config.learningRates.actor),
      critic: new Adam(config.learningRates.critic),
      probability: new Adam(config.learningRates.probability),
    };
    this.embeddingArray = new Float32Array(config.embeddingSize);
    this.embeddingTensor = tf.zeros([1, config.embeddingSize]);
  }

  /** Training steps taken. */
  get stepCount(): number {
    return this.steps;
  }

  /** Items with an embedding row (padding included). */
  get itemCount(): number {
    return this.embeddingArray.length / this.config.embeddingSize;
  }

  /**
   * Replaces the item embeddings (row-major [items, E], e.g. Item2Vec.vectors()). Rows are scaled to unit
   * length (the model works on the unit sphere: actor.ts), so a_t · e_k is the cosine of footnote 2's
   * recall too; row 0 (padding) is forced to 0.
   */
  setItemEmbeddings(vectors: Float32Array): void {
    const E = this.config.embeddingSize;
    if (vectors.length % E !== 0 || vectors.length === 0) throw new Error(`item embeddings need a multiple of E = ${E} values, got ${vectors.length}`);
    const copy = Float32Array.from(vectors);
    for (let i = 0; i < copy.length; i += E) {
      let norm = 0;
      for (let e = 0; e < E; e++) norm += copy[i + e]! ** 2;
      if (norm > 0) for (let e = 0; e < E; e++) copy[i + e]! /= Math.sqrt(norm);
    }
    copy.fill(0, PAD_INDEX * E, PAD_INDEX * E + E);
    this.embeddingArray = copy;
    this.embeddingTensor.dispose();
    this.embeddingTensor = tf.tensor2d(copy, [copy.length / E, E]);
  }

  get itemEmbeddings(): Float32Array {
    return this.embeddingArray;
  }

  /** Algorithm 1 lines 10–14 on a sampled minibatch. */
  trainStep(batch: ReplayBatch): TrainStepResult {
    const result = trainStep(this.networks, this.optimizers, this.embeddingArray, batch);
    this.steps++;
    this.inference = [];
    return result;
  }

  private actorArrays(scenario: number): ActorArrays {
    const cached = this.inference[scenario];
    if (cached) return cached;
    const a: ActorWeights = actorOf(this.networks.online, scenario);
    const g = a.encoder.gru;
    const read = (v: tf.Variable) => v.dataSync() as Float32Array;
    const arrays: ActorArrays = {
      E: this.config.embeddingSize,
      H: this.config.hiddenSize,
      A: this.config.attentionSize,
      wr: read(g.wr), wz: read(g.wz), wn: read(g.wn),
      ur: read(g.ur), uz: read(g.uz), un: read(g.un),
      br: read(g.br), bz: read(g.bz), bn: read(g.bn), bhn: read(g.bhn),
      attW: read(a.encoder.attention.w), attB: read(a.encoder.attention.b), attV: read(a.encoder.attention.v),
      outW: read(a.outW), outB: read(a.outB),
    };
    this.inference[scenario] = arrays;
    return arrays;
  }

  private scenarioIndex(scenario: Scenario): number {
    const m = this.layout.scenarios.indexOf(scenario);
    if (m < 0) throw new Error(`scenario '${scenario}' has no agent in this model`);
    return m;
  }

  /** The proto-action a_t of the scenario's actor for one state (item indices, oldest first). */
  act(scenario: Scenario, state: ArrayLike<number>): Float32Array {
    const N = this.config.historyLength;
    const tail = state.length > N ? Array.prototype.slice.call(state, state.length - N) : state;
    return protoAction(this.actorArrays(this.scenarioIndex(scenario)), this.embeddingArray, tail);
  }

  /**
   * The proto-action for a state given as embedding rows ([L, E], oldest first) instead of item indices:
   * for an evaluation that gives items first seen at test time a vector the table does not hold.
   */
  actOnRows(scenario: Scenario, rows: Float32Array): Float32Array {
    const E = this.config.embeddingSize;
    const L = Math.min(rows.length / E, this.config.historyLength);
    const local = new Float32Array((L + 1) * E);
    local.set(rows.subarray(rows.length - L * E), E);
    return protoAction(this.actorArrays(this.scenarioIndex(scenario)), local, Array.from({ length: L }, (_, t) => t + 1));
  }

  /**
   * Model-based values of candidate actions in one state (rows as in actOnRows; candidates [K, E]):
   * - 'critic': Q(s, e_k, m), the global critic (paper §3.3) — the Wolpertinger refinement of DDPG in a
   *   large discrete action space (Dulac-Arnold et al. 2015) ranks the proto-action's neighbours by it;
   * - 'reward': Σ_b p_b(s, e_k) · r_b, the probability net's expected immediate reward (§3.4.1).
   */
  valueCandidates(kind: 'critic' | 'reward', scenario: Scenario, rows: Float32Array, candidates: Float32Array): Float32Array {
    if (kind === 'critic') return tf.tidy(() => criticValue(this.networks.online.critic, ...this.candidateInputs(this.networks.online.critic.encoder, scenario, rows, candidates)).dataSync() as Float32Array);
    const probs = this.behaviourProbabilities(scenario, rows, candidates);
    const behaviours = this.layout.behaviours[this.scenarioIndex(scenario)]!;
    const J = this.layout.maxBehaviours;
    return Float32Array.from({ length: candidates.length / this.config.embeddingSize }, (_, k) =>
      behaviours.reduce((sum, b, j) => sum + probs[k * J + j]! * this.config.rewards[b], 0));
  }

  /** p(b | s, e_k, m) of the probability net, [K, Bmax] row-major in the scenario's behaviour order (§3.4.1). */
  behaviourProbabilities(scenario: Scenario, rows: Float32Array, candidates: Float32Array): Float32Array {
    return tf.tidy(() => {
      const [p, action, scen] = this.candidateInputs(this.networks.probabilityNet.encoder, scenario, rows, candidates);
      return tf.exp(behaviourLogProbs(this.networks.probabilityNet, p, scen, action, behaviourSlotBias(this.layout))).dataSync() as Float32Array;
    });
  }

  /** One state encoded by `encoder` (the scenario's attention head) and repeated per candidate, the candidates, the one-hot. */
  private candidateInputs(encoder: EncoderWeights, scenario: Scenario, rows: Float32Array, candidates: Float32Array): [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D] {
    const E = this.config.embeddingSize;
    const N = this.config.historyLength;
    const m = this.scenarioIndex(scenario);
    const L = Math.min(rows.length / E, N);
    const K = candidates.length / E;
    const x = new Float32Array(N * E);
    x.set(rows.subarray(rows.length - L * E));
    const S = this.layout.scenarios.length;
    const oneHot = new Float32Array(K * S);
    for (let k = 0; k < K; k++) oneHot[k * S + m] = 1;
    const p = tf.tile(encodeWithoutGradient(encoder, { x, rows: 1, lengths: [L], heads: [m] }, N), [K, 1]) as tf.Tensor2D;
    return [p, tf.tensor2d(candidates, [K, E]), tf.tensor2d(oneHot, [K, S])];
  }

  /** Score_k = a_t · e_k for candidate item indices (paper §3.2.2). */
  score(proto: Float32Array, candidates: ArrayLike<number>): Float32Array {
    return scoreCandidates(proto, this.embeddingArray, candidates);
  }

  /** The k best candidates for a state, best first, with their scores. */
  recommend(scenario: Scenario, state: ArrayLike<number>, candidates: readonly number[], k: number): { item: number; score: number }[] {
    const scores = this.score(this.act(scenario, state), candidates);
    return rankByScore(scores, k).map((i) => ({ item: candidates[i]!, score: scores[i]! }));
  }

  /**
   * The Adam optimisers' state (step count and both moment estimates of every variable, adam.ts): a
   * learner checkpoint stores it so a restarted learner continues the same optimisation.
   */
  async optimizerState(): Promise<NamedTensor[]> {
    return (Object.entries(this.optimizers) as [string, Adam][]).flatMap(([key, optimizer]) =>
      optimizer.state().map((t) => ({ ...t, name: `${key}.${t.name}` })),
    );
  }

  /** Restores optimizerState(); an optimiser with no entries keeps its fresh state. */
  async loadOptimizerState(tensors: readonly NamedTensor[]): Promise<void> {
    for (const [key, optimizer] of Object.entries(this.optimizers) as [string, Adam][]) {
      const mine = tensors.filter((t) => t.name.startsWith(`${key}.`)).map((t) => ({ ...t, name: t.name.slice(key.length + 1) }));
      if (mine.length > 0) optimizer.loadState(mine);
    }
  }

  /** Every variable (online, target, probability net) and, unless excluded, the item embeddings. */
  snapshot(options: { items?: boolean; only?: 'actors' } = {}): WeightsSnapshot {
    const tensors: NamedTensor[] = [];
    for (const [name, v] of this.networks.store.variables) {
      if (options.only === 'actors' && !name.startsWith('actor.')) continue;
      tensors.push({ name, shape: v.shape, values: Float32Array.from(v.dataSync() as Float32Array) });
    }
    const items = options.items ?? true;
    if (items) tensors.push({ name: ITEM_EMBEDDINGS, shape: [this.itemCount, this.config.embeddingSize], values: Float32Array.from(this.embeddingArray) });
    return { config: this.config, tensors, vocabulary: items ? this.vocabulary.list() : null };
  }

  serialize(options: { items?: boolean; only?: 'actors' } = {}): Uint8Array {
    return encodeWeights(this.snapshot(options));
  }

  /**
   * Loads a snapshot's tensors into this model's variables (all-or-nothing: every shape is checked before
   * any variable changes). Tensors the snapshot lacks keep their values; unknown names are an error.
   */
  load(snapshot: WeightsSnapshot): void {
    const pending: [tf.Variable, NamedTensor][] = [];
    let items: NamedTensor | undefined;
    for (const t of snapshot.tensors) {
      if (t.name === ITEM_EMBEDDINGS) {
        if (t.shape.length !== 2 || t.shape[1] !== this.config.embeddingSize) {
          throw new WeightsFormatError('shape', `shape mismatch for '${t.name}': expected [*,${this.config.embeddingSize}], got [${t.shape.join(',')}]`);
        }
        items = t;
        continue;
      }
      const v = this.networks.store.variables.get(t.name);
      if (!v) throw new WeightsFormatError('shape', `unknown tensor '${t.name}' for this model`);
      if (v.shape.length !== t.shape.length || v.shape.some((d, i) => d !== t.shape[i])) {
        throw new WeightsFormatError('shape', `shape mismatch for '${t.name}': expected [${v.shape.join(',')}], got [${t.shape.join(',')}]`);
      }
      pending.push([v, t]);
    }
    for (const [v, t] of pending) tf.tidy(() => v.assign(tf.tensor(t.values, v.shape)));
    if (items) {
      const ids = snapshot.vocabulary ?? [];
      if (ids.length + 1 !== items.shape[0]) throw new WeightsFormatError('shape', `vocabulary lists ${ids.length} items but '${ITEM_EMBEDDINGS}' has ${items.shape[0]} rows`);
      ids.forEach((id, i) => {
        const at = this.vocabulary.add(id);
        if (at !== i + 1) throw new WeightsFormatError('shape', `item '${id}' is index ${at} here but ${i + 1} in the snapshot`);
      });
      this.setItemEmbeddings(items.values);
    }
    this.inference = [];
  }

  loadBytes(bytes: Uint8Array): void {
    this.load(decodeWeights(bytes));
  }

  dispose(): void {
    for (const v of this.networks.store.variables.values()) v.dispose();
    this.embeddingTensor.dispose();
  }

  /** Names of the actors in this model: scenario names, or ['shared'] for DC-o. */
  get actorNames(): string[] {
    return actorNames(this.config);
  }
}

export function createDeepChain(config: DeepChainConfigInput = {}, vocabulary?: ItemVocabulary): DeepChainModel {
  return new DeepChainModel(resolveConfig(config), vocabulary);
}

/** A model built from a weights file's own config, with its weights and items loaded. */
export function deepChainFromWeights(bytes: Uint8Array): DeepChainModel {
  const snapshot = decodeWeights(bytes);
  const model = new DeepChainModel(resolveConfig(snapshot.config as DeepChainConfigInput));
  model.load(snapshot);
  return model;
}
