/**
 * The online test (paper §3.5.1, Algorithm 2; §4.3) on the simulator (services/simulator), all four
 * scenarios of Figure 1 on. Per seed: a world; sessions walked under an exploring logging policy become
 * logged views; every model's settings are chosen on the latest logged sessions (the validation part, by
 * time: selection.ts, as offline), then it trains on all the logs and serves test sessions of the same
 * users on its own: the scenario's agent ranks the whole catalogue for each page (line 5 or 7) and the user
 * reacts (line 9). Test session i of every model faces the same user with the same random draws (common
 * random numbers, walk-session.ts), so models are compared session by session (paired.ts). Reported: reward
 * per session (click, skip, leave and purchase rewards of the simulator), clicks, purchases and pages.
 *
 * The walk runs in process (no serving node, Kafka or SDK: those are the demo's). Models train once on the
 * logs and serve without learning further (the paper's online test deploys trained actors).
 */
import { SCENARIOS, type Rewards, type Scenario } from '../common/index.js';
import { selectBackend } from '../model/index.js';
import {
  DEFAULT_WALK, fork, oraclePolicy, runSessions, World,
  type PagePolicy, type PageRecord, type SessionOutcome, type WalkOptions, type WorldOptions,
} from '../simulator/index.js';
import type { PageView, ShownItem } from './logged-session.js';
import type { ModelName, ModelSizes } from './models.js';
import { trainAndScore, type Budget, type OfflineConfig, type OfflineHooks } from './offline.js';
import { pairedBootstrap, type PairedInterval } from './paired.js';
import type { Ranker } from './ranker.js';
import type { Selection } from './selection.js';
import { splitByTime } from './split.js';
import { tInterval, type Interval } from './stats.js';

export const LOGGING_POLICY = 'logging policy';

export interface OnlineConfig {
  readonly seeds: readonly number[];
  readonly models: readonly ModelName[];
  readonly world: Partial<WorldOptions>;
  readonly walk: Partial<WalkOptions>;
  readonly rewards: Rewards;
  /** Items per page. */
  readonly k: number;
  /** Sessions logged under the logging policy (the training data), per seed. */
  readonly logSessions: number;
  /** Per slot, the logging policy shows a uniformly random candidate with this probability (exploration). */
  readonly logEpsilon: number;
  /** Sessions each model serves, per seed. */
  readonly testSessions: number;
  /** At most this many of the validation part's views are scored at each checkpoint (evenly spread). */
  readonly maxValidationViews: number;
  /** Sizes, embedding, budget, patience, validation share and bootstrap (the offline test's). */
  readonly training: OfflineConfig;
}

export const DEFAULT_ONLINE_COUNTS = Object.freeze({ seeds: 5, logSessions: 5000, testSessions: 1000, k: 5, logEpsilon: 0.5, maxValidationViews: 2000, budget: 1 });

export interface OnlineSessionStats {
  readonly reward: number;
  readonly clicks: number;
  readonly purchases: number;
  readonly pages: number;
}

export interface OnlineModelResult {
  readonly name: ModelName | typeof LOGGING_POLICY;
  readonly perSeed: { seed: number; reward: number; clicks: number; purchases: number; pages: number; sessions: number }[];
  readonly summary: { reward: Interval; clicks: Interval; purchases: Interval; pages: Interval } | null;
  readonly selection: Selection | null;
  readonly budget: Budget | null;
}

export interface OnlineComparison {
  /** DeepChain − model, reward per session, paired over test sessions (seeds pooled). */
  readonly model: string;
  readonly metric: 'reward';
  readonly difference: PairedInterval;
  readonly standing: PairedInterval['standing'];
}

export interface OnlineResult {
  readonly config: OnlineConfig;
  readonly backend: string;
  readonly logged: { sessions: number; views: number; clicks: number; purchases: number; reward: number };
  readonly models: OnlineModelResult[];
  readonly comparisons: OnlineComparison[];
}

