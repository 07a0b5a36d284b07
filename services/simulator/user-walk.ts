/**
 * One simulated user's walk along the chain of the paper's Figure 1 (§1): entrance feed → item detail
 * pages → cart → order page, leaving at any point. Pure: (world, user, walk state, the items a page shows,
 * a random stream) → (what the user does, the next walk state). The session drivers (session.ts for the
 * demo's SDK events, walk-session.ts for in-process policies) turn the actions into events and rewards.
 *
 * Scenarios have different objectives (paper §1). The user reads the shown items in display order and
 * clicks one with a probability that rises with its hidden affinity for this page:
 *   - entrance: similarity to the user's interest (relevance), with diversity: each item of the same
 *     cluster shown higher on the page multiplies the click probability by `redundancy`, so the best feed
 *     is not the k nearest items;
 *   - detail:   similarity to the page's item (`detailWeight`), blended with the interest;
 *   - cart:     how well the item goes with the basket (the world's hidden complement relation, the best
 *     fit over the cart's items; `basketWeight`), blended with the interest; items already in the cart
 *     are not clicked there;
 *   - order:    similarity to what was just bought (the best over the order's items: "more like your
 *     order"; `basketWeight`), blended with the interest.
 * The click probability is clickFloor + (clickMax − clickFloor)·σ(sharpness·(affinity − threshold)),
 * times positionDecay^position (position bias), times repeatDecay^n for an item already shown n times in
 * this session (users tire of repetition).
 *
 * Effects cross pages. A click opens the clicked item's detail page, where the user may add the item to
 * the cart at once, with probability addToCart·σ(buySharpness·(want − buyThreshold)), want being the
 * better of the item's fit to the user's interest and how well it goes with the cart (an item bought in
 * this session is not bought again); then the cart page follows, and on arriving there the user checks
 * out with probability `checkout`: the order page follows and every cart item is purchased (the reward
 * per purchased item, rewards.ts, is larger than a click's). These steps are part of the click's page
 * (its actions and next state): a user who adds the item goes straight on, so the detail page's own list
 * is never shown, and never logged as skipped unread. The purchase threshold lies above the click
 * threshold and users have a personal taste within their clusters (world.ts), so what a detail page shows
 * decides what reaches the cart: the items closest to its item get clicks on many the user will not buy,
 * close items the user wants get clicks that lead to purchases. A cart never checked out is lost when the
 * user leaves.
 *
 * A page without a click is a poor page; after it the user leaves with probability
 * 1 − exp(−poorPagesInARow / patience), so a run of poor recommendations ends a session sooner. Otherwise,
 * with nothing clicked, the user moves on as Figure 1 allows: the entrance feed shows its next page; a
 * detail page goes back to the entrance; the cart returns to the last detail page; the order page returns
 * to the entrance. Each page may also end the session at once (`fatigue`), and a session ends after
 * `maxPages` pages.
 *
 * Every page draws the same number of random numbers whatever happens on it (a fixed set of uniforms), so
 * two policies walking the same user on the same stream see the same draws page by page (common random
 * numbers: paired comparisons are tight).
 *
 * Leaves happen while a page's list is showing, so the sessionizer gives the leave (reward −2) to that
 * list's last item (DESIGN.md §3); skipped items are reported explicitly, up to the leave.
 */
import type { Scenario } from '../common/index.js';
import type { Random } from './random.js';
import { similarity, type Item, type User, type World } from './world.js';

export type Page =
  | { readonly scenario: 'entrance' }
  | { readonly scenario: 'detail'; readonly itemId: string }
  | { readonly scenario: 'cart' }
  | { readonly scenario: 'order' };

export interface WalkState {
  readonly page: Page;
  readonly cart: readonly string[];
  /** Items of the last order (the order page's context). */
  readonly ordered: readonly string[];
  /** Every item bought in this session (not bought again). */
  readonly purchased: readonly string[];
  readonly lastDetail: string | null;
  /** Pages in a row without a click. */
  readonly poorPages: number;
  readonly pages: number;
  readonly ended: boolean;
  /** Every item shown so far in this session, page after page in display order (repetition fatigue). */
  readonly seen: readonly string[];
}

export type WalkAction =
  | { readonly type: 'skip'; readonly position: number }
  | { readonly type: 'click'; readonly position: number }
  | { readonly type: 'leave' }
  | { readonly type: 'page_change'; readonly from: Scenario; readonly to: Scenario; readonly itemId: string | null }
  | { readonly type: 'add_to_cart'; readonly itemId: string }
  | { readonly type: 'purchase'; readonly itemIds: readonly string[] };

