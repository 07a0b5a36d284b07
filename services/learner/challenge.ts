/**
 * The challenger's own traffic as the release gate (README: challenger traffic). While a challenger serves
 * its share of users (serving/challenger.ts), the learner tallies, from the transitions it reads anyway, the
 * reward per page of the pages the challenger chose and of the pages the live version chose in the same
 * period (different users: the serving draw splits them). On-policy: each arm's value is what that version
 * earned when deployed, chain effects included, which an off-policy estimate on logged pages cannot see.
 *
 * Per arm and user: the sum of the shown items' rewards (clicks, skips, leaves; purchases are not per shown
 * item and are left out) and the pages. A page is a run of one list's transitions (as validation.ts
 * loggedPages cuts them): a new page wherever the session, scenario or state changes or the display position
 * does not increase.
 */
import type { Transition } from '../common/index.js';
import { seededRandom } from '../model/index.js';
import { clearsMargin } from './validation.js';

/** Per user of an arm: the sum of page rewards and the pages (the unit of the bootstrap). */
export interface UserTotals { readonly sums: Float64Array; readonly pages: Float64Array }

export interface OnPolicyDifference {
  /** Per-page value of the challenger's arm minus the live one's. */
  readonly estimate: number;
  /** 95% percentile bootstrap, each arm's users resampled apart. */
  readonly low: number;
  readonly high: number;
}

/** The per-page value of an arm: Σ rewards / Σ pages over its users. */
export function perPageValue(t: UserTotals): number {
  return t.sums.reduce((a, b) => a + b, 0) / t.pages.reduce((a, b) => a + b, 0);
}

function resampled(t: UserTotals, random: () => number): number {
  let s = 0;
  let p = 0;
  for (let i = 0; i < t.sums.length; i++) {
    const j = Math.floor(random() * t.sums.length);
    s += t.sums[j]!;
    p += t.pages[j]!;
  }
  return s / p;
}

/** The 2.5th and 97.5th percentiles of `resamples` bootstrap draws. */
function percentiles(resamples: number, draw: () => number): { low: number; high: number } {
  const draws = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) draws[r] = draw();
  draws.sort();
  return { low: draws[Math.floor(0.025 * (resamples - 1))]!, high: draws[Math.ceil(0.975 * (resamples - 1))]! };
}

/** An arm's per-page value with a 95% percentile bootstrap over its units (users, or sessions). */
export function perPageInterval(t: UserTotals, resamples: number, seed: number): { perPage: number; low: number; high: number } {
  const random = seededRandom(seed);
  return { perPage: perPageValue(t), ...percentiles(resamples, () => resampled(t, random)) };
}

/** Challenger − live per page, with a 95% interval from `resamples` draws that resample each arm's users apart. */
export function onPolicyDifference(challenger: UserTotals, live: UserTotals, resamples: number, seed: number): OnPolicyDifference {
  if (challenger.sums.length === 0 || live.sums.length === 0) throw new Error('onPolicyDifference: an arm has no users');
  const random = seededRandom(seed);
  return {
    estimate: perPageValue(challenger) - perPageValue(live),
    ...percentiles(resamples, () => resampled(challenger, random) - resampled(live, random)),
  };
}

interface UserArm {
  sum: number;
  pages: number;
  /** Where the user's last counted transition was: a page ends where this changes or the position does not increase. */
  last: { readonly session: string; readonly scenario: string; readonly state: string; readonly position: number } | null;
}

/** The two arms of one challenge, filled from transitions as the learner reads them. */
export class ChallengeTally {
  private readonly arms = { challenger: new Map<string, UserArm>(), live: new Map<string, UserArm>() };

  /** `since`: event time from which the live version's pages count (the challenger's start). */
  constructor(readonly challenger: number, readonly live: number, readonly since: number) {}

  add(transitions: readonly Transition[]): void {
    for (const t of transitions) {
      if (t.position === null || t.position === undefined) continue; // not a shown item (a purchase), or written before positions
      const arm = t.modelVersion === this.challenger ? this.arms.challenger
        : t.modelVersion === this.live && t.eventTime >= this.since ? this.arms.live : null;
      if (!arm) continue;
      let u = arm.get(t.userId);
      if (!u) arm.set(t.userId, (u = { sum: 0, pages: 0, last: null }));
      const at = { session: t.sessionId, scenario: t.scenario, state: t.state.join('\u0001'), position: t.position };
      const l = u.last;
      if (!l || l.session !== at.session || l.scenario !== at.scenario || l.state !== at.state || at.position <= l.position) u.pages++;
      u.sum += t.reward;
      u.last = at;
    }
  }

  pages(): { challenger: number; live: number } {
    const count = (m: Map<string, UserArm>) => [...m.values()].reduce((a, u) => a + u.pages, 0);
    return { challenger: count(this.arms.challenger), live: count(this.arms.live) };
  }

  totals(): { challenger: UserTotals; live: UserTotals } {
    const of = (m: Map<string, UserArm>): UserTotals => ({
      sums: Float64Array.from([...m.values()], (u) => u.sum), pages: Float64Array.from([...m.values()], (u) => u.pages),
    });
    return { challenger: of(this.arms.challenger), live: of(this.arms.live) };
  }
}

export type ChallengeVerdict =
  | { readonly status: 'insufficient'; readonly pages: { challenger: number; live: number } }
  | { readonly status: 'decided'; readonly promote: boolean; readonly difference: OnPolicyDifference; readonly pages: { challenger: number; live: number }; readonly users: { challenger: number; live: number } };

/**
 * Decides a challenge once each arm holds `minPages` pages: promote when the 95% lower bound of
 * challenger − live per page is above `margin` (the off-policy gate's rule, validation.ts clearsMargin).
 */
export function judgeChallenge(tally: ChallengeTally, rules: { minPages: number; margin: number; resamples: number; seed: number }): ChallengeVerdict {
  const pages = tally.pages();
  if (pages.challenger < rules.minPages || pages.live < rules.minPages) return { status: 'insufficient', pages };
  const t = tally.totals();
  const difference = onPolicyDifference(t.challenger, t.live, rules.resamples, rules.seed);
  return {
    status: 'decided', promote: clearsMargin(difference.low, rules.margin), difference, pages,
    users: { challenger: t.challenger.sums.length, live: t.live.sums.length },
  };
}
