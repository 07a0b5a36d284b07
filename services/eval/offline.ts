/**
 * The offline test (paper §3.5.2, Algorithm 3; §4.1–4.2): split the logged views by time 80/20 and carve a
 * validation part off the end of the training part (by time). Every model's hyper-parameters and training
 * length are chosen on validation (selection.ts, on the first seed), then each model trains on the whole
 * training part and re-ranks each test view's shown items; every view is scored with NDCG@k, MAP, MRR and
 * HR@k, per scenario. Over seeds: mean and 95% t-interval, and DeepChain against every other model paired
 * over the same test views (paired.ts). Nothing here reads the test part before ranking it.
 */
import { PAPER_SCENARIOS, selectBackend } from '../model/index.js';
import type { Scenario } from '../common/index.js';
import { attentionWeights, meanLastWeights, snapshotTensors } from './attention.js';
import { ItemSpace } from './item-space.js';
import type { PageView } from './logged-session.js';
import { RANKING_METRICS, type RankingMetric } from './metrics.js';
import { MODEL_NAMES, makeRanker, TRAINING_SPECS, type ModelName, type ModelSizes, type Params, type TrainingSpec } from './models.js';
import { DEFAULT_BOOTSTRAP, pairedBootstrap, type BootstrapOptions, type PairedInterval } from './paired.js';
import { DeepChainRanker, type TrainingSummary } from './rankers/deepchain.js';
import { diagnose, type ScenarioDiagnostics } from './diagnostics.js';
import type { Ranker } from './ranker.js';
import { meansOf, metricOf, scoreViews, type MetricMeans, type ViewScores } from './scoring.js';
import { selectOnValidation, type Selection } from './selection.js';
import { splitByTime } from './split.js';
import { tInterval, type Interval } from './stats.js';

export { MODEL_NAMES, type ModelName } from './models.js';

const DEEPCHAIN_VARIANTS: readonly ModelName[] = ['DeepChain', 'DC-paper', 'DC-o', 'DC-f'];

export interface OfflineConfig {
  readonly seeds: readonly number[];
  readonly models: readonly ModelName[];
  readonly trainFraction: number;
  /** Share of the training part's sessions (the latest) held out for validation. */
  readonly validationFraction: number;
  /** NDCG and HR cut-off. */
  readonly k: number;
  readonly sizes: Omit<ModelSizes, 'scenarios'>;
  readonly embedding: { readonly dimension: number; readonly epochs: number; readonly lists: boolean; readonly center: boolean };
  /** Multiplies every model's most training units (steps, epochs): 1 on 2 cores, more on a bigger machine. */
  readonly budget: number;
  /** Validation checkpoints in a row without a new best before a run stops. */
  readonly patience: number;
  readonly bootstrap: BootstrapOptions;
  /** Compute Figure 8's attention weights from the first seed's DeepChain. */
  readonly attention: boolean;
  /** Diagnose DeepChain and DC-paper on the validation part (diagnostics.ts). */
  readonly diagnostics: boolean;
}

export const DEFAULT_OFFLINE: OfflineConfig = Object.freeze({
  seeds: [1, 2, 3],
  models: MODEL_NAMES,
  trainFraction: 0.8,
  validationFraction: 0.15,
  k: 10,
  sizes: {
    historyLength: 20,
    deepchain: { hiddenSize: 32, attentionSize: 16, headHidden: [32], batchSize: 64, gamma: 0.95 },
    baselines: { hiddenSize: 32, mlpHidden: [64, 32], batchSize: 64, fmFactors: 8 },
  },
  embedding: { dimension: 20, epochs: 20, lists: false, center: true },
  budget: 1,
  patience: 3,
  bootstrap: DEFAULT_BOOTSTRAP,
  attention: true,
  diagnostics: true,
});

export interface Budget {
  readonly unit: TrainingSpec['unit'];
  /** Units the final model trained (chosen on validation). */
  readonly units: number;
  /** Minibatch size of step-based models (steps × batch = transitions sampled). */
  readonly batchSize: number | null;
  /** Wall time of the validation search (all grid points) and of one final training, mean over seeds. */
  readonly selectionMs: number;
  readonly finalMs: number;
}

export interface ModelResult {
  readonly name: ModelName;
  readonly selection: Selection;
  readonly budget: Budget;
  readonly perSeed: { seed: number; scores: Partial<Record<Scenario | 'all', MetricMeans>>; trainMs: number; training?: TrainingSummary }[];
  readonly summary: Partial<Record<Scenario | 'all', Record<RankingMetric, Interval> & { views: number }>>;
}

