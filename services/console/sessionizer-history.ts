/**
 * The session and scenario panels of a deployment, from the sessionizers' outcome counters read at each
 * scrape (metrics-view.ts: SessionizerReading). Pure.
 *
 * Counters → totals. Each sessionizer's counters run from its process's start, so the history adds, per
 * sessionizer (by its name in CONSOLE_METRICS_URLS), what changed since its previous reading; a counter that
 * went down means the process restarted (as Prometheus's `increase` reads it), and its whole new reading is
 * what changed. A sessionizer's first reading counts in full: the totals start from what it had counted
 * before the console looked. Summed over the sessionizers, the totals grow as the sessions end.
 *
 * Reward per session over time. At each scrape, the sessions that ended in the window back to the latest
 * earlier scrape with at least `window` sessions between it and this one (or back to the first reading): n,
 * Σ reward and Σ reward² of those sessions give the mean with its 95% interval, mean ± 1.96·sd/√n (as the
 * demo's report: services/demo/stats.ts), and their transitions by behaviour give clicks, purchases and
 * length (items with an outcome) per session. Per scenario: the totals by scenario and behaviour, and the
 * click-or-buy rate per time bucket from the differences between scrapes.
 */
import { BEHAVIOURS, SCENARIOS, type Behaviour } from '../common/index.js';
import { Z95 } from '../demo/stats.js';
import type { SessionizerReading } from './metrics-view.js';
import { ScenarioTally, type ScenarioCounts } from './sessions.js';
import type { ScenariosPanel, SessionSeries, SessionsPanel } from './view.js';

/** Counted sessions summed over the sessionizers since their first reading. */
interface SessionTotals {
  n: number;
  reward: number;
  squares: number;
  behaviours: Record<Behaviour, number>;
  partial: number;
  empty: number;
}

const zeroBehaviours = (): Record<Behaviour, number> => ({ click: 0, skip: 0, leave: 0, purchase: 0 });
const zeroTotals = (): SessionTotals => ({ n: 0, reward: 0, squares: 0, behaviours: zeroBehaviours(), partial: 0, empty: 0 });
const copy = (t: SessionTotals): SessionTotals => ({ ...t, behaviours: { ...t.behaviours } });
const length = (b: Record<Behaviour, number>) => BEHAVIOURS.reduce((n, x) => n + b[x], 0);

const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
const orNull = (x: number) => (Number.isFinite(x) ? r4(x) : null);

/** Whether any counter of `now` is below `before`: the process restarted in between. */
export function restarted(before: SessionizerReading, now: SessionizerReading): boolean {
  const counters = (r: SessionizerReading) => [
    r.counted, r.squares, r.partial, r.empty, ...BEHAVIOURS.map((b) => r.behaviours[b]),
    ...SCENARIOS.flatMap((s) => BEHAVIOURS.map((b) => r.scenarios[s][b])),
  ];
  const a = counters(before);
  return counters(now).some((x, i) => x < a[i]!);
}

export class SessionizerHistory {
  private readonly last = new Map<string, SessionizerReading>();
  private readonly samples: { at: number; totals: SessionTotals }[] = [];
  /** The totals before the oldest sample kept (zero until samples are dropped). */
  private base = zeroTotals();
  private totals = zeroTotals();
  private readonly tally: ScenarioTally;

  constructor(
    readonly window = 200,
    readonly maxSamples = 720,
    bucketMs = 10_000,
  ) {
    if (!Number.isInteger(window) || window < 1) throw new RangeError(`window must be a positive integer, got ${window}`);
    this.tally = new ScenarioTally(bucketMs);
  }