export interface WalkOptions {
  /** Click probability of a perfectly fitting item in the first position. */
  clickMax: number;
  /** Click probability of an unrelated item (curiosity). */
  clickFloor: number;
  /** Affinity at which the click probability is halfway between floor and max. */
  threshold: number;
  /** Steepness of the click probability around its threshold. */
  sharpness: number;
  /** Each position further down multiplies the click probability by this (position bias). */
  positionDecay: number;
  /** Entrance feed: each item of the same cluster shown higher on the page multiplies the click probability by this (1: no taste for diversity). */
  redundancy: number;
  /** Each earlier showing of the same item in the session multiplies its click probability by this (1: no fatigue from repetition). */
  repeatDecay: number;
  /** Detail pages: weight of the similarity to the page's item (the rest: the user's interest). */
  detailWeight: number;
  /** Cart and order pages: weight of the fit to the cart's or order's items (the rest: the user's interest). */
  basketWeight: number;
  /** Probability of adding a perfectly wanted item to the cart on opening its detail page (0: no cart, no purchases). */
  addToCart: number;
  /** Want (the better of interest fit and fit to the cart) at which adding to the cart is halfway likely. */
  buyThreshold: number;
  /** Steepness of the add-to-cart probability around its threshold. */
  buySharpness: number;
  /** Probability of checking out on arriving at the cart (after adding an item). */
  checkout: number;
  /** Probability of leaving on arriving at any page. */
  fatigue: number;
  /** A session ends at this page at the latest. */
  maxPages: number;
}

export const DEFAULT_WALK: Readonly<WalkOptions> = Object.freeze({
  clickMax: 0.6,
  clickFloor: 0.01,
  threshold: 0.35,
  sharpness: 12,
  positionDecay: 0.9,
  redundancy: 0.8,
  repeatDecay: 0.9,
  detailWeight: 0.9,
  basketWeight: 0.7,
  addToCart: 0.5,
  buyThreshold: 0.55,
  buySharpness: 25,
  checkout: 0.6,
  fatigue: 0.04,
  maxPages: 40,
});

export interface PageResult {
  readonly actions: WalkAction[];
  readonly state: WalkState;
  /** Position clicked, or null. */
  readonly clicked: number | null;
}

export function startWalk(): WalkState {
  return { page: { scenario: 'entrance' }, cart: [], ordered: [], purchased: [], lastDetail: null, poorPages: 0, pages: 0, ended: false, seen: [] };
}

/** Refuses walk options out of range, naming the option. */
export function validateWalk(o: WalkOptions): void {
  const unit = ['clickMax', 'clickFloor', 'positionDecay', 'redundancy', 'repeatDecay', 'detailWeight', 'basketWeight', 'addToCart', 'checkout', 'fatigue'] as const;
  for (const k of unit) {
    if (!(o[k] >= 0 && o[k] <= 1)) throw new RangeError(`walk option ${k} must be in [0, 1], got ${o[k]}`);
  }
  if (o.clickFloor > o.clickMax) throw new RangeError(`walk option clickFloor (${o.clickFloor}) must not exceed clickMax (${o.clickMax})`);
  for (const k of ['threshold', 'buyThreshold'] as const) {
    if (!(o[k] >= -1 && o[k] <= 1)) throw new RangeError(`walk option ${k} must be in [−1, 1] (a cosine), got ${o[k]}`);
  }
  for (const k of ['sharpness', 'buySharpness'] as const) {
    if (!(o[k] > 0 && Number.isFinite(o[k]))) throw new RangeError(`walk option ${k} must be a finite number > 0, got ${o[k]}`);
  }
  if (!(Number.isInteger(o.maxPages) && o.maxPages > 0)) throw new RangeError(`walk option maxPages must be a positive integer, got ${o.maxPages}`);
}

/** The item a page is about, sent with the recommend request (the detail page's item, the newest in the cart or order). */
export function contextItem(state: WalkState): string | undefined {
  switch (state.page.scenario) {
    case 'entrance': return undefined;
    case 'detail': return state.page.itemId;
    case 'cart': return state.cart.at(-1);
    case 'order': return state.ordered.at(-1);
  }
}

/** σ(sharpness·(x − threshold)). */
export function logistic(x: number, threshold: number, sharpness: number): number {
  return 1 / (1 + Math.exp(-sharpness * (x - threshold)));
}

/** Best fit of `item` to a basket: how well it goes with (cart) or resembles (order) any of the basket's items; null for an empty basket. */
function basketFit(world: World, basket: readonly string[], item: Item, goesWith: boolean): number | null {
  if (basket.length === 0) return null;
  let best = -Infinity;
  for (const id of basket) {
    const b = world.item(id);
    best = Math.max(best, goesWith ? world.goesWith(b, item) : similarity(b.vector, item.vector));
  }
  return best;
}

