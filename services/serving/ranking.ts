/**
 * The second stage of the actor (paper §3.2.2): candidates ranked by score_k = a_t · e_k (computed by the
 * model library), highest first. Optional ε-greedy exploration per slot; each item's propensity is the probability the policy had of
 * putting it there, logged for off-policy evaluation (DESIGN.md §3).
 */
export interface RankedItem {
  itemId: string;
  score: number;
  propensity: number;
}

/**
 * Picks k of the candidates. With epsilon = 0 this is the plain top-k and every propensity is 1. Otherwise
 * each slot takes the best remaining item with probability 1 − ε and a uniformly random remaining one with
 * probability ε; the propensity is the chance of the item that was chosen for that slot.
 */
export function rankTopK(
  candidateIds: readonly string[],
  scores: Float32Array,
  k: number,
  epsilon = 0,
  random: () => number = Math.random,
): RankedItem[] {
  if (epsilon === 0) return topK(scores, k).map((i) => ({ itemId: candidateIds[i]!, score: scores[i]!, propensity: 1 }));
  const order = Array.from(candidateIds.keys()).sort((a, b) => scores[b]! - scores[a]! || a - b);
  const take = Math.min(k, order.length);
  const remaining = order;
  const out: RankedItem[] = [];
  for (let slot = 0; slot < take; slot++) {
    const explore = random() < epsilon;
    const pick = explore ? Math.floor(random() * remaining.length) : 0;
    const i = remaining[pick]!;
    const propensity = (pick === 0 ? 1 - epsilon : 0) + epsilon / remaining.length;
    remaining.splice(pick, 1);
    out.push({ itemId: candidateIds[i]!, score: scores[i]!, propensity });
  }
  return out;
}

/**
 * Positions of the k highest scores, best first, ties by position: one pass keeping a sorted top list,
 * O(n·k) instead of sorting all n candidates (k is a page, n the recalled hundreds).
 */
export function topK(scores: Float32Array, k: number): number[] {
  const best: number[] = [];
  const better = (i: number, j: number) => scores[i]! > scores[j]! || (scores[i] === scores[j] && i < j);
  for (let i = 0; i < scores.length; i++) {
    if (best.length === k && !better(i, best[k - 1]!)) continue;
    let at = best.length < k ? best.length : k - 1;
    while (at > 0 && better(i, best[at - 1]!)) at--;
    if (best.length === k) best.pop();
    best.splice(at, 0, i);
  }
  return best;
}
