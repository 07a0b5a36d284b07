/**
 * The publisher's rules (DESIGN.md §4): when a snapshot is due, and the release gate that decides whether it
 * may replace the version being served (the live one, or the operator's pinned one). Pure: models, held-out
 * transitions and numbers in, a decision out.
 *
 * The gate estimates the reward per page of the candidate and of the served version on the same recent
 * held-out traffic, with the same off-policy estimator (services/model off-policy.ts: item-position weights
 * from the propensities serving logged, a 95% bootstrap interval over sessions), and promotes only when the
 * lower bound of (candidate − served) is above the margin (clearsMargin). Losses that diverged reject outright.
 *
 * What the learner knows of a logged page is what was shown, not the candidates serving ranked: a policy is
 * judged by how it would order the shown items themselves. At position k its choice is its best-scored item
 * among those shown at k and below (the items above are the logged ones); π_k is 1 when that choice is the
 * logged item, else 0. Both versions are judged alike, so what this leaves out (an item the policy would
 * have recalled instead) is shared by the comparison; the absolute values are of re-ordering, not of serving.
 */
import type { Transition } from '../common/index.js';
import {
  comparePolicies, estimatePolicyValue, type DeepChainModel, type LoggedPage, type PerPosition, type TrainStepResult,
} from '../model/index.js';
import type { VersionDecision } from '../registry/index.js';

export type GateKind = 'off-policy' | 'none';
export type GateEstimator = 'ips' | 'snips';

export interface PublishRules {
  everySteps: number;
  everyMs: number;
  /** A critic or probability loss above this (or not finite) means training diverged. */
  maxLoss: number;
  gate: GateRules;
}

export interface GateRules {
  /** 'none' promotes every snapshot whose losses are finite (benchmarks of the swap path, not production). */
  kind: GateKind;
  estimator: GateEstimator;
  /** Reward per page: promote when the 95% lower bound of (candidate − served) is above this. */
  margin: number;
  /** Upper bound on each importance weight. */
  clip: number;
  /** The data guard: below these the gate answers "not enough data" and the candidate is not promoted. */
  minPages: number;
  minEffectiveSampleSize: number;
  resamples: number;
}

/** The gate's defaults (the learner's GATE_* settings); validation.ts's header says why each. */
export const DEFAULT_GATE: Readonly<GateRules> = Object.freeze({
  kind: 'off-policy', estimator: 'snips', margin: 0, clip: 20, minPages: 1000, minEffectiveSampleSize: 100, resamples: 500,
});

/**
 * The gate's rule: promote when the 95% lower bound of (candidate − served) is strictly above the margin. A
 * candidate that orders every page as the served version does (lower bound exactly 0) shows no improvement
 * and is not promoted at margin 0.
 */
export function clearsMargin(low: number, margin: number): boolean {
  return low > margin;
}

export function publishDue(stepsSince: number, msSince: number, rules: Pick<PublishRules, 'everySteps' | 'everyMs'>): boolean {
  return stepsSince > 0 && (stepsSince >= rules.everySteps || msSince >= rules.everyMs);
}

/** One logged page as the gate reads it: its scenario, the state it was shown in, and the shown items in display order. */
export interface GateView {
  scenario: Transition['scenario'];
  state: readonly string[];
  items: readonly string[];
}

/**
 * Held-out transitions → logged pages: the transitions of one user, session, scenario and state, in the
 * session's step order (the order the sessionizer resolved them, which is display order), cut where an
 * item's list position does not follow the one before (a new list shown in the same state: the state
 * changes only on a click or purchase). A page with a transition that carries no propensity is left out, as
 * is a page of a scenario the model has no agent for. Transitions without a position (written before the
 * sessionizer recorded it) are cut by state alone.
 */
