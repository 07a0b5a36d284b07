/**
 * What the off-policy check (ope-check.ts) needs to know about its policies, position by position: the
 * exploring logging policy's exact propensities, a target policy's probability of the logged item at each
 * position, the per-position reward of a walked page, and the simulator's exact expected page value (a
 * target's counterfactual value on a logged page). Pure apart from the random streams it is given.
 *
 * Positions are valued as services/model/off-policy.ts values them (the item-position estimator): the
 * probability of an item at position k is *conditional on the items shown above it*, for the logging policy
 * and for the target alike.
 */
import type { Rewards } from '../common/index.js';
import { CosineIndex } from '../model/index.js';
import {
  clickProbability, fork, leaveProbability, oraclePolicy, seenCounts,
  type PagePolicy, type PageRecord, type PageRequest, type Random, type User, type WalkOptions, type WalkState, type World,
} from '../simulator/index.js';
import type { ItemSpace } from './item-space.js';
import { pageView } from './online.js';

/** What the exploring logging policy did on one page, slot by slot. */
export interface ExploredPage {
  /** μ_k: the probability of the shown item at position k given the items above it. */
  readonly propensities: readonly number[];
  /** The ranker's choice at each position (its first item not shown above): what it shows with probability 1 − ε. */
  readonly greedy: readonly string[];
  /** Candidates of the page: the recalled ones (historyRecall). */
  readonly candidates: number;
}

export interface ExploringLogger {
  readonly policy: PagePolicy;
  /** The page of session `sessionId` at `step`, as the policy logged it; throws for a page it never served. */
  page(sessionId: string, step: number): ExploredPage;
}

const pageKey = (sessionId: string, step: number) => `${sessionId}\u0000${step}`;

/**
 * online.ts `loggingPolicy`, draw for draw (the same ranker, the same stream fork(seed, 31), the same
 * number of draws), that also logs the exact propensity of every shown item: at slot k, with k items taken,
 *
 *   μ_k(item) = (1 − ε)·[item is the ranker's first untaken item] + ε / (candidates − k)
 *
 * (the exploring draw is uniform over the untaken candidates: it redraws on a taken one). The ranker's list
 * holds k items, and each exploring slot takes at most one of them, so its first untaken item always exists.
 */
export function exploringLogger(world: World, walk: WalkOptions, rewards: Rewards, epsilon: number, seed: number): ExploringLogger {
  if (!(epsilon >= 0 && epsilon <= 1)) throw new RangeError(`epsilon must be in [0, 1], got ${epsilon}`);
  const ranked = oraclePolicy(world, { objective: 'shared', lookahead: false }, walk, rewards);
  const random = fork(seed, 31);
  const pages = new Map<string, ExploredPage>();
  const policy: PagePolicy = (request) => {
    const best = ranked(request);
    const n = request.candidates.length;
    const shown: string[] = [];
    const propensities: number[] = [];
    const greedy: string[] = [];
    const taken = new Set<string>();
    let next = 0;
    while (shown.length < request.k && shown.length < n) {
      while (taken.has(best[next]!)) next++;
      const first = best[next]!;
      let id: string;
      if (random() < epsilon) {
        do id = request.candidates[Math.floor(random() * n)]!;
        while (taken.has(id));
      } else {
        id = first;
        next++;
      }
      propensities.push((id === first ? 1 - epsilon : 0) + epsilon / (n - shown.length));
      greedy.push(first);
      taken.add(id);
      shown.push(id);
    }
    pages.set(pageKey(request.sessionId, request.step), { propensities, greedy, candidates: n });
    return shown;
  };
  return {
    policy,
    page(sessionId, step) {
      const p = pages.get(pageKey(sessionId, step));
      if (!p) throw new Error(`the logging policy served no page ${step} of session '${sessionId}'`);
      return p;
    },
  };
}

/**
 * A deterministic target's item at each position given the logged items above it: the first item of its
 * answer for the page (best first, as it would show them) not shown above. The answer needs only its first
 * `shown.length` items: a prefix of k − 1 items leaves at least one of them untaken.
 */
export function choicesGivenAbove(answer: readonly string[], shown: readonly string[]): string[] {
  const above = new Set<string>();
  return shown.map((id) => {
    const choice = answer.find((a) => !above.has(a));
    if (choice === undefined) throw new Error('a target answered fewer items than the page shows');
    above.add(id);
    return choice;
  });
}