/** A walked page as a logged view: skips before the click, the click, a leave on the last item shown. */
export function pageView(record: PageRecord, time: number): PageView {
  const { request, shown, result } = record;
  const left = result.actions.some((a) => a.type === 'leave');
  const items: ShownItem[] = shown.map((id, i) => ({
    id,
    behaviour: result.clicked === i ? 'click' : left && i === shown.length - 1 ? 'leave' : 'skip',
  }));
  return {
    userId: request.userId, sessionId: request.sessionId, time, step: request.step, scenario: request.scenario,
    history: request.history, context: request.context, items,
  };
}

/** Every page of the sessions as logged views, times increasing in session order. */
export function sessionsToViews(sessions: readonly SessionOutcome[], start = 0): PageView[] {
  let time = start;
  return sessions.flatMap((s) => s.records.map((r) => pageView(r, ++time)));
}

/**
 * The exploring logging policy: a production ranker that knows each user's interests but not the chain
 * (the simulator's shared one-page oracle), with every slot replaced by a uniformly random candidate with
 * probability ε. It draws from its own stream, not the users'.
 */
export function loggingPolicy(world: World, walk: WalkOptions, rewards: Rewards, epsilon: number, seed: number): PagePolicy {
  const ranked = oraclePolicy(world, { objective: 'shared', lookahead: false }, walk, rewards);
  const random = fork(seed, 31);
  return (request) => {
    const best = ranked(request);
    const shown: string[] = [];
    const taken = new Set<string>();
    let next = 0;
    while (shown.length < request.k && shown.length < request.candidates.length) {
      let id: string;
      if (random() < epsilon) {
        do id = request.candidates[Math.floor(random() * request.candidates.length)]!;
        while (taken.has(id));
      } else {
        while (taken.has(best[next]!)) next++;
        id = best[next++]!;
      }
      taken.add(id);
      shown.push(id);
    }
    return shown;
  };
}

/** A trained ranker as a page policy: it ranks the candidates with no feedback within the page (Algorithm 2). */
export function rankerPolicy(ranker: Ranker): PagePolicy {
  return (r) => ranker.rank(
    { userId: r.userId, sessionId: r.sessionId, time: r.step, scenario: r.scenario, history: r.history, context: r.context, items: r.candidates.map((id) => ({ id })) },
    () => 'skip',
  ).slice(0, r.k);
}

function statsOf(sessions: readonly SessionOutcome[]): OnlineSessionStats[] {
  return sessions.map((s) => ({ reward: s.reward, clicks: s.clicks, purchases: s.purchases, pages: s.pages }));
}

function cloneHistories(h: ReadonlyMap<string, string[]>): Map<string, string[]> {
  return new Map([...h].map(([k, v]) => [k, [...v]]));
}

/** Evenly spread views, at most `max`. */
function spread<T>(xs: readonly T[], max: number): T[] {
  if (xs.length <= max) return [...xs];
  return Array.from({ length: max }, (_, i) => xs[Math.floor((i * xs.length) / max)]!);
}

