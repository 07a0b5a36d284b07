/**
 * The off-policy check (DESIGN.md §6: "off-policy estimate checked against the simulator's truth"): are the
 * release gate's estimates (services/model off-policy.ts: IPS, SNIPS, DR with per-position propensities and
 * session-bootstrap intervals) right? Per world (seed):
 *
 * 1. Training log: `trainSessions` sessions under the exploring logging policy (online.ts loggingPolicy,
 *    ε = `epsilon`); the learned target policies train on them only.
 * 2. Evaluation log: `sessions` further sessions of the same users under the same exploring policy
 *    (another exploration stream), with the exact propensity of every shown item (ope-policies.ts). The
 *    targets never saw it. Every page's candidates are recalled as a serving node recalls them (the
 *    `recall` nearest neighbours of the user's last history items in the training log's item space,
 *    ope-policies.ts historyRecall), and the logger explores among them only, as serving's ε-greedy does.
 * 3. Targets, each behind the same recall: the logging policy itself, its ranker without exploration (the
 *    oracle, ε = 0), random, popularity, item-kNN, SKNN, history-first, a trained DeepChain and the same
 *    DeepChain ranking in reverse (deliberately degraded). Each is estimated on the evaluation log with every estimator; DR's direct model
 *    reads the page in order with the trained DeepChain's probability net's click and leave chances of every recalled
 *    candidate (directModel 'cascade', ope-policies.ts cascadeExpectedRewards; 'position-blind': q̂ = Σ_b p_b(s, e_item)·r_b).
 * 4. Truth: each target serves the evaluation log's sessions itself: session i faces the same user with the
 *    same draws (common random numbers, walk-session.ts) and the same histories. Its true value is the mean
 *    page value over the pages it walked (per-position rewards, ope-policies.ts positionRewards).
 *    Diagnostic beside it: the target's exact expected page value on the *logged* pages (the simulator's
 *    click model on the logged walk states), which is free of the chain effects a per-page estimate cannot
 *    see (a target changes which pages follow).
 *
 * Then coverage (how often the truth lies inside the 95% interval) and Spearman's rank correlation between
 * estimates and truths, per estimator (ope-report.ts).
 *
 * 6. Challenger traffic (serving/challenger.ts) instead of an off-policy estimate: as a challenger, a target
 *    serves the users whose draw (challengerDraw, the serving node's) falls in `challengerShare`, in the same
 *    period as everyone else. Its truth run serves every user, so its challenger traffic is the truth run's
 *    sessions of those users (common random numbers: the same sessions), and its estimate their per-page
 *    value with a user-bootstrap interval. The challenger's comparison with a served version (challengerPairs)
 *    sets the challenger's users under it against the other users under the served version. Both are
 *    repeated under further draws of the users (challengerRedraws), to measure the intervals, not one draw's luck.
 *
 * 5. The release gate as a decision procedure (gatePairs): for every ordered pair of targets, the learner's
 *    comparison (learner/validation.ts) on the same evaluation log — each target judged by how it would
 *    re-order the shown items of each page (reorderingFromScores on its scores of them), SNIPS clipped at 20,
 *    session bootstrap, DEFAULT_GATE — and its decision (promote when the lower bound clears the margin)
 *    set against the true difference of the two targets' deployed values.
 *
 * Longer than most files here: the steps share one world's logs, targets and direct model, so they stay
 * in one function; the per-position maths is in ope-policies.ts, the summary and files in ope-report.ts.
 */
import { SCENARIOS, type Behaviour, type Rewards } from '../common/index.js';
import { clearsMargin, DEFAULT_GATE, reorderingFromScores, type GateRules } from '../learner/validation.js';
import {
  comparePolicies, estimatePolicyValue, OFF_POLICY_DEFAULTS, seededRandom, selectBackend,
  type DirectModel, type Estimator, type LoggedPage, type PerPosition, type TargetPolicy,
} from '../model/index.js';
import {
  DEFAULT_WALK, oraclePolicy, runSessions, World,
  type PagePolicy, type PageRecord, type SessionOutcome, type WalkOptions, type WorldOptions,
} from '../simulator/index.js';
import { onPolicyDifference, perPageInterval, type UserTotals } from '../learner/challenge.js';
import { challengerDraw } from '../serving/challenger.js';
import { ItemSpace } from './item-space.js';
import { makeRanker, type ModelSizes } from './models.js';
import type { OfflineConfig } from './offline.js';
import { loggingPolicy, rankerPolicy, sessionsToViews } from './online.js';
import {
  candidatesOf, cascadePositionReward, cascadeTargetReward, cascadeValueFrom, choicesGivenAbove, continuationItems, deterministicContinuation,
  deterministicProbabilities, expectedPageValue, exploringLogger, historyRecall, positionRewards, rankingScores, repeatShare, reweightToStates, walkStateKey,
  sampleCandidates, uniformProbabilities, type ExploredPage, type ItemBehaviour,
} from './ope-policies.js';
import type { Ranker } from './ranker.js';
import type { DeepChainRanker } from './rankers/deepchain.js';

export const OPE_ESTIMATORS: readonly Estimator[] = ['ips', 'snips', 'dr'];

