/**
 * Answering one `recommend` request (DESIGN.md §4) from the loaded version: the state from the user's
 * history, candidates from the request or from recall (paper footnote 2), the scenario's actor, ranking.
 */
import type { Scenario } from '../common/index.js';
import type { LoadedVersion } from './model-slot.js';
import { rankTopK, type Exploration, type RankedItem } from './ranking.js';

export interface RecommendRequest {
  userId: string;
  sessionId: string;
  scenario: Scenario;
  k: number;
  itemId?: string;
  candidates?: string[];
}

export interface RecommendOptions {
  recallSize: number;
  recallSeeds: number;
  exploration: Exploration;
}

export interface Recommendation {
  items: RankedItem[];
  /** Candidates that were asked for but that this version has no embedding for (new items). */
  unknownCandidates: number;
}

/** Item ids → indices the version knows; unknown ones are counted, not scored. */
function indicesOf(loaded: LoadedVersion, ids: readonly string[]): { indices: number[]; unknown: number } {
  const indices: number[] = [];
  let unknown = 0;
  for (const id of ids) {
    const i = loaded.model.vocabulary.indexOf(id);
    if (i === undefined || i >= loaded.model.itemCount) unknown++;
    else indices.push(i);
  }
  return { indices, unknown };
}

/**
 * Paper footnote 2: nearest neighbours (cosine) of the user's last items, an equal share for each, up to
 * `size`; a user with no known history gets the first items of the catalogue the version knows.
 */
export function recallCandidates(loaded: LoadedVersion, state: readonly number[], size: number, seeds: number): number[] {
  const out = new Set<number>();
  const recent = state.slice(-seeds).reverse();
  if (recent.length > 0) {
    const share = Math.ceil(size / recent.length);
    for (const item of recent) {
      for (const n of loaded.recall.neighbours(item, share)) {
        if (out.size >= size) break;
        out.add(n.index);
      }
    }
  }
  for (let i = 1; out.size < size && i < loaded.model.itemCount; i++) out.add(i);
  return [...out];
}

export function recommend(
  loaded: LoadedVersion,
  history: readonly string[],
  request: RecommendRequest,
  options: RecommendOptions,
): Recommendation {
  const state = indicesOf(loaded, history).indices;
  let candidates: number[];
  let unknown = 0;
  if (request.candidates) {
    const known = indicesOf(loaded, request.candidates);
    candidates = known.indices;
    unknown = known.unknown;
  } else {
    candidates = recallCandidates(loaded, state, options.recallSize, options.recallSeeds);
  }
  const { model } = loaded;
  const proto = loaded.protoActions.getOrCompute(request.userId, request.scenario, state, () => model.act(request.scenario, state));
  const scores = model.score(proto, candidates);
  const ids = candidates.map((i) => model.vocabulary.idOf(i));
  return { items: rankTopK(ids, scores, request.k, options.exploration), unknownCandidates: unknown };
}
