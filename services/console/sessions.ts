/**
 * Simulated sessions and transitions → the console's session and scenario panels. Pure.
 *
 * Reward per session over time: at evenly spaced times, the mean reward of the `window` sessions that ended
 * last before it, with its 95% interval (mean ± 1.96·sd/√n, as the demo's report: services/demo/stats.ts),
 * and the same window's clicks, pages (session length) and purchases per session. Per scenario: what the
 * sessionizer made of each shown item (one transition: click, purchase, skip or the session's leave) on
 * the entrance, detail, cart and order pages, in totals and per time bucket.
 */
import { SCENARIOS, type Behaviour, type Scenario } from '../common/index.js';
import { Z95 } from '../demo/stats.js';
import type { ScenarioRow, ScenariosPanel, SessionSeries, SessionsPanel } from './view.js';

/** What the panel reads of a session record (services/simulator: SessionRecord). */
export interface SessionLike {
  endedAt: number;
  reward: number;
  clicks: number;
  pages: number;
  purchases: number;
  fallbackPages: number;
  errors: number;
}

const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
const orNull = (x: number) => (Number.isFinite(x) ? r4(x) : null);

export function sessionsPanel(records: readonly SessionLike[], opts: { window: number; points: number }): SessionsPanel {
  const { window, points } = opts;
  if (!Number.isInteger(window) || window < 1) throw new RangeError(`window must be a positive integer, got ${window}`);
  if (!Number.isInteger(points) || points < 2) throw new RangeError(`points must be an integer ≥ 2, got ${points}`);
  const sorted = [...records].sort((a, b) => a.endedAt - b.endedAt);
  const n = sorted.length;
  // Prefix sums: the statistics of any run of consecutive sessions in O(1).
  const sum = { reward: [0], square: [0], clicks: [0], pages: [0], purchases: [0] };
  for (const s of sorted) {
    sum.reward.push(sum.reward.at(-1)! + s.reward);
    sum.square.push(sum.square.at(-1)! + s.reward * s.reward);
    sum.clicks.push(sum.clicks.at(-1)! + s.clicks);
    sum.pages.push(sum.pages.at(-1)! + s.pages);
    sum.purchases.push(sum.purchases.at(-1)! + s.purchases);
  }
  const stats = (end: number) => {
    const begin = Math.max(0, end - window);
    const k = end - begin;
    const d = (xs: number[]) => xs[end]! - xs[begin]!;
    const mean = d(sum.reward) / k;
    const variance = k < 2 ? 0 : Math.max(0, (d(sum.square) - k * mean * mean) / (k - 1));
    const half = (Z95 * Math.sqrt(variance)) / Math.sqrt(k);
    return { n: k, mean, low: mean - half, high: mean + half, clicks: d(sum.clicks) / k, pages: d(sum.pages) / k, purchases: d(sum.purchases) / k };
  };

  const series: SessionSeries = { t: [], n: [], mean: [], low: [], high: [], clicks: [], pages: [], purchases: [] };
  if (n > 0) {
    const t0 = sorted[0]!.endedAt;
    const t1 = sorted[n - 1]!.endedAt;
    const count = t1 === t0 ? 1 : Math.min(points, n);
    let end = 0;
    for (let i = 0; i < count; i++) {
      const t = count === 1 ? t1 : t0 + ((t1 - t0) * i) / (count - 1);
      while (end < n && sorted[end]!.endedAt <= t) end++;
      const s = stats(end);
      series.t.push(Math.round(t) / 1000);
      series.n.push(s.n);
      series.mean.push(r4(s.mean));
      series.low.push(r4(s.low));
      series.high.push(r4(s.high));
      series.clicks.push(r4(s.clicks));
      series.pages.push(r4(s.pages));
      series.purchases.push(r4(s.purchases));
    }
  }
  const last = n > 0 ? stats(n) : null;
  return {
    available: true,
    window,
    sessions: n,
    lengthUnit: 'pages',
    notCounted: null,
    latest: {
      n: last?.n ?? 0,
      mean: last ? orNull(last.mean) : null,
      low: last ? orNull(last.low) : null,
      high: last ? orNull(last.high) : null,
      clicks: last ? orNull(last.clicks) : null,
      pages: last ? orNull(last.pages) : null,
      purchases: last ? orNull(last.purchases) : null,
    },
    overall: {
      mean: n ? orNull(sum.reward[n]! / n) : null,
      clicks: n ? orNull(sum.clicks[n]! / n) : null,
      pages: n ? orNull(sum.pages[n]! / n) : null,
      fallbackPages: sorted.reduce((a, s) => a + s.fallbackPages, 0),
      errors: sorted.reduce((a, s) => a + s.errors, 0),
    },
    series,
  };
}