export interface OpeCheckConfig {
  /** World seeds; each world is a separate check, pooled in the summary. */
  readonly seeds: readonly number[];
  readonly world: Partial<WorldOptions>;
  readonly walk: Partial<WalkOptions>;
  readonly rewards: Rewards;
  /** Items per page. */
  readonly k: number;
  /** Sessions logged for training the targets, per world. */
  readonly trainSessions: number;
  /** Sessions logged for the estimates (and served by each target for its truth), per world. */
  readonly sessions: number;
  /** The logging policy's per-slot exploration ε. */
  readonly epsilon: number;
  /** Algorithm 1 steps of the DeepChain target (no validation search here). */
  readonly steps: number;
  /** Bootstrap resamples of every interval. */
  readonly resamples: number;
  /** The minimum-data guard as this check runs it (the module's defaults are reported beside). */
  readonly minPages: number;
  readonly minEffectiveSampleSize: number;
  /** Candidates recalled per page (ope-policies.ts historyRecall): what the logger explores and every target ranks. */
  readonly recall: number;
  /** The share of users a target serves as a challenger (step 6): an on-policy estimate beside the off-policy ones. */
  readonly challengerShare: number;
  /** Further draws of every target's challenger users (step 6, challengerRedraws): coverage over many splits, not one. */
  readonly challengerDraws: number;
  /** Uniformly random lists per logged page for the random target's value on the logged pages. */
  readonly randomLists: number;
  /**
   * DR's direct model from the probability net's per-item chances: 'position-blind', q̂ = Σ_b p_b·r_b of each
   * item alone; 'cascade', the page read in order (ope-policies.ts cascadeExpectedRewards), so that the items
   * above a position decide whether it is read and where a leave lands.
   */
  readonly directModel: DirectModelKind;
  readonly sizes: OfflineConfig['sizes'];
  readonly embedding: OfflineConfig['embedding'];
}

export const DEFAULT_OPE_CHECK = Object.freeze({
  seeds: 1, trainSessions: 3000, sessions: 3000, epsilon: 0.5, k: 5, steps: 500, resamples: 2000,
  minPages: 1000, minEffectiveSampleSize: 10, recall: 50, randomLists: 4, challengerShare: 0.1, challengerDraws: 20, directModel: 'cascade' as DirectModelKind,
});

export type DirectModelKind = 'position-blind' | 'cascade';

/** The DeepChain target's settings: the first point of the RL grid (models.ts), not searched here. */
export const OPE_DEEPCHAIN_PARAMS = Object.freeze({ actorLearningRate: 1e-3, criticLearningRate: 1e-3, tau: 0.01 });

export type TargetKind = 'logging' | 'uniform' | 'deterministic';

export interface EstimateCheck {
  readonly status: 'ok' | 'insufficient';
  readonly estimate: number | null;
  readonly low: number | null;
  readonly high: number | null;
  /** Why the guard refused (status 'insufficient'). */
  readonly reason: string | null;
  /** The deployed truth lies in [low, high] (false when there is no interval). */
  readonly covered: boolean;
  /** The value on the logged pages lies in [low, high]. */
  readonly coveredOnLoggedPages: boolean;
}

/** Diagnostic estimators: IPS, SNIPS and DR with cascade weights (see CASCADE_ESTIMATORS). */
export type CascadeEstimator = Estimator;

/**
 * Beyond the gate's estimators, a diagnostic: the same module fed cumulative probabilities, π_k := Π_{j≤k} π_j
 * and μ_k := Π_{j≤k} μ_j, so that position k is weighted by the whole prefix down to it (the cascade estimator
 * of McInerney et al. 2020 and Kiyohara et al. 2022). It is unbiased when a position's reward depends on the
 * items at and above it, as the simulator's reading order makes it; the gate's item-position weights assume it
 * depends on the item at the position only. Cascade DR (Kiyohara et al. 2022) adds the direct model's value of
 * the rest of the page below each position (ope-policies.ts cascadeTargetReward), so that a prefix the log
 * never matched falls back on the direct model instead of counting 0.
 */
export const CASCADE_ESTIMATORS: readonly CascadeEstimator[] = ['ips', 'snips', 'dr'];

export interface PolicyCheck {
  readonly name: string;
  readonly kind: TargetKind;
  /** Deployed truth: mean page value over the pages the target walked itself, with a session-bootstrap 95% interval. */
  readonly truth: { readonly perPage: number; readonly low: number; readonly high: number; readonly pages: number; readonly sessions: number };
  /** The target's exact expected page value on the logged pages (the simulator's click model). */
  readonly onLoggedPages: number;
  /**
   * That value reweighted to the target's deployed distribution of walk states (scenario, pages without a
   * click; ope-policies.ts reweightToStates): what the best state-distribution weights over them could reach.
   */
  readonly onLoggedPagesAtTargetStates: { readonly value: number; readonly unmatched: number };
  /** Mean share of a page's items shown earlier in the session: deployed, and the target's lists on the logged pages. */
  readonly repeats: { readonly deployed: number; readonly onLoggedPages: number };
  /** Kish's effective sample size of the target's weights π_k/μ_k over every logged position. */
  readonly effectiveSampleSize: number;
  /** Positions of the log where the target puts positive probability on the logged item. */
  readonly supportedPositions: number;
  /** Kish's effective sample size of the cascade weights Π_{j≤k} π_j/μ_j over every logged position. */
  readonly cascadeEffectiveSampleSize: number;
  /** The module's own guard (50,000 pages, effective sample size 1,000): would it give an estimate? */
  readonly defaultGuard: { readonly passes: boolean; readonly reason: string | null };
  readonly estimates: Readonly<Record<Estimator, EstimateCheck>>;
  /** The cascade-weight diagnostic (CASCADE_ESTIMATORS). */
  readonly cascade: Readonly<Record<CascadeEstimator, EstimateCheck>>;
  /** Step 6: the per-page value on the target's challenger traffic (its users in the share), not off-policy. */
  readonly challenger: EstimateCheck & { readonly users: number; readonly pages: number };
}

/** One ordered pair of targets as the release gate would judge it: the candidate against the served version. */
export interface GatePair {
  readonly candidate: string;
  readonly served: string;
  /** truth(candidate) − truth(served): the deployed values per page. */
  readonly trueDifference: number;
  readonly status: 'ok' | 'insufficient';
  /** The gate's estimate of candidate − served per page and its 95% interval (null when the guard refused). */
  readonly estimate: number | null;
  readonly low: number | null;
  readonly high: number | null;
  readonly reason: string | null;
  /** The gate's decision: an estimate whose lower bound is above the margin (clearsMargin). */
  readonly promoted: boolean;
  /** The true difference lies in [low, high] (false when there is no interval). */
  readonly covered: boolean;
  /** The two re-orderings agree at every logged position, so the estimate is exactly 0. */
  readonly sameReordering: boolean;
}

