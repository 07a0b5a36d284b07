/**
 * Paired comparisons (Efron & Tibshirani 1993, ch. 16; the paired bootstrap of Koehn 2004 for rankers
 * scored on the same items): two models scored on the same units (test views offline, sessions with
 * common random numbers online), every seed of each unit kept together. The statistic is the mean
 * per-unit difference a − b pooled over seeds; its 95% interval is the 2.5 and 97.5 percentiles of that
 * mean over resamples of the units with replacement. A model is `ahead` only when the whole interval is
 * above zero, `behind` when it is below, else `tied`.
 */
import { seededRandom } from '../model/index.js';

export type Standing = 'ahead' | 'behind' | 'tied';

export interface PairedInterval {
  /** Mean of a − b over every unit and seed. */
  readonly mean: number;
  readonly low: number;
  readonly high: number;
  /** Units resampled (views or sessions). */
  readonly units: number;
  readonly standing: Standing;
}

export interface BootstrapOptions {
  readonly resamples: number;
  readonly seed: number;
}

export const DEFAULT_BOOTSTRAP: BootstrapOptions = Object.freeze({ resamples: 2000, seed: 7 });

export function standingOf(low: number, high: number): Standing {
  return low > 0 ? 'ahead' : high < 0 ? 'behind' : 'tied';
}

/**
 * `a[s][u]` and `b[s][u]`: the metric of unit u under seed s for the two models (same units, same seeds;
 * NaN marks a unit a seed did not score, left out of both). Resamples units, keeping a unit's seeds together.
 */
export function pairedBootstrap(
  a: readonly (ArrayLike<number>)[], b: readonly (ArrayLike<number>)[], options: BootstrapOptions = DEFAULT_BOOTSTRAP,
): PairedInterval {
  if (a.length !== b.length || a.length === 0) throw new Error(`paired comparison needs the same seeds on both sides (got ${a.length} and ${b.length})`);
  const units = a[0]!.length;
  for (let s = 0; s < a.length; s++) {
    if (a[s]!.length !== units || b[s]!.length !== units) throw new Error('paired comparison needs the same units under every seed on both sides');
  }
  // Per unit: the sum of its seeds' differences and how many seeds scored it.
  const sum = new Float64Array(units);
  const count = new Float64Array(units);
  for (let s = 0; s < a.length; s++) {
    for (let u = 0; u < units; u++) {
      const d = a[s]![u]! - b[s]![u]!;
      if (Number.isNaN(d)) continue;
      sum[u]! += d;
      count[u]!++;
    }
  }
  let total = 0;
  let n = 0;
  for (let u = 0; u < units; u++) (total += sum[u]!), (n += count[u]!);
  if (n === 0) throw new Error('paired comparison over no scored units');
  const random = seededRandom(options.seed);
  const means = new Float64Array(options.resamples);
  for (let r = 0; r < options.resamples; r++) {
    let t = 0;
    let c = 0;
    for (let i = 0; i < units; i++) {
      const u = Math.floor(random() * units);
      t += sum[u]!;
      c += count[u]!;
    }
    means[r] = c > 0 ? t / c : 0;
  }
  means.sort();
  const low = means[Math.floor(0.025 * (options.resamples - 1))]!;
  const high = means[Math.ceil(0.975 * (options.resamples - 1))]!;
  return { mean: total / n, low, high, units, standing: standingOf(low, high) };
}
