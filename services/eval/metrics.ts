/**
 * Offline ranking metrics (paper §4.1: NDCG [Järvelin & Kekäläinen 2002] and MAP [Manning et al. 2008,
 * §8.4]) with binary relevance: an item is relevant when it was clicked or purchased.
 *
 *   DCG@k = Σ_{i=1..k} rel_i / log2(i + 1),   NDCG@k = DCG@k / IDCG@k
 *   AP    = (1/R) Σ_{i: rel_i = 1} precision@i   over the whole ranked list, R = number of relevant items
 *
 *   RR    = 1 / rank of the first relevant item (RecSys Challenge 2019's MRR is its mean)
 *   HR@k  = 1 if a relevant item is among the first k, else 0
 *
 * All are undefined (null) for a list with no relevant item; such views are left out of the means.
 */
export function ndcgAt(relevance: readonly boolean[], k: number): number | null {
  const relevant = relevance.filter(Boolean).length;
  if (relevant === 0) return null;
  let dcg = 0;
  for (let i = 0; i < Math.min(k, relevance.length); i++) if (relevance[i]) dcg += 1 / Math.log2(i + 2);
  let ideal = 0;
  for (let i = 0; i < Math.min(k, relevant); i++) ideal += 1 / Math.log2(i + 2);
  return dcg / ideal;
}

export function averagePrecision(relevance: readonly boolean[]): number | null {
  let hits = 0;
  let sum = 0;
  relevance.forEach((r, i) => {
    if (!r) return;
    hits++;
    sum += hits / (i + 1);
  });
  return hits === 0 ? null : sum / hits;
}

/** Relevance of a ranking (item ids, best first) given the set of relevant ids. */
export function relevanceOf(ranking: readonly string[], relevant: ReadonlySet<string>): boolean[] {
  return ranking.map((id) => relevant.has(id));
}

export function reciprocalRank(relevance: readonly boolean[]): number | null {
  const first = relevance.indexOf(true);
  return first < 0 ? null : 1 / (first + 1);
}

export function hitAt(relevance: readonly boolean[], k: number): number | null {
  const first = relevance.indexOf(true);
  return first < 0 ? null : first < k ? 1 : 0;
}

export const RANKING_METRICS = ['ndcg', 'map', 'mrr', 'hr'] as const;
export type RankingMetric = (typeof RANKING_METRICS)[number];

/** Every ranking metric of one ranked view (null when nothing in it is relevant). */
export function viewMetrics(relevance: readonly boolean[], k: number): Record<RankingMetric, number> | null {
  if (!relevance.includes(true)) return null;
  return { ndcg: ndcgAt(relevance, k)!, map: averagePrecision(relevance)!, mrr: reciprocalRank(relevance)!, hr: hitAt(relevance, k)! };
}