export function loggedPages(heldOut: readonly Transition[], scenarios: readonly Transition['scenario'][]): { pages: LoggedPage[]; views: GateView[] } {
  const groups = new Map<string, Transition[]>();
  for (const t of heldOut) {
    if (!scenarios.includes(t.scenario)) continue;
    const key = `${t.userId}\u0000${t.sessionId}\u0000${t.scenario}\u0000${t.state.join('\u0001')}`;
    const g = groups.get(key);
    if (g) g.push(t);
    else groups.set(key, [t]);
  }
  const pages: LoggedPage[] = [];
  const views: GateView[] = [];
  for (const g of groups.values()) {
    g.sort((a, b) => a.step - b.step);
    for (const page of splitLists(g)) {
      if (page.some((t) => t.propensity === null)) continue;
      pages.push({ sessionId: `${page[0]!.userId}\u0000${page[0]!.sessionId}`, shown: page.map((t) => ({ item: t.action, propensity: t.propensity!, reward: t.reward })) });
      views.push({ scenario: page[0]!.scenario, state: page[0]!.state, items: page.map((t) => t.action) });
    }
  }
  return { pages, views };
}

/** Step-ordered transitions of one state → one run per list: a new one wherever the position does not increase. */
function splitLists(ordered: readonly Transition[]): Transition[][] {
  const lists: Transition[][] = [];
  let previous: number | null | undefined;
  for (const t of ordered) {
    const position = t.position ?? null;
    if (lists.length === 0 || (position !== null && previous !== null && previous !== undefined && position <= previous)) lists.push([]);
    lists[lists.length - 1]!.push(t);
    previous = position;
  }
  return lists;
}

/**
 * A version's π per logged page, kept between publishes: the served version changes only when a snapshot is
 * promoted, while the held-out window moves a little at each publish, so most of its pages were judged
 * before. Keyed by the page (scenario, state, shown items); pages gone from the window are dropped.
 */
export type ReorderingMemo = Map<string, readonly number[]>;

const viewKey = (v: GateView) => `${v.scenario}\u0000${v.state.join('\u0001')}\u0000${v.items.join('\u0001')}`;

/**
 * π_k of a deterministic policy that orders the shown items by the model's score a_t · e_k: 1 when its best
 * item among positions k and below is the logged one at k (ties go to the higher position), else 0. Items
 * the model has no embedding for score −∞. With a memo (one per model), pages met before are not scored again.
 */
export function reorderingProbabilities(model: DeepChainModel, views: readonly GateView[], memo?: ReorderingMemo): PerPosition {
  if (memo) {
    const keys = views.map(viewKey);
    const fresh = new Map<string, GateView>();
    views.forEach((v, i) => { if (!memo.has(keys[i]!)) fresh.set(keys[i]!, v); });
    const scored = reorderingProbabilities(model, [...fresh.values()]);
    [...fresh.keys()].forEach((k, i) => memo.set(k, scored[i]!));
    const wanted = new Set(keys);
    for (const k of memo.keys()) if (!wanted.has(k)) memo.delete(k);
    return keys.map((k) => memo.get(k)!);
  }
  const known = (id: string) => {
    const i = model.vocabulary.indexOf(id);
    return i !== undefined && i < model.itemCount ? i : -1;
  };
  return views.map((view) => {
    const indices = view.items.map(known);
    const candidates = indices.filter((i) => i >= 0);
    const scored = candidates.length > 0 ? model.score(model.act(view.scenario, view.state.map(known).filter((i) => i >= 0)), candidates) : new Float32Array();
    const scores: number[] = [];
    let next = 0;
    for (const i of indices) scores.push(i >= 0 ? scored[next++]! : Number.NEGATIVE_INFINITY);
    return reorderingFromScores(scores);
  });
}

/**
 * The re-ordering rule itself, from a policy's scores of one page's shown items in display order (higher is
 * better): π_k is 1 when position k's score is the best among positions k and below (ties go to the higher
 * position), else 0. The gate's and the off-policy check's (services/eval ope-check.ts) one rule.
 */
export function reorderingFromScores(scores: readonly number[]): number[] {
  return scores.map((_, k) => {
    let best = k;
    for (let j = k + 1; j < scores.length; j++) if (scores[j]! > scores[best]!) best = j;
    return best === k ? 1 : 0;
  });
}

/** Training losses that are not finite or above the limit: reasons not to publish at all. */
export function divergedLosses(losses: TrainStepResult | null, maxLoss: number): string[] {
  if (!losses) return [];
  const reasons: string[] = [];
  for (const [name, v] of [['critic', losses.criticLoss], ['probability', losses.probabilityLoss]] as const) {
    if (!Number.isFinite(v) || v > maxLoss) reasons.push(`${name} loss ${v} diverged (limit ${maxLoss})`);
  }
  if (!Number.isFinite(losses.actorLoss)) reasons.push(`actor loss ${losses.actorLoss} is not finite`);
  return reasons;
}

