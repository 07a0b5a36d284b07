/**
 * Why a DeepChain model ranks as it does, measured on logged views it did not train on (the validation part):
 *
 * - critic: the Pearson correlation between Q(s, a) and the discounted return observed after each logged
 *   transition, G_t = Σ_k γ^k r_{t+k} within its session (paper §3.3: Q estimates exactly this);
 * - probability net: its log-loss on the logged behaviours against the scenario's base rates from the
 *   training transitions (§3.4.1: better than the marginal or it adds nothing to Eq. 1);
 * - actors: the mean cosine between the proto-action and the clicked item's vector, against the shown items
 *   that were not clicked (do the proto-actions point at what users click, or nowhere);
 * - coverage: the share of shown and of clicked items that have a non-zero vector in the state they are
 *   ranked in (an item without one scores 0 and keeps its display place).
 */
import type { Behaviour, Scenario } from '../common/index.js';
import type { ItemSpace } from './item-space.js';
import { isRelevant, type PageView } from './logged-session.js';
import type { DeepChainRanker } from './rankers/deepchain.js';
import { viewsToTransitions } from './transitions.js';

export interface ScenarioDiagnostics {
  readonly scenario: Scenario;
  readonly transitions: number;
  /** Pearson correlation of Q(s, a) and the observed discounted return. */
  readonly criticReturnCorrelation: number;
  readonly probabilityLogLoss: number;
  /** Log-loss of the training transitions' behaviour frequencies in this scenario. */
  readonly baseRateLogLoss: number;
  /** Mean cosine of the proto-action with clicked items' vectors and with shown, not clicked, items' vectors (non-zero ones). */
  readonly protoClickedCosine: number;
  readonly protoSkippedCosine: number;
  readonly shownWithVector: number;
  readonly clickedWithVector: number;
}

export interface DiagnosticsInput {
  readonly ranker: DeepChainRanker;
  readonly space: ItemSpace;
  readonly historyCodes: boolean;
  readonly train: readonly PageView[];
  readonly views: readonly PageView[];
  /** At most this many transitions per scenario are valued (evenly spread). */
  readonly maxTransitions: number;
}

export function pearson(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  if (n < 2) return NaN;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : NaN;
}

/** G_t = r_t + γ·G_{t+1} over each session's transitions (in order), ending at the session's last one. */
export function discountedReturns(transitions: readonly { sessionId: string; userId: string; reward: number }[], gamma: number): number[] {
  const out = new Array<number>(transitions.length).fill(0);
  let next = 0;
  for (let i = transitions.length - 1; i >= 0; i--) {
    const t = transitions[i]!;
    const later = transitions[i + 1];
    const sameSession = later !== undefined && later.sessionId === t.sessionId && later.userId === t.userId;
    next = t.reward + (sameSession ? gamma * next : 0);
    out[i] = next;
  }
  return out;
}

function spread<T>(xs: readonly T[], max: number): T[] {
  if (xs.length <= max) return [...xs];
  return Array.from({ length: max }, (_, i) => xs[Math.floor((i * xs.length) / max)]!);
}

export function diagnose(input: DiagnosticsInput): ScenarioDiagnostics[] {
  const model = input.ranker.model;
  if (!model) throw new Error('diagnostics need a trained DeepChain');
  const { space, historyCodes: codes } = input;
  const E = space.dimension;
  const N = model.config.historyLength;
  const all = viewsToTransitions(input.views).transitions;
  const returns = discountedReturns(all, model.config.gamma);
  const base = new Map<Scenario, Map<Behaviour, number>>();
  for (const t of viewsToTransitions(input.train).transitions) {
    const m = base.get(t.scenario) ?? new Map<Behaviour, number>();
    m.set(t.behaviour, (m.get(t.behaviour) ?? 0) + 1);
    base.set(t.scenario, m);
  }
  const out: ScenarioDiagnostics[] = [];
  for (const scenario of model.layout.scenarios) {
    const m = model.layout.scenarios.indexOf(scenario);
    const behaviours = model.layout.behaviours[m]!;
    const indexed = all.map((t, i) => ({ t, g: returns[i]! })).filter(({ t }) => t.scenario === scenario && behaviours.includes(t.behaviour));
    if (indexed.length === 0) continue;
    const counts = base.get(scenario) ?? new Map<Behaviour, number>();
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    // Base rates with one pseudo-count per behaviour, so a behaviour unseen in training has a finite loss.
    const rate = (b: Behaviour) => ((counts.get(b) ?? 0) + 1) / (total + behaviours.length);
    const q: number[] = [], g: number[] = [];
    let modelLoss = 0, baseLoss = 0;
    const sample = spread(indexed, input.maxTransitions);
    for (const { t, g: ret } of sample) {
      const rows = space.stateRows(t.state.slice(-N), codes);
      const action = space.vectorOf(t.action, t.state.includes(t.action), codes);
      q.push(model.valueCandidates('critic', scenario, rows, action)[0]!);
      g.push(ret);
      const p = model.behaviourProbabilities(scenario, rows, action);
      modelLoss -= Math.log(Math.max(1e-12, p[behaviours.indexOf(t.behaviour)]!));
      baseLoss -= Math.log(rate(t.behaviour));
    }
    let clickedCos = 0, clickedN = 0, skippedCos = 0, skippedN = 0, shown = 0, shownWith = 0, clicked = 0, clickedWith = 0;
    for (const v of input.views.filter((x) => x.scenario === scenario)) {
      const state = [...v.history];
      const proto = model.actOnRows(scenario, space.stateRows(state.slice(-N), codes));
      const inState = new Set(state);
      for (const it of v.items) {
        const e = space.vectorOf(it.id, inState.has(it.id), codes);
        let dot = 0, norm = 0;
        for (let i = 0; i < E; i++) (dot += proto[i]! * e[i]!), (norm += e[i]! * e[i]!);
        const has = norm > 0;
        shown++;
        if (has) shownWith++;
        if (isRelevant(it.behaviour)) {
          clicked++;
          if (has) (clickedWith++, (clickedCos += dot), clickedN++);
        } else if (has) (skippedCos += dot), skippedN++;
      }
    }
    out.push({
      scenario,
      transitions: sample.length,
      criticReturnCorrelation: pearson(q, g),
      probabilityLogLoss: modelLoss / sample.length,
      baseRateLogLoss: baseLoss / sample.length,
      protoClickedCosine: clickedN ? clickedCos / clickedN : NaN,
      protoSkippedCosine: skippedN ? skippedCos / skippedN : NaN,
      shownWithVector: shown ? shownWith / shown : NaN,
      clickedWithVector: clicked ? clickedWith / clicked : NaN,
    });
  }
  return out;
}