  /** The sessionizers' readings at `at` (Unix ms); readings older than the newest sample, or none, change nothing. */
  push(at: number, readings: readonly { name: string; reading: SessionizerReading }[]): void {
    const newest = this.samples.at(-1);
    if (readings.length === 0 || (newest && at <= newest.at)) return;
    for (const { name, reading } of readings) {
      const before = this.last.get(name);
      const from = before && !restarted(before, reading) ? before : null;
      const d = (now: number, then: number | undefined) => now - (from ? then! : 0);
      const t = this.totals;
      t.n += d(reading.counted, before?.counted);
      t.reward += d(reading.reward, before?.reward);
      t.squares += d(reading.squares, before?.squares);
      t.partial += d(reading.partial, before?.partial);
      t.empty += d(reading.empty, before?.empty);
      for (const b of BEHAVIOURS) t.behaviours[b] += d(reading.behaviours[b], before?.behaviours[b]);
      for (const s of SCENARIOS) {
        const c = (b: Behaviour) => d(reading.scenarios[s][b], before?.scenarios[s][b]);
        const counts: ScenarioCounts = {
          items: BEHAVIOURS.reduce((n, b) => n + c(b), 0),
          clicks: c('click'), purchases: c('purchase'), skips: c('skip'), leaves: c('leave'),
          reward: BEHAVIOURS.reduce((n, b) => n + c(b) * reading.rewards[b], 0),
        };
        // A first reading spans the process's whole life: in the totals, not in the bucket of this scrape.
        this.tally.addCounts(s, counts, before ? at : null);
      }
      this.last.set(name, reading);
    }
    this.samples.push({ at, totals: copy(this.totals) });
    if (this.samples.length > this.maxSamples) this.base = this.samples.splice(0, this.samples.length - this.maxSamples).at(-1)!.totals;
  }

  get size(): number {
    return this.samples.length;
  }

  sessionsPanel(): SessionsPanel {
    const stats = (to: SessionTotals, from: SessionTotals) => {
      const k = to.n - from.n;
      const mean = (to.reward - from.reward) / k;
      const variance = k < 2 ? 0 : Math.max(0, (to.squares - from.squares - k * mean * mean) / (k - 1));
      const half = Z95 * Math.sqrt(variance / k);
      const per = (b: Behaviour) => (to.behaviours[b] - from.behaviours[b]) / k;
      return { n: k, mean, low: mean - half, high: mean + half, clicks: per('click'), pages: (length(to.behaviours) - length(from.behaviours)) / k, purchases: per('purchase') };
    };
    const series: SessionSeries = { t: [], n: [], mean: [], low: [], high: [], clicks: [], pages: [], purchases: [] };
    let latest: ReturnType<typeof stats> | null = null;
    // Two pointers: `from` is the newest sample (or the base, -1) at least `window` sessions before sample i.
    let from = -1;
    const at = (j: number) => (j < 0 ? this.base : this.samples[j]!.totals);
    this.samples.forEach((s, i) => {
      while (from + 1 < i && s.totals.n - at(from + 1).n >= this.window) from++;
      if (s.totals.n - at(from).n === 0) return;
      const x = stats(s.totals, at(from));
      latest = x;
      series.t.push(s.at / 1000);
      series.n.push(x.n);
      series.mean.push(r4(x.mean));
      series.low.push(r4(x.low));
      series.high.push(r4(x.high));
      series.clicks.push(r4(x.clicks));
      series.pages.push(r4(x.pages));
      series.purchases.push(r4(x.purchases));
    });
    const t = this.totals;
    const l = latest as ReturnType<typeof stats> | null;
    return {
      available: true,
      window: this.window,
      sessions: t.n,
      lengthUnit: 'items',
      notCounted: { partial: t.partial, empty: t.empty },
      latest: {
        n: l?.n ?? 0,
        mean: l ? orNull(l.mean) : null,
        low: l ? orNull(l.low) : null,
        high: l ? orNull(l.high) : null,
        clicks: l ? orNull(l.clicks) : null,
        pages: l ? orNull(l.pages) : null,
        purchases: l ? orNull(l.purchases) : null,
      },
      overall: {
        mean: t.n ? orNull(t.reward / t.n) : null,
        clicks: t.n ? orNull(t.behaviours.click / t.n) : null,
        pages: t.n ? orNull(length(t.behaviours) / t.n) : null,
        fallbackPages: null,
        errors: null,
      },
      series,
    };
  }

  scenariosPanel(): ScenariosPanel {
    return this.tally.panel();
  }
}