/** What the tally reads of a transition (services/common: Transition). */
export interface TransitionLike {
  scenario: Scenario;
  behaviour: Behaviour;
  reward: number;
  eventTime: number;
}

/** Outcomes of one scenario's shown items. */
export interface ScenarioCounts {
  items: number;
  clicks: number;
  purchases: number;
  skips: number;
  leaves: number;
  reward: number;
}

type Counts = ScenarioCounts;
const zero = (): Counts => ({ items: 0, clicks: 0, purchases: 0, skips: 0, leaves: 0, reward: 0 });
const perScenario = () => Object.fromEntries(SCENARIOS.map((s) => [s, zero()])) as Record<Scenario, Counts>;

/**
 * Running per-scenario counts of transitions, in total and per time bucket (the newest `maxBuckets` kept):
 * one transition at a time (the demo's transitions log), or counts at once (a deployment's counters).
 */
export class ScenarioTally {
  private readonly totals = perScenario();
  private readonly buckets = new Map<number, Record<Scenario, Counts>>();

  constructor(
    readonly bucketMs = 10_000,
    readonly maxBuckets = 720,
  ) {
    if (!(bucketMs > 0) || !Number.isInteger(maxBuckets) || maxBuckets < 1) throw new RangeError('bucketMs must be > 0 and maxBuckets a positive integer');
  }

  private bucket(at: number): Record<Scenario, Counts> {
    const start = Math.floor(at / this.bucketMs) * this.bucketMs;
    let bucket = this.buckets.get(start);
    if (!bucket) {
      bucket = perScenario();
      this.buckets.set(start, bucket);
      if (this.buckets.size > this.maxBuckets) this.buckets.delete(Math.min(...this.buckets.keys()));
    }
    return bucket;
  }

  add(transitions: Iterable<TransitionLike>): void {
    for (const t of transitions) {
      const bucket = this.bucket(t.eventTime);
      for (const c of [this.totals[t.scenario], bucket[t.scenario]]) {
        c.items++;
        c.reward += t.reward;
        if (t.behaviour === 'click') c.clicks++;
        else if (t.behaviour === 'purchase') c.purchases++;
        else if (t.behaviour === 'skip') c.skips++;
        else if (t.behaviour === 'leave') c.leaves++;
      }
    }
  }

  /** Counts of one scenario at once: into the totals, and into the bucket of `at` (Unix ms) unless it is null. */
  addCounts(scenario: Scenario, counts: Counts, at: number | null): void {
    const into = at === null ? [this.totals[scenario]] : [this.totals[scenario], this.bucket(at)[scenario]];
    for (const c of into) for (const k of Object.keys(c) as (keyof Counts)[]) c[k] += counts[k];
  }

  panel(): ScenariosPanel {
    const rows: ScenarioRow[] = SCENARIOS.map((scenario) => {
      const c = this.totals[scenario];
      const rate = (x: number) => (c.items ? r4(x / c.items) : null);
      return { scenario, ...c, reward: r4(c.reward), clickRate: rate(c.clicks + c.purchases), leaveRate: rate(c.leaves), rewardPerItem: rate(c.reward) };
    });
    const starts = [...this.buckets.keys()].sort((a, b) => a - b);
    const clickRate = Object.fromEntries(SCENARIOS.map((s) => [
      s,
      starts.map((b) => {
        const c = this.buckets.get(b)![s];
        return c.items ? r4((c.clicks + c.purchases) / c.items) : null;
      }),
    ])) as Record<Scenario, (number | null)[]>;
    return { available: true, rows, series: { t: starts.map((b) => (b + this.bucketMs / 2) / 1000), bucketSeconds: this.bucketMs / 1000, clickRate } };
  }
}

/**
 * A dead letter's reason without the ids in it (quoted values, anything with a digit), so letters of one
 * kind count together: "session demo1-u5-3 is already closed" → "session … is already closed".
 */
export function reasonKind(reason: string): string {
  return reason
    .replace(/(^|[\s(:=])(?:'[^']*'|"[^"]*")(?=$|[\s),.;:])/g, '$1…')
    .replace(/[\w.:-]*\d[\w.:-]*/g, '…')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Reasons counted by kind, most frequent first. */
export function countReasons(reasons: Iterable<string>): { reason: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const r of reasons) {
    const k = reasonKind(r);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
}
