/**
 * A synthetic whole-chain workload (entrance → detail → … → cart → order → leave) for the sessionizer's
 * property tests, chaos run and benchmark. Not used by the service itself. Deterministic for a seed.
 *
 * Each user walks sessions of pages; on each page a recommendation is shown and the user clicks one item
 * (sometimes after explicit skips), skips them all explicitly, buys one or two (order page), or ignores the list
 * and moves on. A session ends with an explicit leave or by going idle past the timeout. The generator
 * also tallies what the sessionizer must make of it (transitions per behaviour), independently of fold.ts.
 */
import type { Behaviour, Rewards, Scenario, UserEvent } from '../common/index.js';

export type Rng = () => number;

export { seededRandom as seededRng } from '../common/index.js';

export interface WorkloadOptions {
  sessions: number;
  /** Pages (recommendations) per session, at least 1. */
  pagesPerSession: number;
  maxItems: number;
  /** Gap between events of a session, ms (inclusive range); keep it below the timeout and wait window. */
  gapMs: [number, number];
  /** Gap before a session that starts after the previous one timed out; above the session timeout. */
  idleGapMs: number;
  catalogue: number;
}

export interface UserScript {
  events: UserEvent[];
  /** Transitions the sessionizer must emit, per behaviour, once every session is closed. */
  expected: Record<Behaviour, number>;
}

export function expectedReward(expected: Record<Behaviour, number>, rewards: Rewards): number {
  return (Object.keys(expected) as Behaviour[]).reduce((sum, b) => sum + expected[b] * rewards[b], 0);
}

/** One user's events, in event-time order, starting at `startTime`. */
export function generateUser(rng: Rng, userId: string, startTime: number, options: WorkloadOptions): UserScript {
  const { sessions, pagesPerSession, maxItems, gapMs, idleGapMs, catalogue } = options;
  const events: UserEvent[] = [];
  const expected: Record<Behaviour, number> = { click: 0, skip: 0, leave: 0, purchase: 0 };
  const int = (lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
  let t = startTime;
  let seq = 0;
  const base = (sessionId: string, scenario: Scenario) => {
    t += int(gapMs[0], gapMs[1]);
    return { eventId: `${userId}-e${seq++}`, userId, sessionId, eventTime: t, scenario };
  };

  for (let s = 0; s < sessions; s++) {
    const sessionId = `${userId}-s${s}`;
    let scenario: Scenario = 'entrance';
    /** Unresolved items of the pending list (0 = none pending). */
    let pending = 0;
    for (let page = 0; page < pagesPerSession; page++) {
      const last = page === pagesPerSession - 1;
      const items = Array.from({ length: int(1, maxItems) }, () => `i${int(0, catalogue - 1)}`);
      const requestId = `${sessionId}-r${page}`;
      if (pending > 0) expected.skip += pending; // superseded: passed over
      events.push({
        ...base(sessionId, scenario), type: 'recommendation', requestId, items,
        propensities: items.map(() => Math.round(rng() * 1000) / 1000), model: 'deepchain', modelVersion: int(1, 3),
      });
      pending = items.length;
      if (last) break; // the list stays pending: the session's end makes its last item the leave
      const roll = rng();
      if (scenario === 'order' && roll < 0.4) {
        const p = int(0, items.length - 1);
        // Sometimes a basket (no extra draws, so the rest of the walk is the same for a seed): a second
        // shown item with another id, listed before the first (not in display order), or an item the list
        // did not show (it joins the history, no transition).
        const q = items.length - 1 - p;
        const itemIds = roll < 0.2 && items[q] !== items[p] ? [items[q]!, items[p]!]
          : roll < 0.25 ? [`i${catalogue}`, items[p]!]
          : [items[p]!];
        events.push({ ...base(sessionId, scenario), type: 'purchase', itemIds });
        // Each shown id claims the first unresolved item with that id; unresolved items before the last
        // claimed one are skips.
        const claimed = itemIds.map((id) => items.indexOf(id)).filter((i) => i >= 0);
        expected.skip += Math.max(...claimed) + 1 - claimed.length;
        expected.purchase += claimed.length;
        pending = 0;
        continue;
      }
      if (roll < 0.55) {
        const p = int(0, items.length - 1);
        for (let i = 0; i < p; i++) {
          if (rng() < 0.3) events.push({ ...base(sessionId, scenario), type: 'skip', requestId, itemId: items[i]!, position: i });
        }
        events.push({ ...base(sessionId, scenario), type: 'click', requestId, itemId: items[p]!, position: p });
        expected.skip += p;
        expected.click += 1;
        pending = 0;
        events.push({ ...base(sessionId, scenario), type: 'page_change', from: scenario, to: 'detail', itemId: items[p]! });
        scenario = 'detail';
      } else if (roll < 0.7) {
        items.forEach((item, i) => events.push({ ...base(sessionId, scenario), type: 'skip', requestId, itemId: item, position: i }));
        expected.skip += items.length;
        pending = 0;
        // Skipping everything follows the graph's skip edge: cart → detail, any other page → entrance.
        const to: Scenario = (scenario as Scenario) === 'cart' ? 'detail' : 'entrance';
        if (to !== scenario) events.push({ ...base(sessionId, scenario), type: 'page_change', from: scenario, to, itemId: null });
        scenario = to;
      } else {
        // Ignores the list and goes on along the chain: detail → cart → order.
        const to: Scenario = scenario === 'entrance' ? 'detail' : scenario === 'detail' ? 'cart' : 'order';
        if (scenario === 'detail') events.push({ ...base(sessionId, scenario), type: 'add_to_cart', itemId: items[0]! });
        if (to !== scenario) events.push({ ...base(sessionId, scenario), type: 'page_change', from: scenario, to, itemId: null });
        scenario = to;
      }
    }
    expected.skip += pending - 1;
    expected.leave += 1;
    if (rng() < 0.5) events.push({ ...base(sessionId, scenario), type: 'leave' });
    else t += idleGapMs;
  }
  return { events, expected };
}
