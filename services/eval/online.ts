/**
 * The online test (paper §3.5.1, Algorithm 2; §4.3) on the simulator (services/simulator): simulated
 * users walk the chain under a logging policy (random catalogue items, like the simulator's fallback
 * page), those pages become logged views, every model trains on the same logs, and then each model serves
 * the same users (same random streams) on its own: the scenario's agent ranks the catalogue for each page
 * (line 5 or 7) and the user reacts (line 9). Reported per model: reward per session (click 1, skip 0,
 * leave −2), clicks per session and session length (pages), each as mean and 95% t-interval over seeds.
 *
 * The walk is driven through the simulator's pure walkPage, in process, without the serving node, Kafka
 * or the SDK (those are the demo's). The paper's two scenarios only: adding to the cart is switched off,
 * so a user moves between the entrance feed and detail pages until leaving.
 */
import { DEFAULT_REWARDS, type Scenario } from '../common/index.js';
import { selectBackend } from '../model/index.js';
import { DEFAULT_WALK, fork, sample, startWalk, walkPage, World, type WalkOptions, type WalkState, type WorldOptions } from '../simulator/index.js';
import { ItemSpace } from './item-space.js';
import type { PageView, ShownItem } from './logged-session.js';
import { makeRanker, type ModelName, type OfflineConfig, type OfflineHooks } from './offline.js';
import { tInterval, type Interval } from './stats.js';

export interface OnlineConfig {
  readonly seeds: readonly number[];
  readonly models: readonly ModelName[];
  readonly world: Partial<WorldOptions>;
  readonly walk: Partial<WalkOptions>;
  /** Items per page. */
  readonly k: number;
  /** Sessions logged under the random logging policy (the training data). */
  readonly logSessions: number;
  /** Sessions each model serves, per seed. */
  readonly testSessions: number;
  /** Model sizes and training lengths (the offline test's). */
  readonly training: OfflineConfig;
}

export interface OnlineSessionStats {
  readonly reward: number;
  readonly clicks: number;
  readonly pages: number;
}

export interface OnlineModelResult {
  readonly name: ModelName | 'logging policy';
  readonly perSeed: { seed: number; reward: number; clicks: number; pages: number; sessions: number }[];
  readonly summary: { reward: Interval; clicks: Interval; pages: Interval } | null;
}

export interface OnlineResult {
  readonly config: OnlineConfig;
  readonly backend: string;
  readonly logged: { sessions: number; views: number; clicks: number };
  readonly models: OnlineModelResult[];
}

/** What a page showed and how the user reacted, as a logged view (skips before the click, a leave on the last item). */
export function pageView(
  base: { userId: string; sessionId: string; time: number; step: number; history: readonly string[] },
  state: WalkState,
  shown: readonly string[],
  result: ReturnType<typeof walkPage>,
): PageView {
  const scenario = state.page.scenario as Scenario;
  const left = result.actions.some((a) => a.type === 'leave');
  const items: ShownItem[] = shown.map((id, i) => ({
    id,
    behaviour: result.clicked === i ? 'click' : left && i === shown.length - 1 ? 'leave' : 'skip',
  }));
  return { ...base, scenario, context: state.page.scenario === 'detail' ? state.page.itemId : null, items };
}

type Policy = (query: { userId: string; sessionId: string; time: number; scenario: Scenario; history: readonly string[]; context: string | null }, candidates: readonly string[]) => string[];

/** Runs `sessions` sessions under a policy; every page is also returned as a logged view. */
export function simulate(
  world: World,
  walk: WalkOptions,
  k: number,
  sessions: number,
  seed: number,
  histories: Map<string, string[]>,
  policy: Policy,
  tag: string,
): { views: PageView[]; stats: OnlineSessionStats[] } {
  const pickUser = fork(seed, 11);
  const walkRandom = fork(seed, 12);
  const views: PageView[] = [];
  const stats: OnlineSessionStats[] = [];
  let time = 0;
  for (let s = 0; s < sessions; s++) {
    const user = world.users[Math.floor(pickUser() * world.users.length)]!;
    const sessionId = `${tag}-${s}`;
    const history = histories.get(user.id) ?? [];
    histories.set(user.id, history);
    let state = startWalk();
    let step = 0;
    const st = { reward: 0, clicks: 0, pages: 0 };
    while (!state.ended) {
      const context = state.page.scenario === 'detail' ? state.page.itemId : null;
      const candidates = context ? world.itemIds.filter((id) => id !== context) : world.itemIds;
      const scenario = state.page.scenario as Scenario;
      const shown = policy({ userId: user.id, sessionId, time: ++time, scenario, history, context }, candidates).slice(0, k);
      const result = walkPage(world, user, state, shown, walkRandom, walk);
      views.push(pageView({ userId: user.id, sessionId, time, step: step++, history: [...history] }, state, shown, result));
      st.pages++;
      for (const a of result.actions) {
        if (a.type === 'click') {
          st.clicks++;
          st.reward += DEFAULT_REWARDS.click;
          history.push(shown[a.position]!);
        } else if (a.type === 'leave') st.reward += DEFAULT_REWARDS.leave;
      }
      state = result.state;
    }
    stats.push(st);
  }
  return { views, stats };
}