/** Hidden affinity of the user for an item on the current page, about −1…1 (the scenario's objective, see top). */
export function affinity(world: World, user: User, state: WalkState, itemId: string, o: WalkOptions = DEFAULT_WALK): number {
  const item = world.item(itemId);
  const interest = similarity(user.interest, item.vector);
  const page = state.page;
  if (page.scenario === 'entrance') return interest;
  if (page.scenario === 'detail') {
    return o.detailWeight * similarity(world.item(page.itemId).vector, item.vector) + (1 - o.detailWeight) * interest;
  }
  const fit = page.scenario === 'cart' ? basketFit(world, state.cart, item, true) : basketFit(world, state.ordered, item, false);
  return fit === null ? interest : o.basketWeight * fit + (1 - o.basketWeight) * interest;
}

/**
 * `affinity` of every catalogue item at once (indexed like `world.items`), for policies that score the
 * whole catalogue (the oracles); the same numbers as `affinity`, computed row by row. `interest` is the
 * user's `world.similarities(user.interest)`, when the caller has it already.
 */
export function pageAffinities(
  world: World, user: User, state: WalkState, o: WalkOptions = DEFAULT_WALK, interest: Float64Array = world.similarities(user.interest),
): Float64Array {
  const page = state.page;
  let fit: Float64Array | null = null;
  let weight = 0;
  if (page.scenario === 'detail') {
    fit = world.similarities(world.item(page.itemId).vector);
    weight = o.detailWeight;
  } else if (page.scenario !== 'entrance') {
    fit = page.scenario === 'cart' ? cartFits(world, state.cart) : orderFits(world, state.ordered);
    weight = o.basketWeight;
  }
  if (fit === null) return Float64Array.from(interest);
  for (let j = 0; j < fit.length; j++) fit[j] = weight * fit[j]! + (1 - weight) * interest[j]!;
  return fit;
}

/** Best goes-with fit of every item to the cart (null for an empty cart). */
function cartFits(world: World, cart: readonly string[]): Float64Array | null {
  if (cart.length === 0) return null;
  const { items, clusters } = world.options;
  const out = new Float64Array(items).fill(-Infinity);
  for (const c of new Set(cart.map((id) => world.complement[world.item(id).cluster]!))) {
    for (let j = 0, at = c; j < items; j++, at += clusters) out[j] = Math.max(out[j]!, world.centreSimilarity[at]!);
  }
  return out;
}

/** Best similarity of every item to the order's items (null for no order). */
function orderFits(world: World, ordered: readonly string[]): Float64Array | null {
  if (ordered.length === 0) return null;
  const out = new Float64Array(world.options.items).fill(-Infinity);
  for (const id of ordered) {
    const s = world.similarities(world.item(id).vector);
    for (let j = 0; j < out.length; j++) out[j] = Math.max(out[j]!, s[j]!);
  }
  return out;
}

/** `addToCartProbability` of every catalogue item at once (indexed like `world.items`); `interest` as for pageAffinities. */
export function addToCartProbabilities(
  world: World, user: User, state: WalkState, o: WalkOptions = DEFAULT_WALK, interest: Float64Array = world.similarities(user.interest),
): Float64Array {
  const fit = cartFits(world, state.cart);
  const want = new Float64Array(interest.length);
  for (let j = 0; j < want.length; j++) {
    want[j] = o.addToCart * logistic(fit === null ? interest[j]! : Math.max(interest[j]!, fit[j]!), o.buyThreshold, o.buySharpness);
  }
  for (const id of [...state.cart, ...state.purchased]) want[world.indexOf(id)] = 0;
  return want;
}

/** Times each item was shown earlier in the session. */
export function seenCounts(state: WalkState): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of state.seen) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

/**
 * Probability that the user clicks `itemId` at `position` when reading that far, with `above` shown higher
 * on the same page (the entrance feed's diversity). `seen` defaults to the state's counts.
 */
export function clickProbability(
  world: World, user: User, state: WalkState, itemId: string, position: number, o: WalkOptions = DEFAULT_WALK,
  above: readonly string[] = [], seen: ReadonlyMap<string, number> = seenCounts(state),
): number {
  if (!world.has(itemId)) return 0;
  const page = state.page;
  if (page.scenario === 'detail' && page.itemId === itemId) return 0; // the item on show already
  if (page.scenario === 'cart' && state.cart.includes(itemId)) return 0; // in the basket already
  const fit = logistic(affinity(world, user, state, itemId, o), o.threshold, o.sharpness);
  let p = (o.clickFloor + (o.clickMax - o.clickFloor) * fit) * o.positionDecay ** position;
  if (page.scenario === 'entrance' && above.length > 0) {
    const cluster = world.item(itemId).cluster;
    let same = 0;
    for (const id of above) if (world.has(id) && world.item(id).cluster === cluster) same++;
    p *= o.redundancy ** same;
  }
  return p * o.repeatDecay ** (seen.get(itemId) ?? 0);
}