export interface GateInput {
  losses: TrainStepResult | null;
  candidate: DeepChainModel;
  /**
   * The version served now (pinned, else live) and its actors, with the memo of its π per page when the caller
   * keeps one for that version; null before the first version.
   */
  served: { version: number; pinned: boolean; model: DeepChainModel; memo?: ReorderingMemo } | null;
  heldOut: readonly Transition[];
  rules: PublishRules;
}

export interface Verdict {
  ok: boolean;
  reasons: string[];
  /** Losses and the gate's numbers, stored with the version. */
  metrics: Record<string, number>;
  decision: VersionDecision;
}

/**
 * A rejected snapshot may still be served as the challenger to a share of users (serving/challenger.ts): when
 * the gate compared it with the served version and did not find it worse (the 95% upper bound of
 * candidate − served is at least 0). Diverged snapshots, and those the gate had too little data to compare,
 * are not.
 */
export function challengerEligible(verdict: Verdict): boolean {
  const high = verdict.metrics.differenceHigh;
  return !verdict.ok && high !== undefined && Number.isFinite(high) && high >= 0;
}

/** The release gate's decision on one snapshot. */
export function judgeSnapshot({ losses, candidate, served, heldOut, rules }: GateInput): Verdict {
  const metrics: Record<string, number> = {};
  if (losses) Object.assign(metrics, { criticLoss: losses.criticLoss, actorLoss: losses.actorLoss, probabilityLoss: losses.probabilityLoss });
  const reasons = divergedLosses(losses, rules.maxLoss);
  const decide = (ok: boolean, why: string[]): Verdict => ({
    ok, reasons: why, metrics,
    decision: {
      outcome: ok ? 'promoted' : 'rejected', reasons: why, baselineVersion: served?.version ?? null, baselinePinned: served?.pinned ?? false,
      numbers: { ...metrics },
    },
  });
  if (reasons.length > 0) return decide(false, reasons);
  if (rules.gate.kind === 'none') return decide(true, ['release gate off (RELEASE_GATE=none): finite losses suffice']);

  const g = rules.gate;
  const { pages, views } = loggedPages(heldOut, candidate.layout.scenarios);
  const options = { estimator: g.estimator, clip: g.clip, minPages: g.minPages, minEffectiveSampleSize: g.minEffectiveSampleSize, resamples: g.resamples };
  const target = { probabilities: reorderingProbabilities(candidate, views) };
  metrics.gatePages = pages.length;
  if (!served) {
    // Nothing to compare with: the first version goes live on finite losses; its own estimate is recorded when there is enough data.
    const own = estimatePolicyValue(pages, target, options);
    if (own.status === 'ok') Object.assign(metrics, { estimate: own.perPage.estimate, estimateLow: own.perPage.low, estimateHigh: own.perPage.high });
    return decide(true, ['first version: nothing served to compare with']);
  }
  const versus = served.pinned ? `pinned version ${served.version}` : `live version ${served.version}`;
  const comparison = comparePolicies(pages, target, { probabilities: reorderingProbabilities(served.model, views, served.memo) }, options);
  if (comparison.status === 'insufficient') return decide(false, [`not enough held-out data to compare with the ${versus}: ${comparison.reason}`]);
  const d = comparison.perPage;
  Object.assign(metrics, {
    difference: d.estimate, differenceLow: d.low, differenceHigh: d.high, gateSessions: comparison.sessions,
    essCandidate: comparison.effectiveSampleSize.candidate, essServed: comparison.effectiveSampleSize.live,
  });
  const summary = `${g.estimator} reward per page, candidate − ${versus}: ${d.estimate.toFixed(4)} [${d.low.toFixed(4)}, ${d.high.toFixed(4)}] on ${comparison.pages} pages of ${comparison.sessions} sessions`;
  if (clearsMargin(d.low, g.margin)) return decide(true, [`${summary}; lower bound clears the margin ${g.margin}`]);
  return decide(false, [`${summary}; lower bound does not clear the margin ${g.margin}`]);
}
