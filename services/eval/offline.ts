/**
 * The offline test (paper §3.5.2, Algorithm 3; §4.1–4.2): split the logged views by time 80/20, train every
 * model on the first part, re-rank each test view's shown items per scenario and score the clicked ones
 * with NDCG@k and MAP; repeat over seeds and report mean and 95% t-interval. Nothing here reads the test
 * part before ranking it, and no setting is chosen by looking at test numbers.
 */
import { PAPER_SCENARIOS, selectBackend } from '../model/index.js';
import type { Scenario } from '../common/index.js';
import { attentionWeights, meanLastWeights, snapshotTensors } from './attention.js';
import { ItemSpace } from './item-space.js';
import { isRelevant, type PageView } from './logged-session.js';
import { averagePrecision, ndcgAt, relevanceOf } from './metrics.js';
import { observerOf, queryOf, type Ranker } from './ranker.js';
import { DdpgRanker } from './rankers/ddpg.js';
import { DeepChainRanker, type TrainingSummary } from './rankers/deepchain.js';
import { FmRanker } from './rankers/fm.js';
import { Gru4RecRanker } from './rankers/gru4rec.js';
import { MaRdpgRanker } from './rankers/ma-rdpg.js';
import { LoggedOrderRanker, PopularityRanker, RandomRanker } from './rankers/simple.js';
import { splitByTime } from './split.js';
import { tInterval, type Interval } from './stats.js';