/** π_k of a deterministic target: 1 when its choice given the logged items above is the logged item, else 0. */
export function deterministicProbabilities(answer: readonly string[], shown: readonly string[]): number[] {
  return choicesGivenAbove(answer, shown).map((choice, k) => (choice === shown[k] ? 1 : 0));
}

/**
 * Q̂_k of a deterministic target for the cascade DR (cascadeDirect): the direct model's reward of `item` at
 * position k below the logged items `above`, plus that of the target's own continuation under them (its
 * first answer items not shown above, down to the page's `length`).
 */
export function deterministicContinuation(
  answer: readonly string[], above: readonly string[], item: string, length: number, q: ReadonlyMap<string, number>,
): number {
  const taken = new Set([...above, item]);
  let value = q.get(item)!;
  for (let i = 0, left = length - above.length - 1; left > 0 && i < answer.length; i++) {
    if (taken.has(answer[i]!)) continue;
    value += q.get(answer[i]!)!;
    left--;
  }
  return value;
}

/** The probability net's chances, for one item in one state, that a reader of it clicks it or leaves on it. */
export interface ItemBehaviour {
  readonly click: number;
  readonly leave: number;
}

/**
 * The cascade direct model: the expected reward at each position of a page read in order (the simulator's
 * reading order, user-walk.ts walkPage), from per-item probabilities. The user reaches position j with
 * R_j = Π_{i<j} (1 − c_i − l_i) (neither clicked nor left above), clicks it with R_j·c_j (a click ends the
 * page's clicks) and leaves there with R_j·l_j; as logged (positionRewards), a left page's leave reward
 * lands on its last position, so
 *
 *   E[r_j] = R_j·c_j·click + [j = K−1]·L·leave + (1 − R_j·c_j − [j = K−1]·L)·skip,   L = Σ_j R_j·l_j.
 *
 * The position-blind q̂ = c·click + l·leave counts every item's click as if it were read and puts a share of the
 * leave on every position; here the items above decide whether a position is read at all (Kiyohara et al.
 * 2022's cascade assumption, which the simulator satisfies). Chances whose sum exceeds 1 stop the reading.
 */
export function cascadeExpectedRewards(page: readonly ItemBehaviour[], rewards: Pick<Rewards, 'click' | 'skip' | 'leave'>): number[] {
  let reach = 1;
  let left = 0;
  const out = page.map((b) => {
    const clicked = reach * b.click;
    left += reach * b.leave;
    reach *= Math.max(0, 1 - b.click - b.leave);
    return clicked * rewards.click + (1 - clicked) * rewards.skip;
  });
  if (out.length) out[out.length - 1]! += left * (rewards.leave - rewards.skip);
  return out;
}

/**
 * E[r_k] of cascadeExpectedRewards for `item` at position k = above.length below the items `above`, on a page
 * of `length` positions: what the item-position DR needs (q̂_k of the logged item, v̂_k of the target's), which
 * depends on the items above only, and on the whole page at the last position (where a leave lands).
 */
export function cascadePositionReward(
  above: readonly ItemBehaviour[], item: ItemBehaviour, length: number, rewards: Pick<Rewards, 'click' | 'skip' | 'leave'>,
): number {
  let reach = 1;
  let left = 0;
  for (const b of above) {
    left += reach * b.leave;
    reach *= Math.max(0, 1 - b.click - b.leave);
  }
  const clicked = reach * item.click;
  if (above.length + 1 < length) return clicked * rewards.click + (1 - clicked) * rewards.skip;
  left += reach * item.leave;
  return clicked * rewards.click + left * rewards.leave + (1 - clicked - left) * rewards.skip;
}

/** Σ_{j≥k} of cascadeExpectedRewards: the direct model's value of the page from position k down (Cascade-DR's Q̂_k). */
export function cascadeValueFrom(page: readonly ItemBehaviour[], k: number, rewards: Pick<Rewards, 'click' | 'skip' | 'leave'>): number {
  return cascadeExpectedRewards(page, rewards).slice(k).reduce((a, b) => a + b, 0);
}

/** A page's observable walk state for the chain-effect diagnostic: its scenario and its pages without a click before it (3 or more pooled). */
export function walkStateKey(request: Pick<PageRequest, 'scenario' | 'state'>): string {
  return `${request.scenario}:${Math.min(request.state.poorPages, 3)}`;
}

/**
 * A value on the logged pages reweighted to a target's own page distribution over an observable walk state
 * (the marginalised state-distribution weights of Liu et al. 2018, "Breaking the curse of horizon", NeurIPS,
 * here with the target's distribution d_π counted from its deployed pages, so not an estimator but the best
 * such weights can do): Σ_i ρ(s_i)·v_i / Σ_i ρ(s_i), ρ(s) = d_π(s)/d_μ(s). `unmatched` is the share of the
 * target's pages in states the log never visited, which no weight can reach.
 */
