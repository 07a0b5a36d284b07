/**
 * The publisher's rules (DESIGN.md §4): when a snapshot is due, and whether it may go live — finite
 * weights, losses that have not diverged, and an off-policy comparison with the live version on recent
 * held-out transitions. Pure: models and numbers in, a verdict out.
 */
import type { Transition } from '../common/index.js';
import type { DeepChainModel, TrainStepResult } from '../model/index.js';

export interface PublishRules {
  everySteps: number;
  everyMs: number;
  /** A critic or probability loss above this (or not finite) means training diverged. */
  maxLoss: number;
  /** The candidate may trail the live version's pairwise accuracy by at most this much. */
  tolerance: number;
}

export function publishDue(stepsSince: number, msSince: number, rules: PublishRules): boolean {
  return stepsSince > 0 && (stepsSince >= rules.everySteps || msSince >= rules.everyMs);
}

export interface OffPolicyScore {
  /** Share of (clicked, skipped) pairs of one page view where the actor scores the clicked item higher. */
  pairwiseAccuracy: number | null;
  pairs: number;
}

/**
 * Replays held-out page views: for every page view (same user, session, scenario and state) with a click
 * and skips, does the policy's score a_t · e_k put the clicked item above each skipped one? Items the
 * model has no embedding for are left out.
 */
export function offPolicyScore(model: DeepChainModel, heldOut: readonly Transition[]): OffPolicyScore {
  const views = new Map<string, { state: string[]; scenario: Transition['scenario']; clicked: string[]; skipped: string[] }>();
  for (const t of heldOut) {
    if (t.behaviour !== 'click' && t.behaviour !== 'skip') continue;
    if (!model.layout.scenarios.includes(t.scenario)) continue;
    const key = `${t.userId}\u0000${t.sessionId}\u0000${t.scenario}\u0000${t.state.join(',')}`;
    let v = views.get(key);
    if (!v) views.set(key, (v = { state: t.state, scenario: t.scenario, clicked: [], skipped: [] }));
    (t.behaviour === 'click' ? v.clicked : v.skipped).push(t.action);
  }
  let pairs = 0;
  let wins = 0;
  for (const v of views.values()) {
    if (v.clicked.length === 0 || v.skipped.length === 0) continue;
    const index = (ids: string[]) => ids.map((id) => model.vocabulary.indexOf(id)).filter((i): i is number => i !== undefined && i < model.itemCount);
    const state = index(v.state);
    const clicked = index(v.clicked);
    const skipped = index(v.skipped);
    if (clicked.length === 0 || skipped.length === 0) continue;
    const proto = model.act(v.scenario, state);
    const c = model.score(proto, clicked);
    const s = model.score(proto, skipped);
    for (const x of c) for (const y of s) {
      pairs++;
      if (x > y) wins++;
      else if (x === y) wins += 0.5;
    }
  }
  return { pairwiseAccuracy: pairs === 0 ? null : wins / pairs, pairs };
}

export interface Verdict {
  ok: boolean;
  reasons: string[];
  metrics: Record<string, number>;
}

export function judgeSnapshot(
  losses: TrainStepResult | null,
  candidate: OffPolicyScore,
  live: OffPolicyScore | null,
  rules: PublishRules,
): Verdict {
  const reasons: string[] = [];
  const metrics: Record<string, number> = { heldOutPairs: candidate.pairs };
  if (losses) {
    metrics.criticLoss = losses.criticLoss;
    metrics.actorLoss = losses.actorLoss;
    metrics.probabilityLoss = losses.probabilityLoss;
    for (const [name, v] of [['critic', losses.criticLoss], ['probability', losses.probabilityLoss]] as const) {
      if (!Number.isFinite(v) || v > rules.maxLoss) reasons.push(`${name} loss ${v} diverged (limit ${rules.maxLoss})`);
    }
    if (!Number.isFinite(losses.actorLoss)) reasons.push(`actor loss ${losses.actorLoss} is not finite`);
  }
  if (candidate.pairwiseAccuracy !== null) metrics.pairwiseAccuracy = candidate.pairwiseAccuracy;
  if (live?.pairwiseAccuracy != null) {
    metrics.livePairwiseAccuracy = live.pairwiseAccuracy;
    if (candidate.pairwiseAccuracy !== null && candidate.pairwiseAccuracy < live.pairwiseAccuracy - rules.tolerance) {
      reasons.push(
        `pairwise accuracy ${candidate.pairwiseAccuracy.toFixed(3)} on ${candidate.pairs} held-out pairs is below the live version's ${live.pairwiseAccuracy.toFixed(3)} by more than ${rules.tolerance}`,
      );
    }
  }
  return { ok: reasons.length === 0, reasons, metrics };
}