/** A target as the gate sees it: its re-ordering π on the logged pages, and its deployed value per page. */
export interface GateTarget {
  readonly name: string;
  readonly probabilities: PerPosition;
  readonly truth: number;
}

export interface GateCheck {
  readonly rules: Readonly<GateRules>;
  /** Per target: Kish's effective sample size of its re-ordering weights as the gate clips them, and its positions with π = 1. */
  readonly targets: readonly { readonly name: string; readonly effectiveSampleSize: number; readonly supportedPositions: number }[];
  readonly pairs: readonly GatePair[];
  /**
   * Logged pages that share the learner's grouping key (user, session, scenario, state: validation.ts
   * loggedPages) with another page — consecutive pages without a click leave the history as it was — and
   * that the learner would therefore read as one longer page. The check compares on the pages as served.
   */
  readonly pagesSharingLearnerKey: number;
}

export interface WorldCheck {
  readonly seed: number;
  readonly trainLog: { readonly sessions: number; readonly pages: number };
  readonly evalLog: { readonly sessions: number; readonly pages: number; readonly positions: number; readonly valuePerPage: number };
  readonly deepChain: { readonly steps: number; readonly transitions: number; readonly finalLosses: unknown };
  readonly policies: PolicyCheck[];
  /** The release gate as a decision procedure (step 5). */
  readonly gate: GateCheck;
  /** Challenger traffic as the release gate (step 6, challengerPairs). */
  readonly challengerGate: readonly GatePair[];
  /** Step 6 again under further draws of the challengers' users (challengerRedraws). */
  readonly challengerRedraws: ChallengerRedraws;
  readonly wallMs: number;
}

/**
 * Step 6 under `draws` further draws of which users each challenger serves, on the same truth runs: the one
 * draw per target above says little about the interval (9 targets, each covered or not by the luck of its
 * users); many draws measure how often the interval holds the truth, and how often the gate errs, for these worlds.
 */
export interface ChallengerRedraws {
  readonly draws: number;
  /** (target, draw) replicates, and those whose per-page interval holds the target's truth. */
  readonly targets: { readonly replicates: number; readonly covered: number };
  /** (ordered pair, draw) replicates of the gate (challengerPairs), counted as summariseGate counts them. */
  readonly gate: {
    readonly pairs: number; readonly covered: number;
    readonly worsePairs: number; readonly falselyPromoted: number;
    readonly betterPairs: number; readonly promotedBetter: number;
  };
}

export interface OpeCheckResult {
  readonly config: OpeCheckConfig;
  readonly backend: string;
  readonly worlds: WorldCheck[];
  readonly wallMs: number;
}

export interface OpeCheckHooks {
  readonly log?: (message: string) => void;
}

interface Target {
  readonly name: string;
  readonly kind: TargetKind;
  /** What it serves when deployed (the truth run); for a deterministic target also its answer on a logged page. */
  readonly policy: PagePolicy;
}

/** A ranker ranked backwards: the deliberately degraded target. */
class ReversedRanker implements Ranker {
  readonly name: string;
  constructor(private readonly inner: Ranker) {
    this.name = `${inner.name} reversed`;
  }
  async train(): Promise<void> {}
  rank(...args: Parameters<Ranker['rank']>): string[] {
    return this.inner.rank(...args).reverse();
  }
  dispose(): void {}
}

/** The probability net's p_b(s, e_item, m) per item id: click and leave (ItemBehaviour), and q̂ = Σ_b p_b·r_b (purchases are not per position). */
function directBehaviours(
  ranker: DeepChainRanker, space: ItemSpace, rewards: Rewards, record: PageRecord, ids: readonly string[],
): { q: Map<string, number>; behaviour: Map<string, ItemBehaviour> } {
  const model = ranker.model!;
  const E = space.dimension;
  const history = record.request.history.slice(-model.config.historyLength);
  const rows = space.stateRows(history, true);
  const inState = new Set(history);
  const candidates = new Float32Array(ids.length * E);
  ids.forEach((id, i) => candidates.set(space.vectorOf(id, inState.has(id), true), i * E));
  const probs = model.behaviourProbabilities(record.request.scenario, rows, candidates);
  const behaviours = model.layout.behaviours[model.layout.scenarios.indexOf(record.request.scenario)]!;
  const J = model.layout.maxBehaviours;
  const r = (b: Behaviour) => (b === 'purchase' ? 0 : rewards[b]);
  const p = (k: number, b: Behaviour) => {
    const j = behaviours.indexOf(b);
    return j < 0 ? 0 : probs[k * J + j]!;
  };
  return {
    q: new Map(ids.map((id, k) => [id, behaviours.reduce((sum, b, j) => sum + probs[k * J + j]! * r(b), 0)])),
    behaviour: new Map(ids.map((id, k) => [id, { click: p(k, 'click'), leave: p(k, 'leave') }])),
  };
}

function pageValues(sessions: readonly SessionOutcome[], rewards: Rewards): { sums: Float64Array; pages: Float64Array } {
  const sums = Float64Array.from(sessions, (s) => s.records.reduce((a, r) => a + positionRewards(r, rewards).reduce((x, y) => x + y, 0), 0));
  return { sums, pages: Float64Array.from(sessions, (s) => s.pages) };
}

/** Running products x_0, x_0·x_1, …: the probability of a whole prefix from per-position conditionals. */
function cumulative(xs: readonly number[]): number[] {
  let product = 1;
  return xs.map((x) => (product *= x));
}

/** Kish's effective sample size (Σw)²/Σw² of the weights min(π_k/μ_k, clip) over every logged position. */
function kish(log: readonly LoggedPage[], pi: PerPosition, clip = Infinity): number {
  let sumW = 0;
  let sumW2 = 0;
  log.forEach((page, i) => page.shown.forEach((s, p) => {
    const w = Math.min(pi[i]![p]! / s.propensity, clip);
    sumW += w;
    sumW2 += w * w;
  }));
  return sumW2 > 0 ? (sumW * sumW) / sumW2 : 0;
}