export function reweightToStates(
  values: readonly number[], loggedStates: readonly string[], targetStates: readonly string[],
): { value: number; unmatched: number } {
  const share = (states: readonly string[]) => {
    const d = new Map<string, number>();
    for (const s of states) d.set(s, (d.get(s) ?? 0) + 1 / states.length);
    return d;
  };
  const logged = share(loggedStates);
  const target = share(targetStates);
  let num = 0;
  let den = 0;
  values.forEach((v, i) => {
    const rho = (target.get(loggedStates[i]!) ?? 0) / logged.get(loggedStates[i]!)!;
    num += rho * v;
    den += rho;
  });
  const unmatched = [...target].reduce((a, [s, d]) => a + (logged.has(s) ? 0 : d), 0);
  return { value: den > 0 ? num / den : Number.NaN, unmatched };
}

/** The share of a page's items shown earlier in the session (the walk's repetition fatigue discounts their clicks). */
export function repeatShare(shown: readonly string[], seen: readonly string[]): number {
  const earlier = new Set(seen);
  return shown.length ? shown.filter((id) => earlier.has(id)).length / shown.length : 0;
}

/**
 * The items a deterministic target shows below `above` and `item` down to the page's `length`: its first
 * answer items not taken (deterministicContinuation's list, for models that need the whole page).
 */
export function continuationItems(answer: readonly string[], above: readonly string[], item: string, length: number): string[] {
  const taken = new Set([...above, item]);
  const out: string[] = [];
  for (let i = 0; i < answer.length && above.length + 1 + out.length < length; i++) {
    if (!taken.has(answer[i]!)) out.push(answer[i]!);
  }
  return out;
}

/**
 * The direct terms of the cascade doubly robust estimator (Kiyohara et al. 2022, "Doubly robust off-policy
 * evaluation for ranking policies under the cascade behavior model", WSDM) in the shape of
 * services/model off-policy.ts DR, fed cumulative probabilities (weights W_k = Π_{j≤k} π_j/μ_j). Its
 * per-position term there is v̂_k + W_k·(r_k − q̂_k); Cascade-DR's is W_{k−1}·V̂_k + W_k·(r_k − Q̂_k), with
 * Q̂_k the direct model's reward from position k down given the logged items down to k and V̂_k its mean under
 * π at k. So q̂_k := Q̂_k, and v̂_k := W_{k−1}·V̂_k, which this returns (W_{−1} = 1). Unbiased when the
 * weights are right, like cascade IPS; where a prefix is never matched it falls back on the direct model
 * rather than on 0.
 */
export function cascadeTargetReward(probabilities: readonly number[], propensities: readonly number[], targetV: readonly number[]): number[] {
  let above = 1;
  return targetV.map((v, k) => {
    const term = above * v;
    above *= probabilities[k]! / propensities[k]!;
    return term;
  });
}

/**
 * A ranking (best first) as scores of the shown items, for the release gate's re-ordering rule
 * (learner/validation.ts reorderingFromScores): the higher in the ranking, the higher the score; an item the
 * ranking leaves out scores −∞, as an item without an embedding does for the gate.
 */
export function rankingScores(ranking: readonly string[], shown: readonly string[]): number[] {
  const place = new Map(ranking.map((id, i) => [id, i]));
  return shown.map((id) => {
    const i = place.get(id);
    return i === undefined ? Number.NEGATIVE_INFINITY : ranking.length - i;
  });
}

/** π_k of the uniformly random target: every untaken candidate alike, 1 / (candidates − k). */
export function uniformProbabilities(candidates: number, shown: number): number[] {
  return Array.from({ length: shown }, (_, k) => 1 / (candidates - k));
}

/** The page's candidates as walk-session.ts gives them to a policy: the catalogue but the detail page's own item. */
export function candidatesOf(world: World, request: Pick<PageRequest, 'scenario' | 'context'>): readonly string[] {
  const own = request.scenario === 'detail' ? request.context : null;
  return own === null ? world.itemIds : world.itemIds.filter((id) => id !== own);
}

/** Recent history items whose neighbours are recalled: serving/config.ts RECALL_SEEDS' default. */
export const RECALL_SEEDS = 5;

