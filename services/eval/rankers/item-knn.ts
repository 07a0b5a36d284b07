/**
 * Item-based kNN (the item-kNN baseline of Hidasi et al., "Session-based recommendations with recurrent
 * neural networks", ICLR 2016, and of Ludewig & Jannach, UMUAI 28, 2018, §3.1), extended from the last
 * item to the last few with recency weights.
 *
 * Co-occurrence unit: the training session (sequence-kit.ts trainingSessions: each session's clicked or
 * purchased items as a set, all scenarios). n_i = number of sessions holding i, co(i, j) = number holding
 * both, and the similarity is the cosine of the items' session-occurrence vectors
 *
 *   sim(i, j) = co(i, j) / √(n_i · n_j)            (i ≠ j; an item is not its own neighbour)
 *
 * optionally plus an item2vec cosine (an ItemSpace; off unless `embeddingWeight` > 0): β · max(0, v_i·v_j),
 * clamped at 0 so an embedding never pushes an item below the cold ones.
 *
 * Recent items: the distinct items of the last `lastItems` entries of the user's sequence (sequence-kit.ts:
 * the history, then the context item unless it is the last history item, then items clicked on this page),
 * each weighted by decay^age, age = how many entries before the end its most recent occurrence lies (the
 * most recent entry: weight 1). A candidate c scores
 *
 *   score(c) = Σ_{h recent, h ≠ c} decay^age(h) · sim(h, c)
 *
 * Items similar to none of them score 0 and keep their display order below the others. The pairs are
 * counted once at training (O(Σ |session|²)); a scoring walks the neighbour lists of ≤ lastItems items and
 * looks the candidates up, O(neighbourhood + candidates) (the embedding term adds O(candidates · lastItems ·
 * E)). Under Algorithm 3 (algorithm3 in ranker.ts) a clicked item joins the sequence and the rest are scored again.
 */
import type { ItemSpace } from '../item-space.js';
import type { PageView } from '../logged-session.js';
import { algorithm3, type Observe, type Progress, type RankQuery, type Ranker } from '../ranker.js';
import { inHalfOpen, lastEntries, nonNegativeNumber, positiveInteger, querySequence, recentDistinct, resolveOptions, trainingSessions, type TrainingSession } from './sequence-kit.js';

export interface ItemKnnOptions {
  /** Entries at the end of the user's sequence whose items are the query (the classic item-kNN: 1). */
  readonly lastItems: number;
  /** Weight factor per entry back in time, in (0, 1]: weight = decay^age (1: all recent items alike). */
  readonly decay: number;
  /** β of the item2vec cosine term; > 0 needs an ItemSpace in the constructor. 0: co-occurrence only. */
  readonly embeddingWeight: number;
}

export const DEFAULT_ITEM_KNN: Readonly<ItemKnnOptions> = Object.freeze({ lastItems: 3, decay: 0.5, embeddingWeight: 0 });

/** The embedding part of an ItemSpace that item-kNN reads (unit rows, the zero row for unknown items). */
export type ItemVectors = Pick<ItemSpace, 'index' | 'vectors' | 'dimension'>;

/** Cosine co-occurrence similarities over the training sessions, kept as a neighbour list per item. */
export class CoOccurrence {
  private readonly sims = new Map<string, Map<string, number>>();

  constructor(sessions: readonly TrainingSession[]) {
    const count = new Map<string, number>();
    const co = new Map<string, Map<string, number>>();
    for (const s of sessions) {
      const items = [...new Set(s.items)];
      for (const i of items) count.set(i, (count.get(i) ?? 0) + 1);
      for (const i of items) {
        let row = co.get(i);
        if (!row) co.set(i, (row = new Map()));
        for (const j of items) if (j !== i) row.set(j, (row.get(j) ?? 0) + 1);
      }
    }
    for (const [i, row] of co) {
      const ni = count.get(i)!;
      const out = new Map<string, number>();
      for (const [j, c] of row) out.set(j, c / Math.sqrt(ni * count.get(j)!));
      if (out.size > 0) this.sims.set(i, out);
    }
  }

