/**
 * Off-policy evaluation of list policies on logged pages: the numbers behind the publisher's release gate
 * (DESIGN.md §4). Pure: arrays of numbers in, estimates out; no I/O and no model.
 *
 * A logged page holds the items it showed in display order, each with the logging policy's exact
 * probability μ_k of putting that item at position k (serving/ranking.ts logs it) and its observed reward
 * r_k (click 1, skip 0, leave −2). A target policy π is given as π_k, its probability of putting the same
 * item at the same position. Pages are valued position by position (the item-position estimator of
 * Li et al. 2018, "Offline evaluation of ranking policies with click models", KDD): the value of a page is
 * Σ_k E_π[r_k], with one importance weight per position, w_k = π_k / μ_k (optionally clipped to w ≤ c).
 * This is unbiased when a position's reward depends on the item at that position only, not on the rest of
 * the list; it needs far less data than weighting whole lists.
 *
 * Estimators, for page i of n and position k:
 * - IPS (Horvitz & Thompson 1952): V̂ = (1/n) Σ_i Σ_k w_ik·r_ik. Unbiased, high variance.
 * - SNIPS (Swaminathan & Joachims 2015, "The self-normalized estimator for counterfactual learning",
 *   NeurIPS): at each position Σ_i w_ik·r_ik / Σ_i w_ik, and the positions' values added up, each times the
 *   share n_k/n of pages that have position k, so that the list estimate stays on the per-page scale (all
 *   pages equally long: V̂ = Σ_k Σ_i w_ik·r_ik / Σ_i w_ik). Biased, consistent, much lower variance.
 * - DR (Dudík, Langford & Li 2011, "Doubly robust policy evaluation and learning", ICML):
 *   V̂ = (1/n) Σ_i Σ_k [v̂_ik + w_ik·(r_ik − q̂_ik)], with q̂_ik the direct model's expected reward of the
 *   logged item and v̂_ik = Σ_items π(item | k)·q̂(item) its expected reward under π, both computed by the
 *   caller. Unbiased when either the weights or the direct model are right.
 * Each is reported per page (÷ pages) and per session (÷ sessions; a session's value is its pages' sum).
 *
 * Intervals: 95% percentile bootstrap (Efron & Tibshirani 1993, ch. 13) over sessions, not pages, because
 * the pages of one session share a user and are not independent. SNIPS renormalises inside each resample.
 * Comparisons resample the same sessions for both policies (paired), so what both share cancels.
 * Effective sample size: Kish's (Σw)²/Σw² over every position's (clipped) weight.
 * Minimum data: 50,000 logged pages by default, Azure Personalizer's ballpark for meaningful offline
 * evaluations, and an effective sample size of 1,000, below which a few large weights decide the estimate.
 */
import { seededRandom } from '../common/random.js';

export type Estimator = 'ips' | 'snips' | 'dr';

export interface LoggedItem {
  readonly item: string;
  /** The logging policy's probability of this item at this position, in (0, 1]. */
  readonly propensity: number;
  readonly reward: number;
}

export interface LoggedPage {
  readonly sessionId: string;
  /** In display order. */
  readonly shown: readonly LoggedItem[];
}

/** One number per logged page and shown position: `[page][position]`, the log's shape. */
export type PerPosition = readonly (readonly number[])[];

export interface TargetPolicy {
  /** π(shown item | its position), in [0, 1]. */
  readonly probabilities: PerPosition;
  /** The direct model, read by the doubly robust estimator only. */
  readonly direct?: DirectModel;
}

export interface DirectModel {
  /** q̂: the expected reward of the logged item at its position. */
  readonly loggedItemReward: PerPosition;
  /** v̂ = Σ_items π(item | position)·q̂(item): the target policy's expected reward at that position. */
  readonly targetReward: PerPosition;
}