/**
 * The serving node's candidate recall (serving/recommender.ts recallCandidates, paper footnote 2) over the
 * check's item space: the cosine nearest neighbours of the user's last RECALL_SEEDS distinct history items
 * with a learned vector, newest first, an equal share of `size` each, then the catalogue in order up to
 * `size` (a user with no such history gets the catalogue's first items, as from the serving node). Only the
 * request's candidates are recalled (never the detail page's own item). Every policy of the check, the
 * exploring logger and each target alike, ranks this set: exploration then stays among `size` items, not
 * the whole catalogue, as on a real serving node, which multiplies the support of a deterministic target's
 * items by about catalogue/size. A function of the request's history and candidates only, so the targets'
 * answers on a logged page see the candidates the logger saw. Neighbour lists are kept per (item, share).
 */
export function historyRecall(space: ItemSpace, size: number): (request: Pick<PageRequest, 'history' | 'candidates'>) => string[] {
  if (!(Number.isInteger(size) && size > 0)) throw new RangeError(`the recall size must be a positive integer, got ${size}`);
  const index = new CosineIndex(space.vectors, space.dimension);
  const learned = (id: string) => space.vectorOf(id, false, false).some((x) => x !== 0);
  const lists = new Map<string, string[]>();
  const neighbours = (id: string, share: number): string[] => {
    const key = `${id}\u0000${share}`;
    let list = lists.get(key);
    if (!list) lists.set(key, (list = index.neighbours(space.index(id), share).map((n) => space.vocabulary.idOf(n.index))));
    return list;
  };
  return (request) => {
    const allowed = new Set(request.candidates);
    const seeds: string[] = [];
    for (let i = request.history.length - 1; i >= 0 && seeds.length < RECALL_SEEDS; i--) {
      const id = request.history[i]!;
      if (!seeds.includes(id) && learned(id)) seeds.push(id);
    }
    const out = new Set<string>();
    const share = seeds.length ? Math.ceil(size / seeds.length) : 0;
    for (const seed of seeds) {
      for (const id of neighbours(seed, share)) {
        if (out.size >= size) break;
        if (allowed.has(id)) out.add(id);
      }
    }
    for (const id of request.candidates) {
      if (out.size >= size) break;
      out.add(id);
    }
    return [...out];
  };
}

/**
 * The per-position reward of a walked page, the logged view's (online.ts pageView): the clicked position
 * earns `click`, the last position of a page the user left on earns `leave`, every other position `skip`.
 * Purchases are not per position and are left out (they follow a click on a later page of the chain).
 */
export function positionRewards(record: PageRecord, rewards: Rewards): number[] {
  return pageView(record, 0).items.map((it) => rewards[it.behaviour]);
}

/**
 * The exact expected page value (Σ of positionRewards) of showing `shown` to `user` in walk state `state`,
 * from the walk's own model (user-walk.ts walkPage): the page may end the session at once (fatigue, or the
 * last page); else the user reads in order and clicks position j with probability p_j·Π_{i<j}(1 − p_i);
 * a page without a click makes them leave with leaveProbability(poorPages + 1).
 */
export function expectedPageValue(
  world: World, user: User, state: WalkState, shown: readonly string[], walk: WalkOptions, rewards: Rewards,
): number {
  const K = shown.length;
  const leftValue = (K - 1) * rewards.skip + rewards.leave;
  const clickValue = rewards.click + (K - 1) * rewards.skip;
  const atOnce = state.pages + 1 >= walk.maxPages ? 1 : walk.fatigue;
  const counts = seenCounts(state);
  let reach = 1;
  let clicked = 0;
  for (let j = 0; j < K; j++) {
    const p = clickProbability(world, user, state, shown[j]!, j, walk, shown.slice(0, j), counts);
    clicked += reach * p;
    reach *= 1 - p;
  }
  const leave = leaveProbability(user, state.poorPages + 1);
  const read = clicked * clickValue + reach * (leave * leftValue + (1 - leave) * K * rewards.skip);
  return atOnce * leftValue + (1 - atOnce) * read;
}

/** `count` distinct candidates uniformly at random, none of `exclude` (all of them when fewer remain). */
export function sampleCandidates(random: Random, candidates: readonly string[], exclude: ReadonlySet<string>, count: number): string[] {
  const free = candidates.length - exclude.size;
  if (free <= count) return candidates.filter((id) => !exclude.has(id));
  const out = new Set<string>();
  while (out.size < count) {
    const id = candidates[Math.floor(random() * candidates.length)]!;
    if (!exclude.has(id)) out.add(id);
  }
  return [...out];
}