/**
 * The release gate's comparison (learner/validation.ts judgeSnapshot) of every ordered pair of targets on
 * the logged pages: comparePolicies with the gate's estimator, clip and resamples (and the bootstrap's
 * default seed, as the gate runs it), the data guard as given, and the gate's decision (lower bound > margin, clearsMargin),
 * each beside the true difference of the targets' values. Pure.
 */
export function gatePairs(
  log: readonly LoggedPage[], targets: readonly GateTarget[],
  guard: { readonly minPages: number; readonly minEffectiveSampleSize: number }, gate: Readonly<GateRules> = DEFAULT_GATE,
): GatePair[] {
  const options = { estimator: gate.estimator, clip: gate.clip, minPages: guard.minPages, minEffectiveSampleSize: guard.minEffectiveSampleSize, resamples: gate.resamples };
  const pairs: GatePair[] = [];
  for (const a of targets) {
    for (const b of targets) {
      if (a === b) continue;
      const trueDifference = a.truth - b.truth;
      const sameReordering = a.probabilities.every((row, i) => row.every((x, k) => x === b.probabilities[i]![k]));
      const c = comparePolicies(log, { probabilities: a.probabilities }, { probabilities: b.probabilities }, options);
      pairs.push(c.status === 'ok'
        ? {
          candidate: a.name, served: b.name, trueDifference, status: 'ok', estimate: c.perPage.estimate, low: c.perPage.low, high: c.perPage.high, reason: null,
          promoted: clearsMargin(c.perPage.low, gate.margin), covered: inside(trueDifference, c.perPage.low, c.perPage.high), sameReordering,
        }
        : { candidate: a.name, served: b.name, trueDifference, status: 'insufficient', estimate: null, low: null, high: null, reason: c.reason, promoted: false, covered: false, sameReordering });
    }
  }
  return pairs;
}

/** How many of `keys` occur more than once (every occurrence counted). */
export function sharingKey(keys: readonly string[]): number {
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
  return [...counts.values()].reduce((a, n) => a + (n > 1 ? n : 0), 0);
}

/** Per session: its user, the sum of its page values and its pages (what a challenger split needs of a truth run). */
export interface SessionTotals { readonly userIds: readonly string[]; readonly sums: Float64Array; readonly pages: Float64Array }

export function sessionTotals(sessions: readonly SessionOutcome[], rewards: Rewards): SessionTotals {
  const { sums, pages } = pageValues(sessions, rewards);
  return { userIds: sessions.map((s) => s.userId), sums, pages };
}

/** The users a challenger serves: the serving node's draw (serving/challenger.ts) for a challenger numbered `version`. */
export function challengerUsers(version: number, share: number): (userId: string) => boolean {
  return (userId) => challengerDraw(userId, version) < share;
}

/** A run's sessions summed per user and split by `inShare`: the challenger's users and the rest. */
export function splitByShare(run: SessionTotals, inShare: (userId: string) => boolean): { challenger: UserTotals; rest: UserTotals } {
  const per = { challenger: new Map<string, [number, number]>(), rest: new Map<string, [number, number]>() };
  run.userIds.forEach((userId, i) => {
    const arm = inShare(userId) ? per.challenger : per.rest;
    const total = arm.get(userId) ?? [0, 0];
    total[0] += run.sums[i]!;
    total[1] += run.pages[i]!;
    arm.set(userId, total);
  });
  const totals = (m: Map<string, [number, number]>): UserTotals => ({
    sums: Float64Array.from([...m.values()], (t) => t[0]), pages: Float64Array.from([...m.values()], (t) => t[1]),
  });
  return { challenger: totals(per.challenger), rest: totals(per.rest) };
}

/**
 * The true difference (reward per page) beyond which a better candidate should be promoted, for the gate's
 * power: just above the 95% noise of the truths' own difference (each deployed truth's session-bootstrap
 * interval is ±0.01–0.02 per page with 3,000 sessions, ±0.03 for the worst target, so the difference of two
 * is about ±0.02–0.04), so that a pair counted here is one the truth itself orders; and 1 click more in 20
 * pages, a change worth shipping.
 */
export const GATE_GAP = 0.05;

/** A target's truth run: its deployed value per page and its sessions' totals. */
export interface TruthRun { readonly name: string; readonly truth: number; readonly sessions: SessionTotals }

/**
 * Challenger traffic as a release gate (step 6): for every ordered pair, A serving its share of users as the
 * challenger (numbered `version(its place in runs)`, so each challenger draws its own users) and B serving the other
 * users as the served version, in the same period. The estimate of truth(A) − truth(B) per page and its 95%
 * interval are the learner's own (learner/challenge.ts onPolicyDifference: each arm's users resampled apart);
 * promoted when the lower bound is above the margin (clearsMargin, the gate's rule). Pure.
 */
export function challengerPairs(
  runs: readonly TruthRun[], share: number, resamples: number, seed: number, margin = DEFAULT_GATE.margin,
  version: (place: number) => number = (place) => place + 1,
): GatePair[] {
  const pairs: GatePair[] = [];
  runs.forEach((a, ai) => {
    const inShare = challengerUsers(version(ai), share);
    const challenger = splitByShare(a.sessions, inShare).challenger;
    for (const b of runs) {
      if (a === b) continue;
      const served = splitByShare(b.sessions, inShare).rest;
      const trueDifference = a.truth - b.truth;
      const empty = [challenger, served].some((arm) => arm.pages.reduce((x, y) => x + y, 0) === 0);
      if (empty) {
        pairs.push({
          candidate: a.name, served: b.name, trueDifference, status: 'insufficient', estimate: null, low: null, high: null,
          reason: 'an arm has no pages: no user of this share, or none outside it', promoted: false, covered: false, sameReordering: false,
        });
        continue;
      }
      const d = onPolicyDifference(challenger, served, resamples, seed + pairs.length);
      pairs.push({
        candidate: a.name, served: b.name, trueDifference, status: 'ok', estimate: d.estimate, low: d.low, high: d.high, reason: null,
        promoted: clearsMargin(d.low, margin), covered: inside(trueDifference, d.low, d.high), sameReordering: false,
      });
    }
  });
  return pairs;
}

