/**
 * What a simulated session is worth: the rewards of the paper's §4.1 (click 1, skip 0, leave −2) plus a
 * purchase, paid per purchased item and worth more than a click (default 5), so a policy that gets clicks
 * on items the user will not buy earns less than one whose clicks lead to the cart and the order page.
 * The oracles (oracles.ts) and the in-process sessions (walk-session.ts) score with these. The demo's
 * sessions are scored as the sessionizer scores their transitions (click, skip, leave: session.ts), since
 * purchases made at checkout join the user's state but no shown list (DESIGN.md §3).
 */
import type { Rewards } from '../common/index.js';
import type { WalkAction } from './user-walk.js';

export const SIMULATOR_REWARDS: Rewards = Object.freeze({ click: 1, skip: 0, leave: -2, purchase: 5 });

/** Σ rewards of a page's actions: click, skip and leave once each, purchase once per purchased item. */
export function rewardOf(actions: readonly WalkAction[], rewards: Rewards = SIMULATOR_REWARDS): number {
  let r = 0;
  for (const a of actions) {
    if (a.type === 'click') r += rewards.click;
    else if (a.type === 'skip') r += rewards.skip;
    else if (a.type === 'leave') r += rewards.leave;
    else if (a.type === 'purchase') r += rewards.purchase * a.itemIds.length;
  }
  return r;
}

/** Refuses non-finite rewards, naming the behaviour. */
export function validateRewards(rewards: Rewards): void {
  for (const [k, v] of Object.entries(rewards)) {
    if (!Number.isFinite(v)) throw new RangeError(`reward ${k} must be a finite number, got ${v}`);
  }
}
