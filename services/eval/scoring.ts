/**
 * Scoring a trained ranker on logged views (paper Algorithm 3 per view): every ranking metric of every view
 * that holds a clicked item, kept per view so that two models scored on the same views can be compared
 * pair by pair (paired.ts), and their means per scenario.
 */
import type { Scenario } from '../common/index.js';
import { isRelevant, type PageView } from './logged-session.js';
import { RANKING_METRICS, relevanceOf, viewMetrics, type RankingMetric } from './metrics.js';
import { observerOf, queryOf, type Ranker } from './ranker.js';

/** Per-view metrics over one list of views; NaN where a view holds no clicked item (not scored). */
export interface ViewScores {
  readonly scenarios: readonly Scenario[];
  readonly values: Readonly<Record<RankingMetric, Float64Array>>;
}

export type MetricMeans = Record<RankingMetric, number> & { views: number };

/** The views that are scored (at least one clicked or purchased item). */
export function scorable(view: PageView): boolean {
  return view.items.some((it) => isRelevant(it.behaviour));
}

export function scoreViews(ranker: Ranker, views: readonly PageView[], k: number): ViewScores {
  const values = Object.fromEntries(RANKING_METRICS.map((m) => [m, new Float64Array(views.length).fill(NaN)])) as Record<RankingMetric, Float64Array>;
  views.forEach((v, i) => {
    if (!scorable(v)) return;
    const relevant = new Set(v.items.filter((it) => isRelevant(it.behaviour)).map((it) => it.id));
    const ranking = ranker.rank(queryOf(v), observerOf(v));
    if (ranking.length !== v.items.length || new Set(ranking).size !== ranking.length || !v.items.every((it) => ranking.includes(it.id))) {
      throw new Error(`${ranker.name} returned a ranking that is not a permutation of the shown items`);
    }
    const m = viewMetrics(relevanceOf(ranking, relevant), k)!;
    for (const key of RANKING_METRICS) values[key][i] = m[key];
  });
  return { scenarios: views.map((v) => v.scenario), values };
}

/** Means over the scored views of one scenario ('all': every view). */
export function meansOf(scores: ViewScores, scenario: Scenario | 'all'): MetricMeans | null {
  const sums = Object.fromEntries(RANKING_METRICS.map((m) => [m, 0])) as Record<RankingMetric, number>;
  let views = 0;
  scores.scenarios.forEach((s, i) => {
    if ((scenario !== 'all' && s !== scenario) || Number.isNaN(scores.values.ndcg[i]!)) return;
    views++;
    for (const m of RANKING_METRICS) sums[m] += scores.values[m][i]!;
  });
  if (views === 0) return null;
  return { ...(Object.fromEntries(RANKING_METRICS.map((m) => [m, sums[m] / views])) as Record<RankingMetric, number>), views };
}

/**
 * One metric's values over the scored views of a scenario, in view order: the same positions for every model
 * scored on the same views, so two of these pair up unit by unit.
 */
export function metricOf(scores: ViewScores, metric: RankingMetric, scenario: Scenario | 'all'): Float64Array {
  const out: number[] = [];
  scores.values[metric].forEach((x, i) => {
    if (!Number.isNaN(x) && (scenario === 'all' || scores.scenarios[i] === scenario)) out.push(x);
  });
  return Float64Array.from(out);
}