export interface PairedComparison {
  /** DeepChain against this model: interval of DeepChain − model. */
  readonly model: ModelName;
  readonly scenario: Scenario | 'all';
  readonly metric: RankingMetric;
  readonly difference: PairedInterval;
  readonly standing: PairedInterval['standing'];
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
    fitViews: number;
    validationViews: number;
    testViews: number;
    trainSessions: number;
    validationSessions: number;
    testSessions: number;
    cutoff: string | null;
    validationCutoff: string | null;
    testViewsByScenario: Partial<Record<Scenario, number>>;
    /** Share of test views' shown items the training part never showed (an unknown item scores 0 / keeps its place). */
    coldItemShare: number;
    clickedItemsWithEmbedding: number;
  };
  readonly scenarios: readonly Scenario[];
  readonly models: ModelResult[];
  readonly comparisons: PairedComparison[];
  readonly attention: AttentionFigure | null;
  readonly diagnostics: ModelDiagnostics[];
}

export interface ModelDiagnostics {
  readonly model: ModelName;
  readonly rows: ScenarioDiagnostics[];
}

export interface OfflineHooks {
  /** A task (a model's validation search, or a model × seed) is training: done/total of its own units. */
  readonly onProgress?: (task: { index: number; count: number; label: string }, done: number, total: number) => void;
  readonly log?: (message: string) => void;
}

/** A model's training spec with `--budget` applied to its most units. */
export function budgeted(spec: TrainingSpec, budget: number): TrainingSpec {
  if (spec.unit === null) return spec;
  return { ...spec, maxUnits: Math.max(1, Math.round(spec.maxUnits * budget)), every: Math.max(1, Math.round(spec.every * budget)) };
}

/** DeepChain (or `reference`) against every other model, per scenario and metric, paired over the same units. */
export function pairedComparisons(
  scores: ReadonlyMap<ModelName, readonly ViewScores[]>, scenarios: readonly (Scenario | 'all')[], bootstrap: BootstrapOptions, reference: ModelName = 'DeepChain',
): PairedComparison[] {
  const ref = scores.get(reference);
  if (!ref) return [];
  const out: PairedComparison[] = [];
  for (const [model, other] of scores) {
    if (model === reference) continue;
    for (const scenario of scenarios) {
      for (const metric of RANKING_METRICS) {
        const a = ref.map((s) => metricOf(s, metric, scenario));
        const b = other.map((s) => metricOf(s, metric, scenario));
        if (a[0]!.length === 0) continue;
        const difference = pairedBootstrap(a, b, bootstrap);
        out.push({ model, scenario, metric, difference, standing: difference.standing });
      }
    }
  }
  return out;
}