export interface OffPolicyOptions {
  readonly estimator: Estimator;
  /** Upper bound on every importance weight; none by default. */
  readonly clip?: number;
  readonly minPages?: number;
  readonly minEffectiveSampleSize?: number;
  /** Bootstrap resamples. */
  readonly resamples?: number;
  /** Seeds the bootstrap, so that the same log gives the same interval. */
  readonly seed?: number;
}

export const OFF_POLICY_DEFAULTS = Object.freeze({
  minPages: 50_000,
  minEffectiveSampleSize: 1_000,
  resamples: 2_000,
  seed: 7,
});

export interface OffPolicyInterval {
  readonly estimate: number;
  /** 2.5 and 97.5 percentiles over bootstrap resamples of the sessions. */
  readonly low: number;
  readonly high: number;
}

export interface InsufficientData {
  readonly status: 'insufficient';
  /** Names the count that fell short and its minimum. */
  readonly reason: string;
}

/** What a value and a comparison both report: the estimate per page and per session, on how much data. */
interface Estimate {
  readonly status: 'ok';
  readonly estimator: Estimator;
  readonly perPage: OffPolicyInterval;
  readonly perSession: OffPolicyInterval;
  readonly pages: number;
  readonly sessions: number;
}

export interface PolicyValue extends Estimate {
  readonly effectiveSampleSize: number;
}

/** candidate − live, both intervals from the same resampled sessions. */
export interface PolicyComparison extends Estimate {
  readonly effectiveSampleSize: { readonly candidate: number; readonly live: number };
}

/** The target policy's value on the logged pages, or why the log cannot tell. */
export function estimatePolicyValue(
  log: readonly LoggedPage[], target: TargetPolicy, options: OffPolicyOptions,
): PolicyValue | InsufficientData {
  const o = resolveOptions(options);
  const sessions = indexSessions(log);
  const sums = sessionSums(log, sessions, target, 'target', o);
  const short = shortfall(log.length, [['target', sums.effectiveSampleSize]], o);
  if (short) return short;
  return {
    status: 'ok',
    estimator: o.estimator,
    ...bootstrap([sums], sessions, ([v]) => v!, o),
    pages: log.length,
    sessions: sessions.count,
    effectiveSampleSize: sums.effectiveSampleSize,
  };
}

/** candidate − live on the same logged pages, paired over sessions; the release gate reads `perPage.low`. */
export function comparePolicies(
  log: readonly LoggedPage[], candidate: TargetPolicy, live: TargetPolicy, options: OffPolicyOptions,
): PolicyComparison | InsufficientData {
  const o = resolveOptions(options);
  const sessions = indexSessions(log);
  const c = sessionSums(log, sessions, candidate, 'candidate', o);
  const l = sessionSums(log, sessions, live, 'live', o);
  const short = shortfall(log.length, [['candidate', c.effectiveSampleSize], ['live', l.effectiveSampleSize]], o);
  if (short) return short;
  return {
    status: 'ok',
    estimator: o.estimator,
    ...bootstrap([c, l], sessions, ([a, b]) => a! - b!, o),
    pages: log.length,
    sessions: sessions.count,
    effectiveSampleSize: { candidate: c.effectiveSampleSize, live: l.effectiveSampleSize },
  };
}

type Resolved = Required<Omit<OffPolicyOptions, 'clip'>> & { readonly clip: number };

function resolveOptions(options: OffPolicyOptions): Resolved {
  const d = OFF_POLICY_DEFAULTS;
  const o = {
    estimator: options.estimator,
    clip: options.clip ?? Infinity,
    minPages: options.minPages ?? d.minPages,
    minEffectiveSampleSize: options.minEffectiveSampleSize ?? d.minEffectiveSampleSize,
    resamples: options.resamples ?? d.resamples,
    seed: options.seed ?? d.seed,
  };
  if (o.estimator !== 'ips' && o.estimator !== 'snips' && o.estimator !== 'dr') {
    throw new Error(`options.estimator must be 'ips', 'snips' or 'dr', got ${String(o.estimator)}`);
  }
  if (!(o.clip > 0)) throw new Error(`options.clip must be a positive number, got ${o.clip}`);
  if (!Number.isInteger(o.minPages) || o.minPages < 0) throw new Error(`options.minPages must be a non-negative integer, got ${o.minPages}`);
  if (!(o.minEffectiveSampleSize >= 0)) throw new Error(`options.minEffectiveSampleSize must be a non-negative number, got ${o.minEffectiveSampleSize}`);
  if (!Number.isInteger(o.resamples) || o.resamples < 1) throw new Error(`options.resamples must be a positive integer, got ${o.resamples}`);
  if (!Number.isInteger(o.seed)) throw new Error(`options.seed must be an integer, got ${o.seed}`);
  return o;
}