/**
 * Step 6 repeated for `draws` further numberings of the challengers (draw d numbers the target at place i
 * (d + 1)·targets + i + 1, so no two draws, nor step 6's, share a numbering, and each draws other users). Pure.
 */
export function challengerRedraws(runs: readonly TruthRun[], share: number, draws: number, resamples: number, seed: number): ChallengerRedraws {
  const targets = { replicates: 0, covered: 0 };
  const gate = { pairs: 0, covered: 0, worsePairs: 0, falselyPromoted: 0, betterPairs: 0, promotedBetter: 0 };
  for (let d = 0; d < draws; d++) {
    const version = (place: number) => (d + 1) * runs.length + place + 1;
    runs.forEach((run, i) => {
      const own = splitByShare(run.sessions, challengerUsers(version(i), share)).challenger;
      targets.replicates++;
      if (own.pages.reduce((a, b) => a + b, 0) === 0) return; // no user in the share: a miss
      const interval = perPageInterval(own, resamples, seed + d * runs.length + i);
      if (inside(run.truth, interval.low, interval.high)) targets.covered++;
    });
    for (const p of challengerPairs(runs, share, resamples, seed + (d + 1) * 7919, DEFAULT_GATE.margin, version)) {
      gate.pairs++;
      if (p.covered) gate.covered++;
      if (p.trueDifference < 0) { gate.worsePairs++; if (p.promoted) gate.falselyPromoted++; }
      if (p.trueDifference > GATE_GAP) { gate.betterPairs++; if (p.promoted) gate.promotedBetter++; }
    }
  }
  return { draws, targets, gate };
}

const cloneHistories = (h: ReadonlyMap<string, string[]>) => new Map([...h].map(([k, v]) => [k, [...v]]));
const inside = (x: number, low: number | null, high: number | null) => low !== null && high !== null && x >= low && x <= high;