/** How much the user wants `itemId` as a purchase: the better of its interest fit and how well it goes with the cart. */
export function want(world: World, user: User, cart: readonly string[], itemId: string): number {
  const item = world.item(itemId);
  const interest = similarity(user.interest, item.vector);
  const fit = basketFit(world, cart, item, true);
  return fit === null ? interest : Math.max(interest, fit);
}

/**
 * Probability of adding `itemId` to the cart on arriving at its detail page in `state` (0 when it is in the
 * cart already or was bought in this session).
 */
export function addToCartProbability(world: World, user: User, state: WalkState, itemId: string, o: WalkOptions = DEFAULT_WALK): number {
  if (!world.has(itemId) || state.cart.includes(itemId) || state.purchased.includes(itemId)) return 0;
  return o.addToCart * logistic(want(world, user, state.cart, itemId), o.buyThreshold, o.buySharpness);
}

/** Probability of leaving after `poorPages` pages in a row without a click. */
export function leaveProbability(user: User, poorPages: number): number {
  return poorPages <= 0 ? 0 : 1 - Math.exp(-poorPages / user.patience);
}

/** What the user does on a page showing `shown` (display order), and where the walk goes next. */
export function walkPage(
  world: World, user: User, state: WalkState, shown: readonly string[], random: Random, o: WalkOptions = DEFAULT_WALK,
): PageResult {
  if (state.ended) throw new Error('the walk has ended');
  if (shown.length === 0) throw new Error('a page must show at least one item');
  // The page's draws, always the same number (common random numbers across policies).
  const uFatigue = random();
  const uAdd = random();
  const uCheckout = random();
  const uSlots = shown.map(() => random());
  const uLeave = random();

  const pages = state.pages + 1;
  const seen = [...state.seen, ...shown];
  const from = state.page.scenario;
  const skips = (end: number): WalkAction[] => Array.from({ length: end }, (_, position) => ({ type: 'skip', position }));
  const leave = (): PageResult => ({
    actions: [...skips(shown.length - 1), { type: 'leave' }],
    state: { ...state, pages, seen, poorPages: state.poorPages + 1, ended: true },
    clicked: null,
  });
  const go = (actions: WalkAction[], next: Partial<WalkState> & { page: Page }): PageResult => ({
    actions: [...skips(shown.length), ...actions],
    state: { ...state, pages, seen, ...next },
    clicked: null,
  });

  if (uFatigue < o.fatigue || pages >= o.maxPages) return leave();
  const counts = seenCounts(state);
  for (let position = 0; position < shown.length; position++) {
    const itemId = shown[position]!;
    if (uSlots[position]! >= clickProbability(world, user, state, itemId, position, o, shown.slice(0, position), counts)) continue;
    const actions: WalkAction[] = [...skips(position), { type: 'click', position }, { type: 'page_change', from, to: 'detail', itemId }];
    let next: WalkState = { ...state, pages, seen, page: { scenario: 'detail', itemId }, lastDetail: itemId, poorPages: 0 };
    // On the clicked item's page: add it to the cart at once (and go to the cart), and check out on arriving there.
    if (uAdd < addToCartProbability(world, user, next, itemId, o)) {
      actions.push({ type: 'add_to_cart', itemId }, { type: 'page_change', from: 'detail', to: 'cart', itemId: null });
      next = { ...next, page: { scenario: 'cart' }, cart: [...next.cart, itemId] };
      if (uCheckout < o.checkout) {
        actions.push({ type: 'page_change', from: 'cart', to: 'order', itemId: null }, { type: 'purchase', itemIds: next.cart });
        next = { ...next, page: { scenario: 'order' }, ordered: next.cart, purchased: [...next.purchased, ...next.cart], cart: [] };
      }
    }
    return { actions, state: next, clicked: position };
  }

  const poorPages = state.poorPages + 1;
  if (uLeave < leaveProbability(user, poorPages)) return leave();
  const page = state.page;
  switch (page.scenario) {
    case 'entrance':
      return go([], { page, poorPages });
    case 'cart':
      if (state.lastDetail !== null) {
        return go([{ type: 'page_change', from, to: 'detail', itemId: state.lastDetail }], { page: { scenario: 'detail', itemId: state.lastDetail }, poorPages });
      }
      return go([{ type: 'page_change', from, to: 'entrance', itemId: null }], { page: { scenario: 'entrance' }, poorPages });
    case 'detail':
    case 'order':
      return go([{ type: 'page_change', from, to: 'entrance', itemId: null }], { page: { scenario: 'entrance' }, poorPages });
  }
}
