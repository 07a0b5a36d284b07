/** The benchmarks' percentiles: the nearest-rank value at q (0–1) of ascending `sorted`; NaN when it is empty. */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}