async function checkWorld(config: OpeCheckConfig, seed: number, say: (m: string) => void): Promise<WorldCheck> {
  const started = Date.now();
  const log = (m: string) => say(`world ${seed} (${((Date.now() - started) / 1000).toFixed(0)} s): ${m}`);
  const walk: WalkOptions = { ...DEFAULT_WALK, ...config.walk };
  const { rewards, k, epsilon } = config;
  const world = new World({ ...config.world, seed });
  // 1. The training log; the histories it leaves are where the evaluation sessions start.
  const histories = new Map<string, string[]>();
  const train = runSessions(world, loggingPolicy(world, walk, rewards, epsilon, seed), {
    sessions: config.trainSessions, seed: seed * 1000 + 1, walk, k, rewards, histories, tag: 'train',
  });
  const trainViews = sessionsToViews(train);
  // The item space of the training log: the targets' embeddings and the serving node's recall.
  const space = ItemSpace.train(trainViews, { ...config.embedding, seed });
  const recall = historyRecall(space, config.recall);
  const recalling = (policy: PagePolicy): PagePolicy => (request) => policy({ ...request, candidates: recall(request) });
  // 2. The evaluation log, with propensities. Every target's truth run repeats these sessions (same seed, tag, histories).
  const evalOptions = { sessions: config.sessions, seed: seed * 1000 + 2, walk, k, rewards, tag: 'eval' };
  const logger = exploringLogger(world, walk, rewards, epsilon, seed + 500);
  const evalSessions = runSessions(world, recalling(logger.policy), { ...evalOptions, histories: cloneHistories(histories) });
  const records = evalSessions.flatMap((s) => s.records);
  const explored: ExploredPage[] = records.map((r) => logger.page(r.request.sessionId, r.request.step));
  const logged: LoggedPage[] = records.map((r, i) => {
    const reward = positionRewards(r, rewards);
    return { sessionId: r.request.sessionId, shown: r.shown.map((item, p) => ({ item, propensity: explored[i]!.propensities[p]!, reward: reward[p]! })) };
  });
  const cascadeLog: LoggedPage[] = logged.map((page) => ({ sessionId: page.sessionId, shown: cumulative(page.shown.map((s) => s.propensity)).map((propensity, p) => ({ ...page.shown[p]!, propensity })) }));
  const positions = logged.reduce((a, p) => a + p.shown.length, 0);
  const loggedValue = logged.reduce((a, p) => a + p.shown.reduce((x, s) => x + s.reward, 0), 0) / Math.max(1, logged.length);
  log(`${train.length} training sessions (${trainViews.length} pages), ${evalSessions.length} evaluation sessions (${records.length} pages)`);

  // 3. The targets, trained on the training log only; deployed behind the same recall.
  const sizes: ModelSizes = { ...config.sizes, scenarios: [...SCENARIOS] };
  const fitted = async (name: Parameters<typeof makeRanker>[0], params: Record<string, number>, units = 1): Promise<Ranker> => {
    const ranker = makeRanker(name, space, sizes, params, units, seed);
    await ranker.train(trainViews, () => {});
    return ranker;
  };
  const t0 = Date.now();
  const deepChain = (await fitted('DeepChain', OPE_DEEPCHAIN_PARAMS, config.steps)) as DeepChainRanker;
  log(`DeepChain trained, ${config.steps} steps in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const rankers: Ranker[] = [
    await fitted('random', {}), await fitted('popularity', {}), await fitted('item-kNN', { lastItems: 3 }),
    await fitted('SKNN', { neighbours: 100, sampleSize: 500 }), await fitted('history-first', {}), deepChain,
  ];
  const targets: Target[] = [
    { name: 'logging policy', kind: 'logging', policy: recalling(loggingPolicy(world, walk, rewards, epsilon, seed + 700)) },
    { name: 'oracle (ε = 0)', kind: 'deterministic', policy: recalling(oraclePolicy(world, { objective: 'shared', lookahead: false }, walk, rewards)) },
    ...rankers.map((r): Target => ({ name: r.name, kind: r.name === 'random' ? 'uniform' : 'deterministic', policy: recalling(rankerPolicy(r)) })),
    { name: 'DeepChain reversed', kind: 'deterministic', policy: recalling(rankerPolicy(new ReversedRanker(deepChain))) },
  ];

  // Each deterministic target's answer on every logged page (the request as the logging policy saw it, recalled candidates included).
  const requests = records.map((r) => ({ ...r.request, candidates: recall({ ...r.request, candidates: candidatesOf(world, r.request) }) }));
  const answers = new Map<string, (readonly string[])[]>();
  for (const t of targets) if (t.kind === 'deterministic') answers.set(t.name, requests.map((q) => t.policy(q).slice(0, k)));
  log(`targets answered on the logged pages`);

  // 5, the gate's view: each target's scores of a logged page's shown items — its place in its whole ranking
  // of the page's recalled candidates (the logging policy: its ranker's; random: fresh uniform scores, a
  // randomly scoring version) — and the re-ordering π the learner derives from them.
  const scoreStream = seededRandom(seed * 13 + 9);
  const loggersRanker = recalling(oraclePolicy(world, { objective: 'shared', lookahead: false }, walk, rewards));
  const reordering = new Map<string, PerPosition>();
  for (const t of targets) {
    const ranking = t.kind === 'logging' ? loggersRanker : t.policy;
    reordering.set(t.name, records.map((r, i) => reorderingFromScores(
      t.kind === 'uniform' ? r.shown.map(() => scoreStream()) : rankingScores(ranking({ ...requests[i]!, k: requests[i]!.candidates.length }), r.shown),
    )));
  }
  log(`targets' re-orderings of the logged pages`);

  // DR's direct model: the probability net on every recalled candidate (every item any target can put anywhere).
  const q: Map<string, number>[] = [];
  const behaviour: Map<string, ItemBehaviour>[] = [];
  const uniformMean: number[][] = []; // ū_k: q̂ averaged over the untaken candidates at position k
  const uniformBehaviour: ItemBehaviour[][] = []; // the click and leave chances averaged the same way
  records.forEach((r, i) => {
    const candidates = requests[i]!.candidates;
    const d = directBehaviours(deepChain, space, rewards, r, candidates);
    q.push(d.q);
    behaviour.push(d.behaviour);
    const n = candidates.length;
    const all = { q: 0, click: 0, leave: 0 };
    for (const id of candidates) all.q += d.q.get(id)!, all.click += d.behaviour.get(id)!.click, all.leave += d.behaviour.get(id)!.leave;
    const above = { q: 0, click: 0, leave: 0 };
    const means: number[] = [];
    const meanBehaviours: ItemBehaviour[] = [];
    r.shown.forEach((id, p) => {
      means.push((all.q - above.q) / (n - p));
      meanBehaviours.push({ click: (all.click - above.click) / (n - p), leave: (all.leave - above.leave) / (n - p) });
      above.q += d.q.get(id)!, above.click += d.behaviour.get(id)!.click, above.leave += d.behaviour.get(id)!.leave;
    });
    uniformMean.push(means);
    uniformBehaviour.push(meanBehaviours);
  });
  log(`direct model evaluated (${config.directModel})`);
  // The cascade direct model (ope-policies.ts cascadeExpectedRewards): reward at position p of `item` below the
  // logged items above p, and the value of a page from p down.
  const cascadeModel = config.directModel === 'cascade';
  const loggedBehaviour = records.map((r, i) => r.shown.map((id) => behaviour[i]!.get(id)!));
  const atPosition = (i: number, p: number, item: ItemBehaviour) => cascadePositionReward(loggedBehaviour[i]!.slice(0, p), item, records[i]!.shown.length, rewards);
  const fromPosition = (i: number, p: number, rest: readonly ItemBehaviour[]) => cascadeValueFrom([...loggedBehaviour[i]!.slice(0, p), ...rest], p, rewards);
  const ofItems = (i: number, ids: readonly string[]) => ids.map((id) => behaviour[i]!.get(id)!);
  const repeat = (b: ItemBehaviour | undefined, times: number): ItemBehaviour[] => (b && times > 0 ? Array.from({ length: times }, () => b) : []);

  const policies: PolicyCheck[] = [];
  const truthRuns: TruthRun[] = [];
  for (const [ti, t] of targets.entries()) {
    // π_k and v̂_k per logged page and position.
    let probabilities: PerPosition;
    let targetReward: PerPosition;
    // The cascade DR's Q̂_k of the logged item and V̂_k (ope-policies.ts cascadeTargetReward).
    let cascadeQ: PerPosition;
    let cascadeV: PerPosition;
    // The target's exact expected value of each logged page (the diagnostic truth on the logged pages).
    const onLoggedPage = new Float64Array(records.length);
    if (t.kind === 'logging') {
      probabilities = explored.map((e) => e.propensities);
      targetReward = cascadeModel
        ? records.map((r, i) => r.shown.map((_, p) => (1 - epsilon) * atPosition(i, p, behaviour[i]!.get(explored[i]!.greedy[p]!)!) + epsilon * atPosition(i, p, uniformBehaviour[i]![p]!)))
        : records.map((r, i) => r.shown.map((_, p) => (1 - epsilon) * q[i]!.get(explored[i]!.greedy[p]!)! + epsilon * uniformMean[i]![p]!));
      // Its cascade weights are 1: with no direct terms the cascade DR is the logged value itself.
      cascadeQ = cascadeV = records.map((r) => r.shown.map(() => 0));
      // The logged list is one draw of the policy on the page: its exact expected value is an unbiased sample.
      records.forEach((r, i) => (onLoggedPage[i] = expectedPageValue(world, world.user(r.request.userId), r.request.state, r.shown, walk, rewards)));
    } else if (t.kind === 'uniform') {
      probabilities = records.map((r, i) => uniformProbabilities(explored[i]!.candidates, r.shown.length));
      if (cascadeModel) {
        // A uniform item's reward is linear in its chances, so their mean gives it exactly; below position p the
        // continuation is read with the mean chances at every position (mean field: the reach product of the means).
        targetReward = records.map((r, i) => r.shown.map((_, p) => atPosition(i, p, uniformBehaviour[i]![p]!)));
        cascadeQ = records.map((r, i) => r.shown.map((id, p) => fromPosition(i, p, [behaviour[i]!.get(id)!, ...repeat(uniformBehaviour[i]![p + 1], r.shown.length - p - 1)])));
        cascadeV = records.map((r, i) => r.shown.map((_, p) => fromPosition(i, p, repeat(uniformBehaviour[i]![p], r.shown.length - p))));
      } else {
        targetReward = uniformMean;
        // A uniform continuation puts the mean of the untaken candidates at every later position.
        cascadeQ = records.map((r, i) => r.shown.map((id, p) => q[i]!.get(id)! + (r.shown.length - p - 1) * (uniformMean[i]![p + 1] ?? 0)));
        cascadeV = records.map((r, i) => r.shown.map((_, p) => (r.shown.length - p) * uniformMean[i]![p]!));
      }
      const lists = seededRandom(seed * 11 + 5);
      records.forEach((r, i) => {
        const user = world.user(r.request.userId);
        for (let d = 0; d < config.randomLists; d++) {
          const list = sampleCandidates(lists, requests[i]!.candidates, new Set(), r.shown.length);
          onLoggedPage[i]! += expectedPageValue(world, user, r.request.state, list, walk, rewards) / config.randomLists;
        }
      });
    } else {
      const a = answers.get(t.name)!;
      probabilities = records.map((r, i) => deterministicProbabilities(a[i]!, r.shown));
      if (cascadeModel) {
        const page = (i: number, p: number, id: string) => fromPosition(i, p, ofItems(i, [id, ...continuationItems(a[i]!, records[i]!.shown.slice(0, p), id, records[i]!.shown.length)]));
        targetReward = records.map((r, i) => choicesGivenAbove(a[i]!, r.shown).map((id, p) => atPosition(i, p, behaviour[i]!.get(id)!)));
        cascadeQ = records.map((r, i) => r.shown.map((id, p) => page(i, p, id)));
        cascadeV = records.map((r, i) => choicesGivenAbove(a[i]!, r.shown).map((id, p) => page(i, p, id)));
      } else {
        targetReward = records.map((r, i) => choicesGivenAbove(a[i]!, r.shown).map((id) => q[i]!.get(id)!));
        cascadeQ = records.map((r, i) => r.shown.map((id, p) => deterministicContinuation(a[i]!, r.shown.slice(0, p), id, r.shown.length, q[i]!)));
        cascadeV = records.map((r, i) => choicesGivenAbove(a[i]!, r.shown).map((id, p) => deterministicContinuation(a[i]!, r.shown.slice(0, p), id, r.shown.length, q[i]!)));
      }
      records.forEach((r, i) => (onLoggedPage[i] = expectedPageValue(world, world.user(r.request.userId), r.request.state, a[i]!.slice(0, r.shown.length), walk, rewards)));
    }
    const onLogged = onLoggedPage.reduce((a, b) => a + b, 0) / Math.max(1, records.length);
    const loggedItemReward = cascadeModel
      ? records.map((r, i) => r.shown.map((id, p) => atPosition(i, p, behaviour[i]!.get(id)!)))
      : records.map((r, i) => r.shown.map((id) => q[i]!.get(id)!));
    const direct: DirectModel = { loggedItemReward, targetReward };
    const target = { probabilities, direct };
    const cascadeProbabilities = probabilities.map((row) => cumulative(row));
    const supported = probabilities.reduce((a, row) => a + row.filter((x) => x > 0).length, 0);

    // 4. The truth: the target serves the same sessions itself.
    const served = runSessions(world, t.policy, { ...evalOptions, histories: cloneHistories(histories) });
    const totals = sessionTotals(served, rewards);
    const truth = { ...perPageInterval(totals, config.resamples, seed * 100 + ti), pages: served.reduce((a, s) => a + s.pages, 0), sessions: served.length };

    // 6. The target as a challenger: its truth run's sessions of the users in its share.
    truthRuns.push({ name: t.name, truth: truth.perPage, sessions: totals });
    const own = splitByShare(totals, challengerUsers(ti + 1, config.challengerShare)).challenger;
    const ownPages = own.pages.reduce((a, b) => a + b, 0);
    const onOwn = ownPages > 0 ? perPageInterval(own, config.resamples, seed * 100 + 50 + ti) : null;

    // Chain effects, diagnosed: the value on the logged pages reweighted to the target's own distribution of
    // observable walk states (its deployed pages'), and how often a page repeats items shown earlier in the session.
    const servedRecords = served.flatMap((s) => s.records);
    const atTargetStates = reweightToStates(Array.from(onLoggedPage), records.map((r) => walkStateKey(r.request)), servedRecords.map((r) => walkStateKey(r.request)));
    const mean = (xs: readonly number[]) => xs.reduce((x, y) => x + y, 0) / Math.max(1, xs.length);
    const repeats = {
      deployed: mean(servedRecords.map((r) => repeatShare(r.shown, r.request.state.seen))),
      onLoggedPages: mean(records.map((r, i) => {
        if (t.kind === 'logging') return repeatShare(r.shown, r.request.state.seen);
        // A uniform list repeats the seen share of the candidates, in expectation.
        if (t.kind === 'uniform') return repeatShare(requests[i]!.candidates, r.request.state.seen);
        return repeatShare(answers.get(t.name)![i]!.slice(0, r.shown.length), r.request.state.seen);
      })),
    };

    const check = (pages: readonly LoggedPage[], policy: TargetPolicy, estimator: Estimator): EstimateCheck => {
      const v = estimatePolicyValue(pages, policy, {
        estimator, minPages: config.minPages, minEffectiveSampleSize: config.minEffectiveSampleSize, resamples: config.resamples, seed: seed * 100 + ti,
      });
      return v.status === 'ok'
        ? {
          status: 'ok', estimate: v.perPage.estimate, low: v.perPage.low, high: v.perPage.high, reason: null,
          covered: inside(truth.perPage, v.perPage.low, v.perPage.high), coveredOnLoggedPages: inside(onLogged, v.perPage.low, v.perPage.high),
        }
        : { status: 'insufficient', estimate: null, low: null, high: null, reason: v.reason, covered: false, coveredOnLoggedPages: false };
    };
    const estimates = Object.fromEntries(OPE_ESTIMATORS.map((e) => [e, check(logged, target, e)])) as Record<Estimator, EstimateCheck>;
    const cascadeTarget: TargetPolicy = {
      probabilities: cascadeProbabilities,
      direct: {
        loggedItemReward: cascadeQ,
        targetReward: records.map((_, i) => cascadeTargetReward(probabilities[i]!, explored[i]!.propensities, cascadeV[i]!)),
      },
    };
    const cascade = Object.fromEntries(CASCADE_ESTIMATORS.map((e) => [e, check(cascadeLog, cascadeTarget, e)])) as Record<CascadeEstimator, EstimateCheck>;
    const guard = estimatePolicyValue(logged, target, { estimator: 'ips', minPages: OFF_POLICY_DEFAULTS.minPages, minEffectiveSampleSize: OFF_POLICY_DEFAULTS.minEffectiveSampleSize, resamples: 1 });
    policies.push({
      name: t.name, kind: t.kind, truth, onLoggedPages: onLogged, onLoggedPagesAtTargetStates: atTargetStates, repeats,
      effectiveSampleSize: kish(logged, probabilities), supportedPositions: supported, cascadeEffectiveSampleSize: kish(cascadeLog, cascadeProbabilities),
      defaultGuard: { passes: guard.status === 'ok', reason: guard.status === 'ok' ? null : guard.reason },
      estimates,
      cascade,
      challenger: onOwn
        ? {
          users: own.sums.length, pages: ownPages, status: 'ok', estimate: onOwn.perPage, low: onOwn.low, high: onOwn.high, reason: null,
          covered: inside(truth.perPage, onOwn.low, onOwn.high), coveredOnLoggedPages: inside(onLogged, onOwn.low, onOwn.high),
        }
        : {
          users: own.sums.length, pages: 0, status: 'insufficient', estimate: null, low: null, high: null,
          reason: 'no user of the challenger share had a page', covered: false, coveredOnLoggedPages: false,
        },
    });
    const e = estimates;
    const show = (x: EstimateCheck) => (x.estimate === null ? 'none' : `${x.estimate.toFixed(3)} [${x.low!.toFixed(3)}, ${x.high!.toFixed(3)}]`);
    log(`${t.name}: truth ${truth.perPage.toFixed(3)}, on logged pages ${onLogged.toFixed(3)} (at its walk states ${atTargetStates.value.toFixed(3)}; repeats ${repeats.deployed.toFixed(3)} deployed, ${repeats.onLoggedPages.toFixed(3)} on logged pages); IPS ${show(e.ips)}, SNIPS ${show(e.snips)}, DR ${show(e.dr)}; cascade IPS ${show(cascade.ips)}, DR ${show(cascade.dr)}; as a challenger ${show(policies.at(-1)!.challenger)}`);
  }
  const gateTargets = policies.map((p): GateTarget => ({ name: p.name, probabilities: reordering.get(p.name)!, truth: p.truth.perPage }));
  const pairs = gatePairs(logged, gateTargets, config);
  const gate: GateCheck = {
    rules: DEFAULT_GATE,
    targets: gateTargets.map((t) => ({
      name: t.name, effectiveSampleSize: kish(logged, t.probabilities, DEFAULT_GATE.clip), supportedPositions: t.probabilities.reduce((a, row) => a + row.filter((x) => x > 0).length, 0),
    })),
    pairs,
    pagesSharingLearnerKey: sharingKey(records.map((r) => [r.request.userId, r.request.sessionId, r.request.scenario, ...r.request.history].join('\u0000'))),
  };
  const challengerGate = challengerPairs(truthRuns, config.challengerShare, config.resamples, seed * 17 + 3);
  const redraws = challengerRedraws(truthRuns, config.challengerShare, config.challengerDraws, config.resamples, seed * 23 + 5);
  const worse = pairs.filter((p) => p.trueDifference < 0);
  log(`release gate: ${pairs.filter((p) => p.promoted).length} of ${pairs.length} pairs promoted, ${worse.filter((p) => p.promoted).length} of the ${worse.length} truly worse candidates`);
  const summary = deepChain.summary;
  for (const r of rankers) r.dispose();
  return {
    seed,
    trainLog: { sessions: train.length, pages: trainViews.length },
    evalLog: { sessions: evalSessions.length, pages: records.length, positions, valuePerPage: loggedValue },
    deepChain: { steps: summary?.steps ?? 0, transitions: summary?.transitions ?? 0, finalLosses: summary?.final ?? null },
    policies,
    gate,
    challengerGate,
    challengerRedraws: redraws,
    wallMs: Date.now() - started,
  };
}

export async function runOpeCheck(config: OpeCheckConfig, hooks: OpeCheckHooks = {}): Promise<OpeCheckResult> {
  const started = Date.now();
  const log = hooks.log ?? (() => {});
  const backend = await selectBackend({ onLog: (msg, f) => log(`${msg}: ${String(f.backend)}`) });
  const worlds: WorldCheck[] = [];
  for (const seed of config.seeds) worlds.push(await checkWorld(config, seed, log));
  return { config, backend: backend.name, worlds, wallMs: Date.now() - started };
}