export async function runOnline(config: OnlineConfig, hooks: OfflineHooks = {}): Promise<OnlineResult> {
  const backend = await selectBackend({ onLog: (msg, f) => hooks.log?.(`${msg}: ${String(f.backend)}`) });
  const walk: WalkOptions = { ...DEFAULT_WALK, ...config.walk };
  const rewards = config.rewards;
  const names: (ModelName | typeof LOGGING_POLICY)[] = [LOGGING_POLICY, ...config.models];
  const perSeed = new Map(names.map((n) => [n, [] as OnlineModelResult['perSeed']]));
  const sessionRewards = new Map(names.map((n) => [n, [] as Float64Array[]]));
  const selections = new Map<string, { selection: Selection; budget: Budget }>();
  let logged = { sessions: 0, views: 0, clicks: 0, purchases: 0, reward: 0 };
  const seedCount = config.seeds.length;
  for (const [si, seed] of config.seeds.entries()) {
    const world = new World({ ...config.world, seed });
    const logHistories = new Map<string, string[]>();
    const logPolicy = loggingPolicy(world, walk, rewards, config.logEpsilon, seed);
    const log = runSessions(world, logPolicy, { sessions: config.logSessions, seed: seed * 1000 + 1, walk, k: config.k, rewards, histories: logHistories, tag: 'log' });
    const views = sessionsToViews(log);
    logged = {
      sessions: log.length, views: views.length,
      clicks: log.reduce((a, s) => a + s.clicks, 0), purchases: log.reduce((a, s) => a + s.purchases, 0),
      reward: log.reduce((a, s) => a + s.reward, 0) / Math.max(1, log.length),
    };
    const inner = splitByTime(views, 1 - config.training.validationFraction);
    const scenarios: Scenario[] = SCENARIOS.filter((s) => views.some((v) => v.scenario === s));
    const sizes: ModelSizes = { ...config.training.sizes, scenarios };
    // Test sessions: the same seed for every policy (common random numbers), histories as the logs left them.
    const testOptions = { sessions: config.testSessions, seed: seed * 1000 + 2, walk, k: config.k, rewards, tag: 'test' };
    const record = (name: ModelName | typeof LOGGING_POLICY, sessions: readonly SessionOutcome[]) => {
      const stats = statsOf(sessions);
      const n = stats.length;
      const mean = (f: (s: OnlineSessionStats) => number) => stats.reduce((a, s) => a + f(s), 0) / n;
      perSeed.get(name)!.push({ seed, sessions: n, reward: mean((s) => s.reward), clicks: mean((s) => s.clicks), purchases: mean((s) => s.purchases), pages: mean((s) => s.pages) });
      sessionRewards.get(name)!.push(Float64Array.from(stats, (s) => s.reward));
    };
    record(LOGGING_POLICY, runSessions(world, loggingPolicy(world, walk, rewards, config.logEpsilon, seed + 500), { ...testOptions, histories: cloneHistories(logHistories) }));
    // Validation choices are made on the first seed's logs and kept for the others (as offline).
    const trained = await trainAndScore({
      config: { ...config.training, seeds: [seed], models: config.models, attention: false },
      sizes,
      fit: inner.train,
      validation: spread(inner.test, config.maxValidationViews),
      train: views,
      test: [],
      hooks: {
        log: hooks.log,
        onProgress: hooks.onProgress ? (t, d, n) => hooks.onProgress!({ index: si * t.count + t.index, count: seedCount * t.count, label: `world ${seed}: ${t.label}` }, d, n) : undefined,
      },
      chosen: si === 0 ? undefined : new Map([...selections].map(([n, s]) => [n as ModelName, s.selection])),
      onTrained: (name, ranker) => {
        const served = runSessions(world, rankerPolicy(ranker), { ...testOptions, histories: cloneHistories(logHistories) });
        record(name, served);
        const last = perSeed.get(name)!.at(-1)!;
        hooks.log?.(`${name} world ${seed}: reward/session ${last.reward.toFixed(3)}, clicks ${last.clicks.toFixed(3)}, purchases ${last.purchases.toFixed(3)}, pages ${last.pages.toFixed(2)}`);
      },
    });
    for (const m of trained.models) if (si === 0) selections.set(m.name, { selection: m.selection, budget: m.budget });
  }
  const dc = sessionRewards.get('DeepChain');
  const comparisons: OnlineComparison[] = dc
    ? names.filter((n) => n !== 'DeepChain').map((n) => {
      const difference = pairedBootstrap(dc, sessionRewards.get(n)!, config.training.bootstrap);
      return { model: n, metric: 'reward' as const, difference, standing: difference.standing };
    })
    : [];
  const models: OnlineModelResult[] = names.map((name) => {
    const seeds = perSeed.get(name)!;
    const chosen = selections.get(name);
    return {
      name,
      perSeed: seeds,
      summary: seeds.length
        ? { reward: tInterval(seeds.map((p) => p.reward)), clicks: tInterval(seeds.map((p) => p.clicks)), purchases: tInterval(seeds.map((p) => p.purchases)), pages: tInterval(seeds.map((p) => p.pages)) }
        : null,
      selection: chosen?.selection ?? null,
      budget: chosen?.budget ?? null,
    };
  });
  return { config, backend: backend.name, logged, models, comparisons };
}

