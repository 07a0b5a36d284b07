/**
 * Oracle policies: they read the world's hidden vectors and the walk's state (which a model never sees),
 * and rank pages with the walk's own click model (user-walk.ts): the scenario's objective, position bias,
 * the entrance feed's diversity and the fatigue from repetition. They bound what a policy can reach and
 * show that the simulator rewards whole-chain thinking (DESIGN.md §4):
 *   - greedy: maximises the expected reward of the current page only. Slot by slot, it shows the
 *     candidate most likely to be clicked there given the items above it (a click is the page's only
 *     reward it can change).
 *   - lookahead: also values what a click leads to: the clicked item's detail page, where the user may add
 *     it to the cart (addToCartProbability) and check out (purchase reward per item in the cart), and the
 *     leave a click averts. Slot by slot it shows the candidate with the best click probability × value.
 *   - scenario_specific: the look-ahead oracle itself, each page scored with its own scenario's
 *     objective (entrance: interest with diversity; detail: close to the page's item; cart: goes with the
 *     basket; order: like the order).
 *   - shared: the look-ahead oracle with one scoring rule for every page, the entrance feed's (interest,
 *     with diversity and repetition): what one agent for all pages would be, had it the entrance's
 *     objective right.
 * `runOracles` walks the same sessions under each (common random numbers, walk-session.ts) and reports
 * reward per session with 95% intervals, and the paired differences lookahead − greedy and
 * scenario_specific − shared with theirs.
 */
import type { Rewards } from '../common/index.js';
import { SIMULATOR_REWARDS } from './rewards.js';
import {
  addToCartProbabilities, DEFAULT_WALK, leaveProbability, pageAffinities, seenCounts, startWalk,
  type WalkOptions, type WalkState,
} from './user-walk.js';
import { runSessions, type PagePolicy, type PageRequest, type SessionOutcome } from './walk-session.js';
import { DEFAULT_WORLD, World, type WorldOptions } from './world.js';

export const ORACLE_NAMES = ['lookahead', 'greedy', 'scenario_specific', 'shared'] as const;
export type OracleName = (typeof ORACLE_NAMES)[number];

export interface OracleSpec {
  /** 'scenario': each page's own objective; 'shared': the entrance feed's objective on every page. */
  readonly objective: 'scenario' | 'shared';
  readonly lookahead: boolean;
}

export const ORACLES: Readonly<Record<OracleName, OracleSpec>> = Object.freeze({
  lookahead: { objective: 'scenario', lookahead: true },
  greedy: { objective: 'scenario', lookahead: false },
  scenario_specific: { objective: 'scenario', lookahead: true },
  shared: { objective: 'shared', lookahead: true },
});

const ENTRANCE_PAGE = startWalk().page;

/** An oracle as a page policy on `world` (the request's user and walk state are looked up in it). */
export function oraclePolicy(world: World, spec: OracleSpec, walk: WalkOptions = DEFAULT_WALK, rewards: Rewards = SIMULATOR_REWARDS): PagePolicy {
  const clusters = world.options.clusters;
  // The user's interest similarities, kept while the same user's pages come in (a session).
  let last: { userId: string; interest: Float64Array } | null = null;
  return (request: PageRequest) => {
    const user = world.user(request.userId);
    if (last?.userId !== user.id) last = { userId: user.id, interest: world.similarities(user.interest) };
    const interest = last.interest;
    const actual = request.state;
    // The state the oracle believes it ranks for: the real one, or the entrance feed's for the shared rule.
    const scored: WalkState = spec.objective === 'shared' ? { ...actual, page: ENTRANCE_PAGE } : actual;
    const entranceRule = scored.page.scenario === 'entrance';
    const affinity = pageAffinities(world, user, scored, walk, interest);
    const buy = spec.lookahead ? addToCartProbabilities(world, user, actual, walk, interest) : null;
    // Repetition fatigue, and no clicks on what is in the cart already (on the cart page), per catalogue item.
    const repeat = new Float64Array(world.options.items).fill(1);
    for (const [id, times] of seenCounts(actual)) repeat[world.indexOf(id)] = walk.repeatDecay ** times;
    if (scored.page.scenario === 'cart') for (const id of actual.cart) repeat[world.indexOf(id)] = 0;
    // What a click is worth beyond the click itself: the leave it averts and, looking ahead, the purchase it
    // may lead to (the clicked item added to the cart, the cart checked out with it).
    const averted = -rewards.leave * leaveProbability(user, actual.poorPages + 1);
    const basket = rewards.purchase * walk.checkout * (actual.cart.length + 1);
    const index = world.indicesOf(request.candidates);
    const n = index.length;
    const p0 = new Float64Array(n);
    const value = new Float64Array(n);
    const cluster = new Int32Array(n);
    const span = walk.clickMax - walk.clickFloor;
    for (let i = 0; i < n; i++) {
      const j = index[i]!;
      cluster[i] = world.itemCluster[j]!;
      p0[i] = (walk.clickFloor + span / (1 + Math.exp(-walk.sharpness * (affinity[j]! - walk.threshold)))) * repeat[j]!;
      value[i] = buy ? rewards.click + averted + buy[j]! * basket : 1;
    }
    // Powers of `redundancy` by how many items of the cluster are above (Math.pow per candidate is slow).
    const redundancy = Float64Array.from({ length: request.k + 1 }, (_, m) => walk.redundancy ** m);
    const taken = new Uint8Array(n);
    const sameCluster = new Int32Array(clusters);
    const page: string[] = [];
    for (let slot = 0; slot < Math.min(request.k, n); slot++) {
      let best = -1;
      let bestScore = -Infinity;
      for (let i = 0; i < n; i++) {
        if (taken[i]) continue;
        const p = entranceRule ? p0[i]! * redundancy[sameCluster[cluster[i]!]!]! : p0[i]!;
        const score = p * value[i]!;
        if (score > bestScore) {
          bestScore = score;
          best = i;
        }
      }
      taken[best] = 1;
      sameCluster[cluster[best]!]!++;
      page.push(request.candidates[best]!);
    }
    return page;
  };
}

