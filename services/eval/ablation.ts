/**
 * The ablation of DeepChain's levers, on validation data only: each row changes one thing against the row it
 * names, from the paper's configuration to the product's. Offline, every row trains on the trivago fitting part
 * and is scored on the validation part (the test part is not read), its length chosen by its own validation
 * curve; online, every row trains on the logs of a development world that is not one of the online test's worlds
 * and serves that world's users, paired with SKNN and the logging policy on the same sessions.
 */
import type { Scenario } from '../common/index.js';
import { PAPER_SCENARIOS, selectBackend, type DeepChainConfigInput } from '../model/index.js';
import { DEFAULT_WALK, runSessions, World, type WalkOptions } from '../simulator/index.js';
import { ItemSpace, type ItemSpaceOptions } from './item-space.js';
import type { PageView } from './logged-session.js';
import type { RankingMetric } from './metrics.js';
import type { OfflineConfig } from './offline.js';
import { loggingPolicy, rankerPolicy, sessionsToViews, type OnlineConfig } from './online.js';
import { pairedBootstrap, type PairedInterval } from './paired.js';
import { DeepChainRanker, type DeepChainRanking } from './rankers/deepchain.js';
import { HistoryFirstRanker } from './rankers/history-first.js';
import { SknnRanker } from './rankers/sknn.js';
import type { Ranker } from './ranker.js';
import { meansOf, metricOf, scoreViews, type MetricMeans, type ViewScores } from './scoring.js';
import { splitByTime } from './split.js';

export interface AblationRow {
  readonly name: string;
  /** What the row changes and why (one line in the report). */
  readonly change: string;
  readonly embedding: Pick<ItemSpaceOptions, 'epochs' | 'center' | 'lists'>;
  readonly model: Pick<DeepChainConfigInput, 'cloning' | 'target'>;
  readonly historyCodes: boolean;
  readonly ranking: DeepChainRanking;
}

const PAPER_EMBEDDING = { epochs: 5, center: false, lists: false };
const PRODUCT_EMBEDDING = { epochs: 20, center: true, lists: false };
const PRODUCT = { embedding: PRODUCT_EMBEDDING, model: { cloning: 2 }, historyCodes: true, ranking: 'actor' as const };

export const ABLATION_ROWS: readonly AblationRow[] = [
  {
    name: 'paper', change: 'DeepChain as the paper has it: Eq. 4 alone, item2vec on click sequences (5 epochs), unknown items zero',
    embedding: PAPER_EMBEDDING, model: { cloning: 0 }, historyCodes: false, ranking: 'actor',
  },
  {
    name: '+ behaviour cloning', change: 'paper + TD3+BC\'s cloning term (weight 2) towards the clicked item: keeps the actor on the logged data',
    embedding: PAPER_EMBEDDING, model: { cloning: 2 }, historyCodes: false, ranking: 'actor',
  },
  {
    name: '+ history codes', change: 'the row above + a fixed random vector for an unlearned item once it is in the state (as a streaming learner\'s new row)',
    embedding: PAPER_EMBEDDING, model: { cloning: 2 }, historyCodes: true, ranking: 'actor',
  },
  {
    name: 'product', change: 'the row above + item2vec trained 20 epochs and centred (the common direction removed): the product\'s defaults',
    ...PRODUCT,
  },
  { name: 'product, no cloning', change: 'product without the cloning term (Eq. 4 alone)', ...PRODUCT, model: { cloning: 0 } },
  { name: 'product, cloning 5', change: 'product with 2.5× the cloning weight', ...PRODUCT, model: { cloning: 5 } },
  { name: 'product, cloning 20', change: 'product with 10× the cloning weight (close to pure behaviour cloning)', ...PRODUCT, model: { cloning: 20 } },
  { name: 'product, DC-f target', change: 'product with the model-free target (the probability net out of Eq. 1)', ...PRODUCT, model: { cloning: 2, target: 'model-free' } },
  { name: 'product + shown lists', change: 'product + item2vec also on every shown list (an embedding for every item shown)', ...PRODUCT, embedding: { ...PRODUCT_EMBEDDING, lists: true } },
  { name: 'product + Wolpertinger', change: 'product, the proto-action\'s 20 nearest candidates re-ranked by the critic Q(s, e_k)', ...PRODUCT, ranking: 'critic' },
  { name: 'product + expected reward', change: 'product, the 20 nearest re-ranked by the probability net\'s expected immediate reward', ...PRODUCT, ranking: 'reward' },
];