export async function runOnline(config: OnlineConfig, hooks: OfflineHooks = {}): Promise<OnlineResult> {
  const backend = await selectBackend({ onLog: (msg, f) => hooks.log?.(`${msg}: ${String(f.backend)}`) });
  const walk: WalkOptions = { ...DEFAULT_WALK, addToCart: 0, ...config.walk };
  const names: (ModelName | 'logging policy')[] = ['logging policy', ...config.models];
  const results = new Map(names.map((n) => [n, { name: n, perSeed: [], summary: null } as OnlineModelResult]));
  let logged = { sessions: 0, views: 0, clicks: 0 };
  const count = config.seeds.length * config.models.length;
  let index = 0;
  for (const seed of config.seeds) {
    const world = new World({ ...config.world, seed });
    const logRandom = fork(seed, 21);
    const logHistories = new Map<string, string[]>();
    const log = simulate(world, walk, config.k, config.logSessions, seed, logHistories, (_q, c) => sample(logRandom, c, config.k), `log${seed}`);
    logged = { sessions: log.stats.length, views: log.views.length, clicks: log.stats.reduce((a, s) => a + s.clicks, 0) };
    const space = ItemSpace.train(log.views, { ...config.training.embedding, seed });
    const record = (name: ModelName | 'logging policy', stats: OnlineSessionStats[]) => {
      const n = stats.length;
      results.get(name)!.perSeed.push({
        seed, sessions: n,
        reward: stats.reduce((a, s) => a + s.reward, 0) / n,
        clicks: stats.reduce((a, s) => a + s.clicks, 0) / n,
        pages: stats.reduce((a, s) => a + s.pages, 0) / n,
      });
    };
    // The logging policy itself, served to the test users: the reference every model should beat.
    const refRandom = fork(seed, 22);
    record('logging policy', simulate(world, walk, config.k, config.testSessions, seed + 1000, cloneHistories(logHistories), (_q, c) => sample(refRandom, c, config.k), `test${seed}`).stats);
    for (const name of config.models) {
      const task = { index: ++index, count, label: `${name} seed ${seed}` };
      const ranker = makeRanker(name, space, config.training, seed);
      try {
        await ranker.train(log.views, (d, t) => hooks.onProgress?.(task, d, t));
        // Algorithm 2: no feedback within a page, so the state stays s_t while the page is ranked.
        const served = simulate(world, walk, config.k, config.testSessions, seed + 1000, cloneHistories(logHistories), (q, c) =>
          ranker.rank({ ...q, items: c.map((id) => ({ id })) }, () => 'skip'), `test${seed}`);
        record(name, served.stats);
        const last = results.get(name)!.perSeed.at(-1)!;
        hooks.log?.(`${task.label}: reward/session ${last.reward.toFixed(3)}, clicks ${last.clicks.toFixed(3)}, pages ${last.pages.toFixed(2)}`);
      } finally {
        ranker.dispose();
      }
    }
  }
  const models = [...results.values()].map((r) => ({
    ...r,
    summary: r.perSeed.length
      ? { reward: tInterval(r.perSeed.map((p) => p.reward)), clicks: tInterval(r.perSeed.map((p) => p.clicks)), pages: tInterval(r.perSeed.map((p) => p.pages)) }
      : null,
  }));
  return { config, backend: backend.name, logged, models };
}

function cloneHistories(h: Map<string, string[]>): Map<string, string[]> {
  return new Map([...h].map(([k, v]) => [k, [...v]]));
}