function attentionFigure(r: DeepChainRanker, space: ItemSpace, test: readonly PageView[], last: number): AttentionFigure {
  const model = r.model!;
  const t = snapshotTensors(model.snapshot({ items: false }));
  const N = model.config.historyLength;
  const rows: AttentionFigure['rows'] = [];
  const table = r.options.historyCodes ? space.codedVectors() : space.vectors;
  model.layout.scenarios.forEach((scenario, m) => {
    const states = test
      .filter((v) => v.scenario === scenario)
      .map((v) => space.historyIndices(v.history).slice(-N))
      .filter((s) => s.length >= last)
      .slice(0, 1500);
    const actorPrefix = model.config.sharedActor ? 'actor.shared' : `actor.${scenario}`;
    for (const [network, prefix, head] of [['actor', actorPrefix, 0], ['critic', 'critic', m]] as const) {
      const w = states.map((s) => attentionWeights(t, prefix, head, table, space.dimension, s));
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
  const inner = splitByTime(train, 1 - config.validationFraction);
  if (inner.train.length === 0 || inner.test.length === 0) throw new Error(`the validation split left ${inner.train.length} fitting and ${inner.test.length} validation views; need both`);
  const trainItems = new Set(train.flatMap((v) => v.items.map((it) => it.id)));
  const testShown = test.flatMap((v) => v.items.map((it) => it.id));
  const byScenario: Partial<Record<Scenario, number>> = {};
  for (const v of test) byScenario[v.scenario] = (byScenario[v.scenario] ?? 0) + 1;
  const scenarios = PAPER_SCENARIOS.filter((s) => (byScenario[s] ?? 0) > 0);
  const sizes: ModelSizes = { ...config.sizes, scenarios };

  const trained = await trainAndScore({ config, sizes, fit: inner.train, validation: inner.test, train, test, hooks });
  const groups = [...scenarios, 'all' as const];
  const models: ModelResult[] = trained.models.map((m) => ({
    ...m,
    perSeed: m.perSeed.map(({ views: scored, ...p }) => ({ ...p, scores: meansByGroup(scored, groups) })),
    summary: summarise(m.perSeed.map((p) => p.views), groups),
  }));
  const first = trained.firstDeepChain;
  const attention = config.attention && first ? attentionFigure(first.ranker, first.space, test, 5) : null;
  first?.ranker.dispose();
  const diagnostics = config.diagnostics ? await diagnoseOnValidation(trained.models, sizes, config, inner.train, inner.test) : [];
  return {
    config,
    backend: backend.name,
    data: {
      views: views.length,
      trainViews: train.length,
      fitViews: inner.train.length,
      validationViews: inner.test.length,
      testViews: test.length,
      trainSessions: split.trainSessions,
      validationSessions: inner.testSessions,
      testSessions: split.testSessions,
      cutoff: split.cutoff === null ? null : new Date(split.cutoff).toISOString(),
      validationCutoff: inner.cutoff === null ? null : new Date(inner.cutoff).toISOString(),
      testViewsByScenario: byScenario,
      coldItemShare: testShown.filter((id) => !trainItems.has(id)).length / Math.max(1, testShown.length),
      clickedItemsWithEmbedding: trained.clickedItemsWithEmbedding,
    },
    scenarios,
    models,
    comparisons: pairedComparisons(new Map(trained.models.map((m) => [m.name, m.perSeed.map((p) => p.views)])), groups, config.bootstrap),
    attention,
    diagnostics,
  };
}

/**
 * DeepChain and DC-paper once more on the fitting part with their chosen settings (first seed), diagnosed on
 * the validation part: the test part is not looked at.
 */
export async function diagnoseOnValidation(
  models: readonly { name: ModelName; selection: Selection }[], sizes: ModelSizes, config: OfflineConfig, fit: readonly PageView[], validation: readonly PageView[],
): Promise<ModelDiagnostics[]> {
  const seed = config.seeds[0]!;
  const diagnosed = models.filter((m) => m.name === 'DeepChain' || m.name === 'DC-paper');
  if (diagnosed.length === 0) return [];
  const space = ItemSpace.train(fit, { ...config.embedding, seed });
  const out: ModelDiagnostics[] = [];
  for (const { name, selection } of diagnosed) {
    const ranker = makeRanker(name, space, sizes, selection.chosen.params, selection.chosen.units, seed);
    try {
      await ranker.train(fit, () => {});
      if (!(ranker instanceof DeepChainRanker)) continue;
      out.push({ model: name, rows: diagnose({ ranker, space, historyCodes: ranker.options.historyCodes, train: fit, views: validation, maxTransitions: 1500 }) });
    } finally {
      ranker.dispose();
    }
  }
  return out;
}

function meansByGroup(scores: ViewScores, groups: readonly (Scenario | 'all')[]): Partial<Record<Scenario | 'all', MetricMeans>> {
  const out: Partial<Record<Scenario | 'all', MetricMeans>> = {};
  for (const g of groups) {
    const m = meansOf(scores, g);
    if (m) out[g] = m;
  }
  return out;
}

/** Mean and 95% t-interval over seeds of each metric's per-seed mean. */
export function summarise(perSeed: readonly ViewScores[], groups: readonly (Scenario | 'all')[]): ModelResult['summary'] {
  const out: ModelResult['summary'] = {};
  for (const g of groups) {
    const means = perSeed.map((s) => meansOf(s, g)).filter((m): m is MetricMeans => m !== null);
    if (means.length === 0) continue;
    out[g] = { ...(Object.fromEntries(RANKING_METRICS.map((m) => [m, tInterval(means.map((x) => x[m]))])) as Record<RankingMetric, Interval>), views: means[0]!.views };
  }
  return out;
}

interface TrainInput {
  readonly config: OfflineConfig;
  readonly sizes: ModelSizes;
  readonly fit: readonly PageView[];
  readonly validation: readonly PageView[];
  readonly train: readonly PageView[];
  readonly test: readonly PageView[];
  readonly hooks: OfflineHooks;
  /** Choices made earlier (the validation search is skipped for these models). */
  readonly chosen?: ReadonlyMap<ModelName, Selection>;
  /** Sees each final model once it has trained, before it is disposed (the online test serves with it). */
  readonly onTrained?: (name: ModelName, ranker: Ranker) => void;
}

interface Trained {
  readonly models: (Omit<ModelResult, 'summary' | 'perSeed'> & { perSeed: (ModelResult['perSeed'][number] & { views: ViewScores })[] })[];
  readonly clickedItemsWithEmbedding: number;
  /** The first seed's DeepChain, kept for Figure 8 (the caller disposes it). */
  readonly firstDeepChain: { ranker: DeepChainRanker; space: ItemSpace } | null;
}

/**
 * The protocol both tests share: per model, the validation search on the first seed (item space from the
 * fitting part only), then per seed the final model on the whole training part with the chosen grid point
 * and length, scored on the test views.
 */
export async function trainAndScore(input: TrainInput): Promise<Trained> {
  const { config, sizes, hooks } = input;
  const count = config.models.length * (1 + config.seeds.length);
  let index = 0;
  const firstSeed = config.seeds[0]!;
  // The validation search's item space (fitting part only), built once a model needs its search.
  let fitSpace: ItemSpace | null = null;
  const selections = new Map<ModelName, Selection>();
  const selectionMs = new Map<ModelName, number>();
  for (const name of config.models) {
    const task = { index: ++index, count, label: `${name} validation` };
    const earlier = input.chosen?.get(name);
    if (earlier) {
      selections.set(name, earlier);
      selectionMs.set(name, 0);
      continue;
    }
    const started = Date.now();
    const selection = await selectOnValidation({
      model: name,
      spec: budgeted(TRAINING_SPECS[name], config.budget),
      build: (params: Params, units: number) => makeRanker(name, (fitSpace ??= ItemSpace.train(input.fit, { ...config.embedding, seed: firstSeed })), sizes, params, units, firstSeed),
      fit: input.fit,
      validation: input.validation,
      k: config.k,
      patience: config.patience,
      onProgress: (d, t) => hooks.onProgress?.(task, d, t),
    });
    selections.set(name, selection);
    selectionMs.set(name, Date.now() - started);
    hooks.log?.(`${name}: chose ${JSON.stringify(selection.chosen.params)}, ${selection.chosen.units} ${selection.unit ?? 'fit'} (validation ${selection.chosen.validation.toFixed(4)})`);
  }
  const perSeed = new Map<ModelName, Trained['models'][number]['perSeed']>(config.models.map((m) => [m, []]));
  let clickedItemsWithEmbedding = 0;
  let firstDeepChain: Trained['firstDeepChain'] = null;
  for (const seed of config.seeds) {
    const space = ItemSpace.train(input.train, { ...config.embedding, seed });
    clickedItemsWithEmbedding = space.clickedItems;
    for (const name of config.models) {
      const chosen = selections.get(name)!.chosen;
      const task = { index: ++index, count, label: `${name} seed ${seed}` };
      const ranker = makeRanker(name, space, sizes, chosen.params, chosen.units, seed);
      let keep = false;
      try {
        const started = Date.now();
        await ranker.train(input.train, (d, t) => hooks.onProgress?.(task, d, t));
        const trainMs = Date.now() - started;
        input.onTrained?.(name, ranker);
        const views = scoreViews(ranker, input.test, config.k);
        const training = ranker instanceof DeepChainRanker ? ranker.summary ?? undefined : undefined;
        perSeed.get(name)!.push({ seed, scores: {}, trainMs, views, ...(training ? { training } : {}) });
        const all = meansOf(views, 'all');
        if (all) hooks.log?.(`${task.label}: ${RANKING_METRICS.map((m) => `${m} ${all[m].toFixed(4)}`).join(', ')}`);
        if (config.attention && firstDeepChain === null && name === 'DeepChain' && ranker instanceof DeepChainRanker) {
          firstDeepChain = { ranker, space };
          keep = true;
        }
      } finally {
        if (!keep) ranker.dispose();
      }
    }
  }
  return {
    models: config.models.map((name) => {
      const selection = selections.get(name)!;
      const seeds = perSeed.get(name)!;
      const spec = TRAINING_SPECS[name];
      return {
        name,
        selection,
        budget: {
          unit: spec.unit,
          units: selection.chosen.units,
          batchSize: spec.unit === 'steps' ? (DEEPCHAIN_VARIANTS.includes(name) ? sizes.deepchain.batchSize : sizes.baselines.batchSize) : null,
          selectionMs: selectionMs.get(name)!,
          finalMs: seeds.reduce((a, p) => a + p.trainMs, 0) / Math.max(1, seeds.length),
        },
        perSeed: seeds,
      };
    }),
    clickedItemsWithEmbedding,
    firstDeepChain,
  };
}