/** Candidates a Wolpertinger row re-ranks. */
const NEIGHBOURS = 20;

export interface AblationSettings {
  readonly rows: readonly AblationRow[];
  /** Most Algorithm 1 steps of a row, and the spacing of its validation checkpoints (offline). */
  readonly steps: number;
  readonly every: number;
  readonly seed: number;
}

export const DEFAULT_ABLATION: AblationSettings = Object.freeze({ rows: ABLATION_ROWS, steps: 3000, every: 500, seed: 1 });

function buildRow(row: AblationRow, space: ItemSpace, sizes: OfflineConfig['sizes'], scenarios: readonly Scenario[], steps: number, seed: number): DeepChainRanker {
  const d = sizes.deepchain;
  return new DeepChainRanker(space, {
    name: row.name, target: row.model.target ?? 'graph', sharedActor: false, seed, steps, batchSize: d.batchSize,
    historyCodes: row.historyCodes, ranking: row.ranking, neighbours: NEIGHBOURS,
    model: {
      scenarios, hiddenSize: d.hiddenSize, historyLength: sizes.historyLength, attentionSize: d.attentionSize, headHidden: d.headHidden,
      gamma: d.gamma, tau: 0.01, learningRates: { actor: 1e-3, critic: 1e-3, probability: 1e-3 }, cloning: row.model.cloning ?? 0,
    },
  });
}

function spaceFor(row: AblationRow, views: readonly PageView[], config: OfflineConfig, seed: number, cache: Map<string, ItemSpace>): ItemSpace {
  const options = { dimension: config.embedding.dimension, seed, ...row.embedding };
  const key = JSON.stringify(options);
  let space = cache.get(key);
  if (!space) cache.set(key, (space = ItemSpace.train(views, options)));
  return space;
}

export interface OfflineAblationRow {
  readonly name: string;
  readonly change: string;
  /** Steps of the best validation checkpoint. */
  readonly steps: number;
  readonly curve: { steps: number; ndcg: number }[];
  readonly scores: Partial<Record<Scenario | 'all', MetricMeans>>;
  /** This row − history-first and − the paper row, NDCG@k over all validation views, paired. */
  readonly againstHistoryFirst: PairedInterval;
  readonly againstPaper: PairedInterval | null;
}

export interface OfflineAblationResult {
  readonly validationViews: number;
  readonly historyFirst: Partial<Record<Scenario | 'all', MetricMeans>>;
  readonly rows: OfflineAblationRow[];
}

const GROUPS = [...PAPER_SCENARIOS, 'all'] as const;

function byGroup(scores: ViewScores): Partial<Record<Scenario | 'all', MetricMeans>> {
  return Object.fromEntries(GROUPS.map((g) => [g, meansOf(scores, g)]).filter(([, m]) => m !== null));
}

