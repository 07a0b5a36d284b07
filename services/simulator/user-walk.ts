/**
 * One simulated user's walk along the chain of the paper's Figure 1 (§1): entrance feed → item detail
 * pages → cart → order page, leaving at any point. Pure: (world, user, walk state, the items a page shows,
 * a random stream) → (what the user does, the next walk state). The session driver (session.ts) turns
 * the actions into SDK events.
 *
 * On each page the user reads the shown items in display order and clicks one with a probability that
 * rises with its hidden affinity, and falls with its position:
 *   - entrance: affinity = similarity to the user's interest (broad interests);
 *   - detail:   similarity to the page's item, blended with the interest;
 *   - cart / order: similarity to the cart's (the order's) items, blended with the interest.
 * A click opens the clicked item's detail page. A page without a click is a poor page; after it the user
 * leaves with probability 1 − exp(−poorPagesInARow / patience), so a run of poor recommendations ends a
 * session sooner. Otherwise, with nothing clicked, the user moves on as Figure 1 allows: the entrance
 * feed shows the next page; a detail page adds its item to the cart (more likely the better it fits the
 * user) or goes back to the entrance; the cart checks out (order page, purchase) or returns to the last
 * detail page; the order page returns to the entrance. Each page may also end the session at once
 * (fatigue), and a session ends after `maxPages` pages.
 *
 * Leaves happen while a page's list is showing, so the sessionizer gives the leave (reward −2) to that
 * list's last item (DESIGN.md §3); skipped items are reported explicitly, up to the leave.
 */
import type { Scenario } from '../common/index.js';
import type { Random } from './random.js';
import { similarity, type User, type World } from './world.js';

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
  readonly lastDetail: string | null;
  /** Pages in a row without a click. */
  readonly poorPages: number;
  readonly pages: number;
  readonly ended: boolean;
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
  /** Steepness of the click probability around the threshold. */
  sharpness: number;
  /** Each position further down multiplies the click probability by this (position bias). */
  positionDecay: number;
  /** Detail pages: weight of the similarity to the page's item (the rest: the user's interest). */
  detailWeight: number;
  /** Cart and order pages: weight of the similarity to the cart's or order's items. */
  basketWeight: number;
  /** Probability of adding a perfectly fitting item to the cart from its detail page. */
  addToCart: number;
  /** Probability of checking out from the cart when nothing there was clicked. */
  checkout: number;
  /** Probability of leaving on arriving at any page. */
  fatigue: number;
  maxPages: number;
}

export const DEFAULT_WALK: Readonly<WalkOptions> = Object.freeze({
  clickMax: 0.6,
  clickFloor: 0.01,
  threshold: 0.55,
  sharpness: 12,
  positionDecay: 0.9,
  detailWeight: 0.6,
  basketWeight: 0.5,
  addToCart: 0.5,
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
  return { page: { scenario: 'entrance' }, cart: [], ordered: [], lastDetail: null, poorPages: 0, pages: 0, ended: false };
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

/** Hidden affinity of the user for an item on the current page, about −1…1 (scenario-dependent, see top). */
export function affinity(world: World, user: User, state: WalkState, itemId: string, o: WalkOptions = DEFAULT_WALK): number {
  const item = world.item(itemId).vector;
  const interest = similarity(user.interest, item);
  const page = state.page;
  if (page.scenario === 'entrance') return interest;
  if (page.scenario === 'detail') {
    return o.detailWeight * similarity(world.item(page.itemId).vector, item) + (1 - o.detailWeight) * interest;
  }
  const basket = page.scenario === 'cart' ? state.cart : state.ordered;
  if (basket.length === 0) return interest;
  let s = 0;
  for (const id of basket) s += similarity(world.item(id).vector, item);
  return o.basketWeight * (s / basket.length) + (1 - o.basketWeight) * interest;
}

export function clickProbability(
  world: World, user: User, state: WalkState, itemId: string, position: number, o: WalkOptions = DEFAULT_WALK,
): number {
  if (!world.has(itemId)) return 0;
  if (state.page.scenario === 'detail' && state.page.itemId === itemId) return 0; // the item on show already
  const a = affinity(world, user, state, itemId, o);
  const fit = 1 / (1 + Math.exp(-o.sharpness * (a - o.threshold)));
  return (o.clickFloor + (o.clickMax - o.clickFloor) * fit) * o.positionDecay ** position;
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
  const pages = state.pages + 1;
  const from = state.page.scenario;
  const skipsBefore = (end: number): WalkAction[] => Array.from({ length: end }, (_, position) => ({ type: 'skip', position }));
  const leave = (): PageResult => ({
    actions: [...skipsBefore(shown.length - 1), { type: 'leave' }],
    state: { ...state, pages, poorPages: state.poorPages + 1, ended: true },
    clicked: null,
  });

  if (random() < o.fatigue || pages >= o.maxPages) return leave();

  for (let position = 0; position < shown.length; position++) {
    const itemId = shown[position]!;
    if (random() < clickProbability(world, user, state, itemId, position, o)) {
      return {
        actions: [...skipsBefore(position), { type: 'click', position }, { type: 'page_change', from, to: 'detail', itemId }],
        state: { ...state, pages, page: { scenario: 'detail', itemId }, lastDetail: itemId, poorPages: 0 },
        clicked: position,
      };
    }
  }

  const poorPages = state.poorPages + 1;
  if (random() < leaveProbability(user, poorPages)) return leave();
  const moved = (actions: WalkAction[], next: Partial<WalkState> & { page: Page }): PageResult => ({
    actions: [...skipsBefore(shown.length), ...actions],
    state: { ...state, pages, poorPages, ...next },
    clicked: null,
  });
  const page = state.page;
  switch (page.scenario) {
    case 'entrance':
      return moved([], { page });
    case 'detail': {
      const fit = 1 / (1 + Math.exp(-o.sharpness * (similarity(user.interest, world.item(page.itemId).vector) - o.threshold)));
      if (random() < o.addToCart * fit) {
        return moved(
          [{ type: 'add_to_cart', itemId: page.itemId }, { type: 'page_change', from, to: 'cart', itemId: null }],
          { page: { scenario: 'cart' }, cart: [...state.cart, page.itemId] },
        );
      }
      return moved([{ type: 'page_change', from, to: 'entrance', itemId: null }], { page: { scenario: 'entrance' } });
    }
    case 'cart':
      if (state.cart.length > 0 && random() < o.checkout) {
        return moved(
          [{ type: 'page_change', from, to: 'order', itemId: null }, { type: 'purchase', itemIds: state.cart }],
          { page: { scenario: 'order' }, ordered: state.cart, cart: [] },
        );
      }
      if (state.lastDetail !== null) {
        return moved(
          [{ type: 'page_change', from, to: 'detail', itemId: state.lastDetail }],
          { page: { scenario: 'detail', itemId: state.lastDetail } },
        );
      }
      return moved([{ type: 'page_change', from, to: 'entrance', itemId: null }], { page: { scenario: 'entrance' } });
    case 'order':
      return moved([{ type: 'page_change', from, to: 'entrance', itemId: null }], { page: { scenario: 'entrance' } });
  }
}