interface SessionIndex {
  /** Session number of each page, in order of first appearance. */
  readonly ofPage: Int32Array;
  readonly pagesOf: Float64Array;
  readonly count: number;
}

/** Groups pages by session (a session's pages need not be adjacent) and checks the logged numbers. */
function indexSessions(log: readonly LoggedPage[]): SessionIndex {
  const numbers = new Map<string, number>();
  const ofPage = new Int32Array(log.length);
  const pages: number[] = [];
  log.forEach((page, i) => {
    if (typeof page.sessionId !== 'string') throw new Error(`log[${i}].sessionId must be a string, got ${String(page.sessionId)}`);
    let s = numbers.get(page.sessionId);
    if (s === undefined) numbers.set(page.sessionId, (s = numbers.size)), pages.push(0);
    ofPage[i] = s;
    pages[s]!++;
    page.shown.forEach((slot, k) => {
      if (!(slot.propensity > 0 && slot.propensity <= 1)) {
        throw new Error(`log[${i}].shown[${k}].propensity must be in (0, 1], got ${slot.propensity}`);
      }
      if (!Number.isFinite(slot.reward)) throw new Error(`log[${i}].shown[${k}].reward must be a finite number, got ${slot.reward}`);
    });
  });
  return { ofPage, pagesOf: Float64Array.from(pages), count: numbers.size };
}

/**
 * Per session and column: the sum of the estimator's per-position terms, of the weights and the number of
 * positions added. IPS and DR add a page's positions into one column; SNIPS keeps one column per position,
 * because it normalises each position by its own weights.
 */
interface SessionSums {
  readonly columns: number;
  readonly normalised: boolean;
  readonly term: Float64Array;
  readonly weight: Float64Array;
  readonly present: Float64Array;
  readonly effectiveSampleSize: number;
}

function sessionSums(log: readonly LoggedPage[], sessions: SessionIndex, target: TargetPolicy, name: string, o: Resolved): SessionSums {
  const pi = checkShape(target.probabilities, `${name}.probabilities`, log, (x) => x >= 0 && x <= 1, 'in [0, 1]');
  let q: PerPosition = [];
  let v: PerPosition = [];
  if (o.estimator === 'dr') {
    if (!target.direct) throw new Error(`${name}.direct is required by the doubly robust estimator`);
    q = checkShape(target.direct.loggedItemReward, `${name}.direct.loggedItemReward`, log, Number.isFinite, 'finite');
    v = checkShape(target.direct.targetReward, `${name}.direct.targetReward`, log, Number.isFinite, 'finite');
  }
  const normalised = o.estimator === 'snips';
  const columns = normalised ? log.reduce((most, p) => Math.max(most, p.shown.length), 0) : 1;
  const term = new Float64Array(sessions.count * columns);
  const weight = new Float64Array(sessions.count * columns);
  const present = new Float64Array(sessions.count * columns);
  let sumW = 0;
  let sumW2 = 0;
  log.forEach((page, i) => {
    page.shown.forEach((slot, k) => {
      const w = Math.min(pi[i]![k]! / slot.propensity, o.clip);
      const c = sessions.ofPage[i]! * columns + (normalised ? k : 0);
      term[c]! += o.estimator === 'dr' ? v[i]![k]! + w * (slot.reward - q[i]![k]!) : w * slot.reward;
      weight[c]! += w;
      present[c]!++;
      sumW += w;
      sumW2 += w * w;
    });
  });
  return { columns, normalised, term, weight, present, effectiveSampleSize: sumW2 > 0 ? (sumW * sumW) / sumW2 : 0 };
}