export async function runOfflineAblation(
  views: readonly PageView[], config: OfflineConfig, settings: AblationSettings, log: (line: string) => void = () => {},
): Promise<OfflineAblationResult> {
  await selectBackend({});
  const train = splitByTime(views, config.trainFraction).train.filter((v) => PAPER_SCENARIOS.includes(v.scenario));
  const inner = splitByTime(train, 1 - config.validationFraction);
  const fit = inner.train;
  const validation = inner.test;
  const scenarios = PAPER_SCENARIOS.filter((s) => fit.some((v) => v.scenario === s));
  const hf = scoreViews(new HistoryFirstRanker(), validation, config.k);
  const ndcg = (s: ViewScores) => [metricOf(s, 'ndcg', 'all')];
  const cache = new Map<string, ItemSpace>();
  const rows: OfflineAblationRow[] = [];
  let paper: ViewScores | null = null;
  for (const row of settings.rows) {
    const ranker = buildRow(row, spaceFor(row, fit, config, settings.seed, cache), config.sizes, scenarios, settings.steps, settings.seed);
    const curve: { steps: number; ndcg: number }[] = [];
    let best: { steps: number; scores: ViewScores } | null = null;
    try {
      await ranker.train(fit, () => {}, {
        every: settings.every,
        at: (steps) => {
          const scores = scoreViews(ranker, validation, config.k);
          const value = meansOf(scores, 'all')?.ndcg ?? 0;
          curve.push({ steps, ndcg: value });
          if (best === null || value > (meansOf(best.scores, 'all')?.ndcg ?? 0)) best = { steps, scores };
          return true;
        },
      });
    } finally {
      ranker.dispose();
    }
    const chosen = best as { steps: number; scores: ViewScores } | null;
    if (!chosen) throw new Error(`${row.name}: no validation checkpoint`);
    if (row.name === 'paper') paper = chosen.scores;
    const result: OfflineAblationRow = {
      name: row.name, change: row.change, steps: chosen.steps, curve, scores: byGroup(chosen.scores),
      againstHistoryFirst: pairedBootstrap(ndcg(chosen.scores), ndcg(hf), config.bootstrap),
      againstPaper: paper && row.name !== 'paper' ? pairedBootstrap(ndcg(chosen.scores), ndcg(paper), config.bootstrap) : null,
    };
    rows.push(result);
    log(`${row.name}: validation NDCG@${config.k} ${result.scores.all?.ndcg.toFixed(4)} at ${chosen.steps} steps`);
  }
  return { validationViews: validation.length, historyFirst: byGroup(hf), rows };
}

export interface OnlineAblationRow {
  readonly name: string;
  readonly change: string;
  readonly reward: number;
  readonly againstSknn: PairedInterval;
  readonly againstLogging: PairedInterval;
  readonly againstPaper: PairedInterval | null;
}

export interface OnlineAblationResult {
  readonly world: number;
  readonly sessions: number;
  readonly steps: number;
  readonly sknn: number;
  readonly logging: number;
  readonly rows: OnlineAblationRow[];
}

/** Every row trained `steps` Algorithm 1 steps on one development world's logs, serving its users. */
export async function runOnlineAblation(
  config: OnlineConfig, settings: AblationSettings, log: (line: string) => void = () => {},
): Promise<OnlineAblationResult> {
  await selectBackend({});
  const seed = config.seeds[0]!;
  const walk: WalkOptions = { ...DEFAULT_WALK, ...config.walk };
  const { rewards, k } = config;
  const world = new World({ ...config.world, seed });
  const histories = new Map<string, string[]>();
  const logs = runSessions(world, loggingPolicy(world, walk, rewards, config.logEpsilon, seed), { sessions: config.logSessions, seed: seed * 1000 + 1, walk, k, rewards, histories, tag: 'log' });
  const views = sessionsToViews(logs);
  const scenarios = ([...new Set(views.map((v) => v.scenario))] as Scenario[]);
  const serve = (policy: Parameters<typeof runSessions>[1]) => Float64Array.from(
    runSessions(world, policy, { sessions: config.testSessions, seed: seed * 1000 + 2, walk, k, rewards, tag: 'test', histories: new Map([...histories].map(([u, h]) => [u, [...h]])) }),
    (s) => s.reward,
  );
  const mean = (xs: Float64Array) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const sknn: Ranker = new SknnRanker({ neighbours: 200, sampleSize: 1000, historyLength: config.training.sizes.historyLength });
  await sknn.train(views, () => {});
  const sknnRewards = serve(rankerPolicy(sknn));
  const loggingRewards = serve(loggingPolicy(world, walk, rewards, config.logEpsilon, seed + 500));
  const cache = new Map<string, ItemSpace>();
  const rows: OnlineAblationRow[] = [];
  let paper: Float64Array | null = null;
  for (const row of settings.rows) {
    const ranker = buildRow(row, spaceFor(row, views, config.training, settings.seed, cache), config.training.sizes, scenarios, settings.steps, settings.seed);
    let served: Float64Array;
    try {
      await ranker.train(views, () => {});
      served = serve(rankerPolicy(ranker));
    } finally {
      ranker.dispose();
    }
    if (row.name === 'paper') paper = served;
    const b = config.training.bootstrap;
    rows.push({
      name: row.name, change: row.change, reward: mean(served),
      againstSknn: pairedBootstrap([served], [sknnRewards], b),
      againstLogging: pairedBootstrap([served], [loggingRewards], b),
      againstPaper: paper && row.name !== 'paper' ? pairedBootstrap([served], [paper], b) : null,
    });
    log(`${row.name}: reward per session ${mean(served).toFixed(3)}`);
  }
  return { world: seed, sessions: config.testSessions, steps: settings.steps, sknn: mean(sknnRewards), logging: mean(loggingRewards), rows };
}