export interface RunOraclesOptions {
  /** Sessions per world and oracle. */
  readonly sessions: number;
  /** Worlds: seeds worldOptions.seed, +1, … (default 1). */
  readonly worlds?: number;
  /** Seed of the session streams of the first world, +1 for each next one (default: the world's seed). */
  readonly seed?: number;
  /** Items per page (default 5). */
  readonly k?: number;
  readonly rewards?: Rewards;
}

export interface Estimate {
  readonly mean: number;
  /** 95% interval: mean ± 1.96·sd/√n. */
  readonly ci95: readonly [number, number];
}

export interface OracleResult extends Estimate {
  readonly clicks: number;
  readonly purchases: number;
  readonly pages: number;
}

export interface OracleSummary {
  readonly lookahead: OracleResult;
  readonly greedy: OracleResult;
  readonly scenario_specific: OracleResult;
  readonly shared: OracleResult;
  /** Paired over the same sessions; `relative` is the mean difference over the second oracle's mean. */
  readonly lookahead_minus_greedy: Estimate & { readonly relative: number };
  readonly scenario_specific_minus_shared: Estimate & { readonly relative: number };
  /** Sessions per oracle (over all worlds). */
  readonly sessions: number;
}

/** Each oracle's sessions on `world`, session i of each facing the same user with the same draws. */
export function oracleSessions(
  world: World, walk: WalkOptions, options: { sessions: number; seed: number; k: number; rewards: Rewards },
): Record<OracleName, SessionOutcome[]> {
  const out = {} as Record<OracleName, SessionOutcome[]>;
  const runs = new Map<string, SessionOutcome[]>();
  for (const name of ORACLE_NAMES) {
    const spec = ORACLES[name];
    const key = `${spec.objective}/${spec.lookahead}`;
    if (!runs.has(key)) runs.set(key, runSessions(world, oraclePolicy(world, spec, walk, options.rewards), { ...options, walk, tag: name }));
    out[name] = runs.get(key)!;
  }
  return out;
}

/** Every oracle on the world(s) of `worldOptions`, with walk options `walkOptions` (defaults for what is missing). */
export function runOracles(worldOptions: Partial<WorldOptions>, walkOptions: Partial<WalkOptions>, options: RunOraclesOptions): OracleSummary {
  const walk: WalkOptions = { ...DEFAULT_WALK, ...walkOptions };
  const rewards = options.rewards ?? SIMULATOR_REWARDS;
  const k = options.k ?? 5;
  const worlds = options.worlds ?? 1;
  if (!Number.isInteger(worlds) || worlds < 1) throw new RangeError(`worlds must be a positive integer, got ${worlds}`);
  if (!Number.isInteger(options.sessions) || options.sessions < 2) throw new RangeError(`sessions must be an integer ≥ 2, got ${options.sessions}`);
  const first = { ...DEFAULT_WORLD, ...worldOptions }.seed;
  const firstStream = options.seed ?? first;
  const all = Object.fromEntries(ORACLE_NAMES.map((n) => [n, [] as SessionOutcome[]])) as Record<OracleName, SessionOutcome[]>;
  for (let w = 0; w < worlds; w++) {
    const world = new World({ ...worldOptions, seed: first + w });
    const runs = oracleSessions(world, walk, { sessions: options.sessions, seed: firstStream + w, k, rewards });
    for (const name of ORACLE_NAMES) all[name].push(...runs[name]);
  }
  const result = (name: OracleName): OracleResult => {
    const s = all[name];
    return { ...estimate(s.map((x) => x.reward)), clicks: meanOf(s.map((x) => x.clicks)), purchases: meanOf(s.map((x) => x.purchases)), pages: meanOf(s.map((x) => x.pages)) };
  };
  const paired = (a: OracleName, b: OracleName) => {
    const d = estimate(all[a].map((x, i) => x.reward - all[b][i]!.reward));
    return { ...d, relative: d.mean / Math.abs(meanOf(all[b].map((x) => x.reward))) };
  };
  return {
    lookahead: result('lookahead'),
    greedy: result('greedy'),
    scenario_specific: result('scenario_specific'),
    shared: result('shared'),
    lookahead_minus_greedy: paired('lookahead', 'greedy'),
    scenario_specific_minus_shared: paired('scenario_specific', 'shared'),
    sessions: all.lookahead.length,
  };
}

const meanOf = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Mean and normal-approximation 95% interval. */
export function estimate(xs: readonly number[]): Estimate {
  const n = xs.length;
  const mean = meanOf(xs);
  const sd = n < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  const half = (1.959964 * sd) / Math.sqrt(n);
  return { mean, ci95: [mean - half, mean + half] };
}