function checkShape(
  values: PerPosition, field: string, log: readonly LoggedPage[], ok: (x: number) => boolean, rule: string,
): PerPosition {
  if (values.length !== log.length) throw new Error(`${field} has ${values.length} pages but the log has ${log.length}`);
  values.forEach((row, i) => {
    const shown = log[i]!.shown.length;
    if (row.length !== shown) throw new Error(`${field}[${i}] has ${row.length} positions but log[${i}].shown has ${shown}`);
    row.forEach((x, k) => {
      if (!ok(x)) throw new Error(`${field}[${i}][${k}] must be ${rule}, got ${x}`);
    });
  });
  return values;
}

function shortfall(pages: number, ess: readonly [string, number][], o: Resolved): InsufficientData | null {
  // An empty log has no estimate whatever the minimum.
  const minPages = Math.max(1, o.minPages);
  if (pages < minPages) return { status: 'insufficient', reason: `${pages} logged pages, fewer than the minimum of ${minPages}` };
  for (const [name, n] of ess) {
    if (n < o.minEffectiveSampleSize) {
      return {
        status: 'insufficient',
        reason: `effective sample size ${n.toFixed(1)} of the ${name} policy's weights is below the minimum of ${o.minEffectiveSampleSize}`,
      };
    }
  }
  return null;
}

/** The estimate's numerator (its value × pages) over the drawn sessions, a session counted once per draw. */
function numerator(sums: SessionSums, draws: Int32Array): number {
  const { columns } = sums;
  const term = new Float64Array(columns);
  const weight = new Float64Array(columns);
  const present = new Float64Array(columns);
  for (const s of draws) {
    for (let k = 0, c = s * columns; k < columns; k++, c++) {
      term[k]! += sums.term[c]!;
      weight[k]! += sums.weight[c]!;
      present[k]! += sums.present[c]!;
    }
  }
  let total = 0;
  for (let k = 0; k < columns; k++) {
    if (!sums.normalised) total += term[k]!;
    // A position where the target never agrees with the log has no evidence and adds nothing.
    else if (weight[k]! > 0) total += (term[k]! / weight[k]!) * present[k]!;
  }
  return total;
}

/** Point estimates on all sessions and percentile intervals over resampled sessions, shared by every policy. */
function bootstrap(
  policies: readonly SessionSums[], sessions: SessionIndex, combine: (numerators: number[]) => number, o: Resolved,
): { perPage: OffPolicyInterval; perSession: OffPolicyInterval } {
  const n = sessions.count;
  const all = Int32Array.from({ length: n }, (_, s) => s);
  const pointNumerator = combine(policies.map((p) => numerator(p, all)));
  const totalPages = sessions.pagesOf.reduce((a, b) => a + b, 0);
  const random = seededRandom(o.seed);
  const perPage = new Float64Array(o.resamples);
  const perSession = new Float64Array(o.resamples);
  const draws = new Int32Array(n);
  for (let r = 0; r < o.resamples; r++) {
    let pages = 0;
    for (let i = 0; i < n; i++) pages += sessions.pagesOf[(draws[i] = Math.floor(random() * n))]!;
    const value = combine(policies.map((p) => numerator(p, draws)));
    perPage[r] = value / pages;
    perSession[r] = value / n;
  }
  return {
    perPage: { estimate: pointNumerator / totalPages, ...percentiles(perPage) },
    perSession: { estimate: pointNumerator / n, ...percentiles(perSession) },
  };
}

function percentiles(values: Float64Array): { low: number; high: number } {
  values.sort();
  const last = values.length - 1;
  return { low: values[Math.floor(0.025 * last)]!, high: values[Math.ceil(0.975 * last)]! };
}
