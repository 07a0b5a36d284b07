/**
 * The demo's verdict in numbers: mean reward per session of the first and the last decile of sessions
 * (in the order they began), each with a 95% interval (normal approximation: mean ± 1.96·sd/√n), and the
 * difference last − first with its own interval (Welch: ± 1.96·√(sd₁²/n₁ + sd₂²/n₂)). A difference whose
 * interval lies well above 0 is learning, not noise. Also the rolling mean the chart draws. Pure.
 */
export const Z95 = 1.959964;

export interface Interval {
  n: number;
  mean: number;
  /** Sample standard deviation (n − 1); 0 when n < 2. */
  sd: number;
  low: number;
  high: number;
}

export function meanInterval(xs: readonly number[], z = Z95): Interval {
  const n = xs.length;
  if (n === 0) return { n, mean: NaN, sd: NaN, low: NaN, high: NaN };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const sd = n < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
  const half = n < 2 ? 0 : (z * sd) / Math.sqrt(n);
  return { n, mean, sd, low: mean - half, high: mean + half };
}

/** The first and the last tenth of `xs` (at least one value each when there are any). */
export function deciles<T>(xs: readonly T[]): { first: T[]; last: T[] } {
  const size = xs.length === 0 ? 0 : Math.max(1, Math.floor(xs.length / 10));
  return { first: xs.slice(0, size), last: xs.slice(xs.length - size) };
}

export interface Difference {
  difference: number;
  low: number;
  high: number;
}

/** b − a with its interval. */
export function differenceInterval(a: Interval, b: Interval, z = Z95): Difference {
  const difference = b.mean - a.mean;
  const se = Math.sqrt((a.n > 0 ? a.sd ** 2 / a.n : 0) + (b.n > 0 ? b.sd ** 2 / b.n : 0));
  return { difference, low: difference - z * se, high: difference + z * se };
}

/** Mean of each value with the `window − 1` before it (fewer at the start). */
export function rollingMean(xs: readonly number[], window: number): number[] {
  if (!Number.isInteger(window) || window <= 0) throw new RangeError(`window must be a positive integer, got ${window}`);
  const out: number[] = [];
  let sum = 0;
  for (let i = 0; i < xs.length; i++) {
    sum += xs[i]!;
    if (i >= window) sum -= xs[i - window]!;
    out.push(sum / Math.min(i + 1, window));
  }
  return out;
}

export interface DecileSummary {
  sessions: number;
  first: Interval;
  last: Interval;
  difference: Difference;
}

/** Rewards in session order → the deciles and their difference. */
export function summariseRewards(rewards: readonly number[]): DecileSummary {
  const { first, last } = deciles(rewards);
  const a = meanInterval(first);
  const b = meanInterval(last);
  return { sessions: rewards.length, first: a, last: b, difference: differenceInterval(a, b) };
}

export function round(x: number, digits = 3): number | null {
  if (!Number.isFinite(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