export const MODEL_NAMES = ['DeepChain', 'DC-o', 'DC-f', 'FM', 'GRU4Rec', 'DDPG', 'MA-RDPG', 'logged', 'popularity', 'random'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export interface OfflineConfig {
  readonly seeds: readonly number[];
  readonly models: readonly ModelName[];
  readonly trainFraction: number;
  /** NDCG cut-off. */
  readonly k: number;
  /** N for every sequence model (DeepChain variants, GRU4Rec, DDPG, MA-RDPG, FM's history features). */
  readonly historyLength: number;
  readonly embedding: { readonly dimension: number; readonly epochs: number; readonly lists: boolean };
  readonly deepchain: {
    readonly hiddenSize: number;
    readonly attentionSize: number;
    readonly headHidden: readonly number[];
    readonly steps: number;
    readonly batchSize: number;
    readonly gamma: number;
    readonly tau: number;
    readonly learningRates: { readonly actor: number; readonly critic: number; readonly probability: number };
  };
  readonly baselines: {
    readonly hiddenSize: number;
    readonly mlpHidden: readonly number[];
    readonly steps: number;
    readonly gru4recEpochs: number;
    readonly fmEpochs: number;
    readonly fmFactors: number;
    readonly learningRate: number;
  };
  /** Compute Figure 8's attention weights from the first seed's DeepChain. */
  readonly attention: boolean;
}

export const DEFAULT_OFFLINE: OfflineConfig = Object.freeze({
  seeds: [1, 2, 3],
  models: MODEL_NAMES,
  trainFraction: 0.8,
  k: 10,
  historyLength: 20,
  embedding: { dimension: 20, epochs: 5, lists: false },
  deepchain: {
    hiddenSize: 32,
    attentionSize: 16,
    headHidden: [32],
    steps: 150,
    batchSize: 64,
    gamma: 0.95,
    tau: 0.05,
    learningRates: { actor: 1e-3, critic: 1e-3, probability: 1e-3 },
  },
  baselines: { hiddenSize: 32, mlpHidden: [64, 32], steps: 150, gru4recEpochs: 2, fmEpochs: 3, fmFactors: 8, learningRate: 1e-3 },
  attention: true,
});

export interface ScenarioScores {
  readonly ndcg: number;
  readonly map: number;
  /** Views scored (those with at least one clicked item). */
  readonly views: number;
}

export interface ModelResult {
  readonly name: ModelName;
  readonly perSeed: { seed: number; scores: Partial<Record<Scenario | 'all', ScenarioScores>>; training?: TrainingSummary }[];
  readonly summary: Partial<Record<Scenario | 'all', { ndcg: Interval; map: Interval; views: number }>>;
}

export interface AttentionFigure {
  readonly rows: { network: string; scenario: Scenario; weights: number[]; states: number }[];
  readonly last: number;
}

export interface OfflineResult {
  readonly config: OfflineConfig;
  readonly backend: string;
  readonly data: {
    views: number;
    trainViews: number;
    testViews: number;
    trainSessions: number;
    testSessions: number;
    cutoff: string | null;
    testViewsByScenario: Partial<Record<Scenario, number>>;
    /** Share of test views' shown items the training part never showed (an unknown item scores 0 / keeps its place). */
    coldItemShare: number;
    clickedItemsWithEmbedding: number;
  };
  readonly scenarios: readonly Scenario[];
  readonly models: ModelResult[];
  readonly attention: AttentionFigure | null;
}

export interface OfflineHooks {
  /** A task (model × seed) is training: done/total of its own steps. */
  readonly onProgress?: (task: { index: number; count: number; label: string }, done: number, total: number) => void;
  readonly log?: (message: string) => void;
}

export function makeRanker(name: ModelName, space: ItemSpace, c: OfflineConfig, seed: number): Ranker {
  const N = c.historyLength;
  const d = c.deepchain;
  const b = c.baselines;
  const dc = (target: 'graph' | 'model-free', sharedActor: boolean) =>
    new DeepChainRanker(space, {
      name, target, sharedActor, seed, steps: d.steps, batchSize: d.batchSize,
      model: { hiddenSize: d.hiddenSize, historyLength: N, attentionSize: d.attentionSize, headHidden: d.headHidden, gamma: d.gamma, tau: d.tau, learningRates: d.learningRates },
    });
  switch (name) {
    case 'DeepChain': return dc('graph', false);
    case 'DC-o': return dc('graph', true);
    case 'DC-f': return dc('model-free', false);
    case 'FM': return new FmRanker({ factors: b.fmFactors, epochs: b.fmEpochs, learningRate: 0.02, l2: 1e-5, historyLength: N, seed });
    case 'GRU4Rec': return new Gru4RecRanker(space, { historyLength: N, hiddenSize: b.hiddenSize, epochs: b.gru4recEpochs, batchSize: 64, negatives: 8, learningRate: 3e-3, seed });
    case 'DDPG': return new DdpgRanker(space, { historyLength: N, hidden: b.mlpHidden, steps: b.steps, batchSize: 64, gamma: d.gamma, tau: d.tau, learningRate: b.learningRate, seed });
    case 'MA-RDPG': return new MaRdpgRanker(space, { historyLength: N, hiddenSize: b.hiddenSize, hidden: b.mlpHidden, steps: b.steps, batchSize: 64, gamma: d.gamma, tau: d.tau, learningRate: b.learningRate, seed });
    case 'logged': return new LoggedOrderRanker();
    case 'popularity': return new PopularityRanker();
    case 'random': return new RandomRanker(seed);
  }
}

/** Scores one trained ranker on the test views (Algorithm 3 for each view), per scenario and overall. */
export function scoreRanker(ranker: Ranker, test: readonly PageView[], k: number): Partial<Record<Scenario | 'all', ScenarioScores>> {
  const acc = new Map<string, { ndcg: number; map: number; views: number }>();
  const add = (key: string, n: number, ap: number) => {
    const a = acc.get(key) ?? { ndcg: 0, map: 0, views: 0 };
    a.ndcg += n;
    a.map += ap;
    a.views++;
    acc.set(key, a);
  };
  for (const v of test) {
    const relevant = new Set(v.items.filter((it) => isRelevant(it.behaviour)).map((it) => it.id));
    if (relevant.size === 0) continue;
    const ranking = ranker.rank(queryOf(v), observerOf(v));
    if (ranking.length !== v.items.length || new Set(ranking).size !== ranking.length || !v.items.every((it) => ranking.includes(it.id))) {
      throw new Error(`${ranker.name} returned a ranking that is not a permutation of the shown items`);
    }
    const rel = relevanceOf(ranking, relevant);
    const n = ndcgAt(rel, k)!;
    const ap = averagePrecision(rel)!;
    add(v.scenario, n, ap);
    add('all', n, ap);
  }
  const out: Partial<Record<Scenario | 'all', ScenarioScores>> = {};
  for (const [key, a] of acc) out[key as Scenario | 'all'] = { ndcg: a.ndcg / a.views, map: a.map / a.views, views: a.views };
  return out;
}

function attentionFigure(r: DeepChainRanker, space: ItemSpace, test: readonly PageView[], last: number): AttentionFigure {
  const model = r.model!;
  const t = snapshotTensors(model.snapshot({ items: false }));
  const N = model.config.historyLength;
  const rows: AttentionFigure['rows'] = [];
  model.layout.scenarios.forEach((scenario, m) => {
    const states = test
      .filter((v) => v.scenario === scenario)
      .map((v) => space.historyIndices(v.history).slice(-N))
      .filter((s) => s.length >= last)
      .slice(0, 1500);
    const actorPrefix = model.config.sharedActor ? 'actor.shared' : `actor.${scenario}`;
    for (const [network, prefix, head] of [['actor', actorPrefix, 0], ['critic', 'critic', m]] as const) {
      const w = states.map((s) => attentionWeights(t, prefix, head, space.vectors, space.dimension, s));
      const { mean, states: n } = meanLastWeights(w, last);
      rows.push({ network, scenario, weights: mean, states: n });
    }
  });
  return { rows, last };
}

export async function runOffline(views: readonly PageView[], config: OfflineConfig, hooks: OfflineHooks = {}): Promise<OfflineResult> {
  const backend = await selectBackend({ onLog: (msg, f) => hooks.log?.(`${msg}: ${String(f.backend)}`) });
  const split = splitByTime(views, config.trainFraction);
  const test = split.test.filter((v) => PAPER_SCENARIOS.includes(v.scenario));
  const train = split.train.filter((v) => PAPER_SCENARIOS.includes(v.scenario));
  if (train.length === 0 || test.length === 0) throw new Error(`the split left ${train.length} training and ${test.length} test views; need both`);
  const trainItems = new Set(train.flatMap((v) => v.items.map((it) => it.id)));
  const testShown = test.flatMap((v) => v.items.map((it) => it.id));
  const byScenario: Partial<Record<Scenario, number>> = {};
  for (const v of test) byScenario[v.scenario] = (byScenario[v.scenario] ?? 0) + 1;
  const scenarios = PAPER_SCENARIOS.filter((s) => (byScenario[s] ?? 0) > 0);

  const results = new Map<ModelName, ModelResult>(config.models.map((m) => [m, { name: m, perSeed: [], summary: {} }]));
  const count = config.seeds.length * config.models.length;
  let index = 0;
  let attention: AttentionFigure | null = null;
  let clickedItemsWithEmbedding = 0;
  for (const seed of config.seeds) {
    const space = ItemSpace.train(train, { ...config.embedding, seed });
    clickedItemsWithEmbedding = space.clickedItems;
    for (const name of config.models) {
      const label = `${name} seed ${seed}`;
      const task = { index: ++index, count, label };
      const ranker = makeRanker(name, space, config, seed);
      try {
        await ranker.train(train, (done, total) => hooks.onProgress?.(task, done, total));
        const scores = scoreRanker(ranker, test, config.k);
        const training = ranker instanceof DeepChainRanker ? ranker.summary ?? undefined : undefined;
        results.get(name)!.perSeed.push(training ? { seed, scores, training } : { seed, scores });
        hooks.log?.(`${label}: ${scenarios.map((s) => `${s} NDCG@${config.k} ${scores[s]?.ndcg.toFixed(4)} MAP ${scores[s]?.map.toFixed(4)}`).join('; ')}`);
        if (config.attention && attention === null && name === 'DeepChain' && ranker instanceof DeepChainRanker) {
          attention = attentionFigure(ranker, space, test, 5);
        }
      } finally {
        ranker.dispose();
      }
    }
  }
  for (const r of results.values()) {
    for (const key of [...scenarios, 'all'] as const) {
      const seeds = r.perSeed.map((p) => p.scores[key]).filter((x): x is ScenarioScores => x !== undefined);
      if (seeds.length === 0) continue;
      r.summary[key] = { ndcg: tInterval(seeds.map((x) => x.ndcg)), map: tInterval(seeds.map((x) => x.map)), views: seeds[0]!.views };
    }
  }
  return {
    config,
    backend: backend.name,
    data: {
      views: views.length,
      trainViews: train.length,
      testViews: test.length,
      trainSessions: split.trainSessions,
      testSessions: split.testSessions,
      cutoff: split.cutoff === null ? null : new Date(split.cutoff).toISOString(),
      testViewsByScenario: byScenario,
      coldItemShare: testShown.filter((id) => !trainItems.has(id)).length / Math.max(1, testShown.length),
      clickedItemsWithEmbedding,
    },
    scenarios,
    models: [...results.values()],
    attention,
  };
}