/** The report's list of what each row changes. */
function changesList(rows: readonly { name: string; change: string }[]): string[] {
  return ['## What each row changes', '', ...rows.map((x) => `- **${x.name}**: ${x.change}.`), ''];
}

const fmt = (d: PairedInterval | null) => (d ? `${d.mean >= 0 ? '+' : ''}${d.mean.toFixed(4)} [${d.low.toFixed(4)}, ${d.high.toFixed(4)}]` : '—');

export function offlineAblationMarkdown(r: OfflineAblationResult, k: number): string {
  const cell = (m: MetricMeans | undefined, metric: RankingMetric) => (m ? m[metric].toFixed(4) : '—');
  return [
    '# DeepChain ablation, offline (trivago validation part)',
    '',
    `${r.validationViews} validation views; every row trains on the fitting part, its length chosen by its own validation curve; ` +
      `NDCG@${k}; paired intervals over views. The test part is not read.`,
    '',
    `| row | steps | entrance NDCG / MRR | detail NDCG / MRR | all NDCG / MAP / MRR | − history-first (NDCG, paired 95%) | − paper (NDCG, paired 95%) |`,
    '| --- | --- | --- | --- | --- | --- | --- |',
    `| history-first | — | ${cell(r.historyFirst.entrance, 'ndcg')} / ${cell(r.historyFirst.entrance, 'mrr')} | ${cell(r.historyFirst.detail, 'ndcg')} / ${cell(r.historyFirst.detail, 'mrr')} | ${cell(r.historyFirst.all, 'ndcg')} / ${cell(r.historyFirst.all, 'map')} / ${cell(r.historyFirst.all, 'mrr')} | — | — |`,
    ...r.rows.map((x) =>
      `| ${x.name} | ${x.steps} | ${cell(x.scores.entrance, 'ndcg')} / ${cell(x.scores.entrance, 'mrr')} | ${cell(x.scores.detail, 'ndcg')} / ${cell(x.scores.detail, 'mrr')} | ${cell(x.scores.all, 'ndcg')} / ${cell(x.scores.all, 'map')} / ${cell(x.scores.all, 'mrr')} | ${fmt(x.againstHistoryFirst)} | ${fmt(x.againstPaper)} |`),
    '',
    ...changesList(r.rows),
  ].join('\n');
}

export function onlineAblationMarkdown(r: OnlineAblationResult): string {
  return [
    `# DeepChain ablation, online (development world ${r.world})`,
    '',
    `Every row trains ${r.steps} Algorithm 1 steps on the world's logs and serves the same ${r.sessions} users with the same random draws ` +
      `(common random numbers); SKNN ${r.sknn.toFixed(3)} and the logging policy ${r.logging.toFixed(3)} reward per session on the same sessions. ` +
      'This world is not one of the online test\'s worlds.',
    '',
    '| row | reward / session | − SKNN (paired 95%) | − logging policy | − paper |',
    '| --- | --- | --- | --- | --- |',
    ...r.rows.map((x) => `| ${x.name} | ${x.reward.toFixed(3)} | ${fmt(x.againstSknn)} | ${fmt(x.againstLogging)} | ${fmt(x.againstPaper)} |`),
    '',
    ...changesList(r.rows),
  ].join('\n');
}

