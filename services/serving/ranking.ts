/**
 * The second stage of the actor (paper §3.2.2): candidates ranked by score_k = a_t · e_k (computed by the
 * model library), highest first, with exploration. Each shown item's propensity is the probability the
 * policy had of putting it at its position given the items above it, logged for off-policy evaluation and
 * the release gate (DESIGN.md §3–4).
 */
export interface RankedItem {
  itemId: string;
  score: number;
  propensity: number;
}

/**
 * How serving explores (SERVING's EXPLORATION settings):
 * - ε-greedy per slot: the best remaining item with probability 1 − ε, a uniformly random remaining one with
 *   probability ε; ε = 0 is the plain top-k (every propensity 1).
 * - Plackett–Luce: each slot draws from the remaining items with probability ∝ exp(score / temperature)
 *   (a softmax over the scores, without replacement), so every candidate keeps a chance that falls with its score.
 */
export type Exploration =
  | { readonly policy: 'epsilon-greedy'; readonly epsilon: number }
  | { readonly policy: 'plackett-luce'; readonly temperature: number };

export const NO_EXPLORATION: Exploration = Object.freeze({ policy: 'epsilon-greedy', epsilon: 0 });

/** Picks k of the candidates under `exploration`, with each pick's exact propensity. */
export function rankTopK(
  candidateIds: readonly string[],
  scores: Float32Array,
  k: number,
  exploration: Exploration = NO_EXPLORATION,
  random: () => number = Math.random,
): RankedItem[] {
  if (exploration.policy === 'plackett-luce') return rankPlackettLuce(candidateIds, scores, k, exploration.temperature, random);
  const { epsilon } = exploration;
  if (epsilon === 0) return topK(scores, k).map((i) => ({ itemId: candidateIds[i]!, score: scores[i]!, propensity: 1 }));
  const remaining = Array.from(candidateIds.keys()).sort((a, b) => scores[b]! - scores[a]! || a - b);
  const take = Math.min(k, remaining.length);
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
 * Plackett–Luce sampling without replacement: slot by slot, item i among the remaining R with probability
 * exp(s_i/T) / Σ_{j∈R} exp(s_j/T), computed from the best remaining score so that nothing overflows and the
 * sum is at least 1.
 */
function rankPlackettLuce(candidateIds: readonly string[], scores: Float32Array, k: number, temperature: number, random: () => number): RankedItem[] {
  const n = candidateIds.length;
  const taken = new Uint8Array(n);
  const weights = new Float64Array(n);
  const out: RankedItem[] = [];
  for (let slot = 0; slot < Math.min(k, n); slot++) {
    let top = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) if (!taken[i]) top = Math.max(top, scores[i]!);
    let total = 0;
    for (let i = 0; i < n; i++) total += weights[i] = taken[i] ? 0 : Math.exp((scores[i]! - top) / temperature);
    let u = random() * total;
    let pick = -1;
    for (let i = 0; i < n && u >= 0; i++) {
      if (weights[i] === 0) continue; // taken, or so unlikely that exp underflowed
      pick = i;
      u -= weights[i]!;
    }
    taken[pick] = 1;
    out.push({ itemId: candidateIds[pick]!, score: scores[pick]!, propensity: weights[pick]! / total });
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
