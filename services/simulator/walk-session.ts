/**
 * Whole sessions walked in process under a page policy (no serving node, no events): what the online test
 * (paper Algorithm 2) and the oracles (oracles.ts) run. Pure apart from the random streams it is given.
 *
 * A policy sees what a serving node would see — ids only: the user, the session, the scenario, the page's
 * context item, the user's history (clicked and purchased items, carried across sessions), what this
 * session has shown so far, and the candidates (the whole catalogue but the detail page's own item). It
 * also gets the walk state, which only the oracles read (with the world's hidden vectors); a model must
 * not. It answers with at least k distinct candidates, best first; the first k are shown.
 *
 * Common random numbers: session i of `runSessions` draws its user and every page's random numbers from
 * its own stream, fork(seed, i), whatever policy runs and whatever other sessions did, so two policies run
 * with the same seed face the same users with the same draws and their rewards can be compared session by
 * session (a paired comparison).
 */
import type { Rewards, Scenario } from '../common/index.js';
import { fork, type Random } from './random.js';
import { rewardOf, SIMULATOR_REWARDS, validateRewards } from './rewards.js';
import { contextItem, DEFAULT_WALK, startWalk, validateWalk, walkPage, type PageResult, type WalkOptions, type WalkState } from './user-walk.js';
import type { User, World } from './world.js';

export interface PageRequest {
  readonly userId: string;
  readonly sessionId: string;
  readonly scenario: Scenario;
  /** The page's context item: the detail page's item, the newest in the cart or the order; null on the entrance feed. */
  readonly context: string | null;
  /** Hidden walk state: for oracles only. */
  readonly state: WalkState;
  /** The user's clicked and purchased items, oldest first, across sessions (a snapshot). */
  readonly history: readonly string[];
  /** Items shown earlier in this session, page after page. */
  readonly shownThisSession: readonly string[];
  /** The catalogue, without the detail page's own item. */
  readonly candidates: readonly string[];
  readonly k: number;
  /** Page number within the session, from 0. */
  readonly step: number;
}

/** k (or more) distinct ids from the request's candidates, best first. */
export type PagePolicy = (request: PageRequest) => readonly string[];

export interface PageRecord {
  readonly request: Omit<PageRequest, 'candidates'>;
  readonly shown: readonly string[];
  readonly result: PageResult;
  readonly reward: number;
}

export interface SessionOutcome {
  readonly userId: string;
  readonly sessionId: string;
  readonly reward: number;
  readonly clicks: number;
  /** Items purchased. */
  readonly purchases: number;
  readonly pages: number;
  readonly records: PageRecord[];
}

export interface WalkSessionOptions {
  readonly walk?: WalkOptions;
  /** Items per page. */
  readonly k: number;
  readonly rewards?: Rewards;
  readonly sessionId: string;
  /** The user's history, appended to by this session's clicks and purchases (carried to their next session). */
  readonly history?: string[];
}

/** One session of `user` under `policy`, every page's draws from `random`. */
export function walkSession(world: World, user: User, policy: PagePolicy, options: WalkSessionOptions, random: Random): SessionOutcome {
  const walk = options.walk ?? DEFAULT_WALK;
  const rewards = options.rewards ?? SIMULATOR_REWARDS;
  const history = options.history ?? [];
  const { k, sessionId } = options;
  if (!Number.isInteger(k) || k <= 0) throw new RangeError(`items per page k must be a positive integer, got ${k}`);
  validateWalk(walk);
  validateRewards(rewards);
  const records: PageRecord[] = [];
  let reward = 0;
  let clicks = 0;
  let purchases = 0;
  let state = startWalk();
  while (!state.ended) {
    const scenario = state.page.scenario;
    const context = contextItem(state) ?? null;
    const own = scenario === 'detail' ? context : null;
    const candidates = own === null ? world.itemIds : world.itemIds.filter((id) => id !== own);
    const base = {
      userId: user.id, sessionId, scenario, context, state, history: [...history], shownThisSession: state.seen, k, step: records.length,
    };
    const shown = policy({ ...base, candidates }).slice(0, k);
    checkPage(world, shown, Math.min(k, candidates.length), own);
    const result = walkPage(world, user, state, shown, random, walk);
    const pageReward = rewardOf(result.actions, rewards);
    for (const a of result.actions) {
      if (a.type === 'click') {
        clicks++;
        history.push(shown[a.position]!);
      } else if (a.type === 'purchase') {
        purchases += a.itemIds.length;
        history.push(...a.itemIds);
      }
    }
    reward += pageReward;
    records.push({ request: base, shown, result, reward: pageReward });
    state = result.state;
  }
  return { userId: user.id, sessionId, reward, clicks, purchases, pages: records.length, records };
}

function checkPage(world: World, shown: readonly string[], expected: number, own: string | null): void {
  if (shown.length !== expected) throw new Error(`a policy answered ${shown.length} items for a page of ${expected}`);
  const distinct = new Set(shown);
  if (distinct.size !== shown.length) throw new Error(`a policy answered the same item twice: ${shown.join(', ')}`);
  for (const id of shown) {
    if (!world.has(id) || id === own) throw new Error(`a policy answered '${id}', which is not a candidate`);
  }
}

export interface RunSessionsOptions {
  readonly sessions: number;
  readonly seed: number;
  readonly walk?: WalkOptions;
  readonly k: number;
  readonly rewards?: Rewards;
  /** Users' histories, carried across sessions (and across calls when given); updated in place. */
  readonly histories?: Map<string, string[]>;
  /** Session ids are `${tag}-${seed}-${i}`. */
  readonly tag?: string;
}

/** `sessions` sessions under `policy`; session i's user and draws come from fork(seed, i) (common random numbers). */
export function runSessions(world: World, policy: PagePolicy, options: RunSessionsOptions): SessionOutcome[] {
  const { sessions, seed } = options;
  if (!Number.isInteger(sessions) || sessions < 0) throw new RangeError(`sessions must be an integer ≥ 0, got ${sessions}`);
  const histories = options.histories ?? new Map<string, string[]>();
  const out: SessionOutcome[] = [];
  for (let i = 0; i < sessions; i++) {
    const random = fork(seed, i);
    const user = world.users[Math.min(world.users.length - 1, Math.floor(random() * world.users.length))]!;
    let history = histories.get(user.id);
    if (!history) histories.set(user.id, (history = []));
    out.push(walkSession(world, user, policy, {
      k: options.k, sessionId: `${options.tag ?? 'session'}-${seed}-${i}`, history,
      ...(options.walk ? { walk: options.walk } : {}), ...(options.rewards ? { rewards: options.rewards } : {}),
    }, random));
  }
  return out;
}