  static fromViews(views: readonly PageView[]): CoOccurrence {
    return new CoOccurrence(trainingSessions(views));
  }

  /** sim(i, j); 0 for i = j and for items that never shared a session. */
  similarity(i: string, j: string): number {
    return i === j ? 0 : this.sims.get(i)?.get(j) ?? 0;
  }

  /** The items that shared a session with i, with their similarity. */
  neighbours(i: string): ReadonlyMap<string, number> {
    return this.sims.get(i) ?? EMPTY;
  }
}

const EMPTY: ReadonlyMap<string, number> = new Map();

/** The recent items of a sequence (oldest first) with their weights decay^age, most recent first. */
export function recencyWeights(sequence: readonly string[], o: Pick<ItemKnnOptions, 'lastItems' | 'decay'>): { item: string; weight: number }[] {
  return recentDistinct(lastEntries(sequence, o.lastItems)).map(({ item, age }) => ({ item, weight: o.decay ** age }));
}

/** score(c) for each candidate, in candidate order; pure. `vectors` only when embeddingWeight > 0. */
export function itemKnnScores(
  co: CoOccurrence,
  sequence: readonly string[],
  candidates: readonly string[],
  o: ItemKnnOptions,
  vectors: ItemVectors | null = null,
): Float64Array {
  const recent = recencyWeights(sequence, o);
  const acc = new Map<string, number>();
  for (const { item, weight } of recent) for (const [j, s] of co.neighbours(item)) acc.set(j, (acc.get(j) ?? 0) + weight * s);
  const out = new Float64Array(candidates.length);
  candidates.forEach((c, k) => {
    out[k] = acc.get(c) ?? 0;
  });
  const beta = o.embeddingWeight;
  if (beta > 0 && vectors && recent.length > 0) {
    const E = vectors.dimension;
    const v = vectors.vectors;
    const rows = recent.map(({ item, weight }) => ({ item, weight, at: vectors.index(item) * E }));
    candidates.forEach((c, k) => {
      const at = vectors.index(c) * E;
      let extra = 0;
      for (const r of rows) {
        if (r.item === c) continue;
        let dot = 0;
        for (let e = 0; e < E; e++) dot += v[r.at + e]! * v[at + e]!;
        if (dot > 0) extra += r.weight * dot;
      }
      out[k]! += beta * extra;
    });
  }
  return out;
}

export class ItemKnnRanker implements Ranker {
  readonly name = 'item-kNN';
  readonly options: Readonly<ItemKnnOptions>;
  private co: CoOccurrence | null = null;

  constructor(options: Partial<ItemKnnOptions> = {}, private readonly vectors: ItemVectors | null = null) {
    this.options = resolveOptions('item-kNN', DEFAULT_ITEM_KNN, options, {
      lastItems: positiveInteger,
      decay: inHalfOpen(0, 1),
      embeddingWeight: nonNegativeNumber,
    });
    if (this.options.embeddingWeight > 0 && !vectors) {
      throw new Error(`item-kNN: option 'embeddingWeight' is ${this.options.embeddingWeight} but no ItemSpace was given`);
    }
  }

  async train(views: readonly PageView[], onProgress: Progress): Promise<void> {
    this.co = CoOccurrence.fromViews(views);
    onProgress(1, 1);
  }

  rank(q: RankQuery, observe: Observe): string[] {
    const co = this.co;
    if (!co) throw new Error('item-kNN is not trained');
    const ids = q.items.map((it) => it.id);
    return algorithm3(
      ids,
      querySequence(q),
      (seq) => itemKnnScores(co, seq, ids, this.options, this.vectors),
      (seq, clicked) => [...seq, clicked],
      observe,
    );
  }

  dispose(): void {
    this.co = null;
  }
}
