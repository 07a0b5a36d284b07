/** Mean and 95% Student-t interval over seeds (the offline and online tests report every number this way). */

/** t_{0.975, df} for df = 1..30 (standard tables); above 30 the normal 1.96 is within 2%. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101,
  2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

export function tQuantile975(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new Error(`degrees of freedom must be a positive integer, got ${df}`);
  return T975[df - 1] ?? 1.96;
}

export interface Interval {
  readonly mean: number;
  /** Half-width of the 95% t-interval (0 for a single value). */
  readonly halfWidth: number;
  readonly low: number;
  readonly high: number;
  readonly n: number;
  readonly values: readonly number[];
}

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('mean of no values');
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Sample standard deviation (n − 1). */
export function sampleSd(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

/** mean ± t_{0.975, n−1} · s / √n. */
export function tInterval(xs: readonly number[]): Interval {
  const m = mean(xs);
  const h = xs.length < 2 ? 0 : (tQuantile975(xs.length - 1) * sampleSd(xs)) / Math.sqrt(xs.length);
  return { mean: m, halfWidth: h, low: m - h, high: m + h, n: xs.length, values: [...xs] };
}
