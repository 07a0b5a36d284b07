/**
 * Session-based kNN, V-SKNN variant (Ludewig & Jannach, "Evaluation of session-based recommendation
 * algorithms", UMUAI 28, 2018, §3.1; the reference implementation is session-rec's
 * algorithms/knn/vsknn.py).
 *
 * Current session s: the last `historyLength` entries of the user's sequence (sequence-kit.ts: the
 * history, then the context item unless it is the last history item, then items clicked on this page),
 * oldest first, n = |s|. An item at 1-based position p of s weighs
 *
 *   linear:    w(p) = p / n          (the most recent item 1, each step back 1/n less)
 *   quadratic: w(p) = (p / n)²
 *   same:      w(p) = 1              (plain set overlap)
 *
 * and an item that occurs more than once weighs as at its most recent position. ('linear' is the linear
 * decay of the paper; session-rec calls it 'div', its default, while its 'linear' is 1 − 0.1·(n − p).)
 *
 * Past sessions: the training part's sessions (sequence-kit.ts trainingSessions: each session's clicked
 * or purchased items as a set; the views' cross-session history is not added, earlier sessions being
 * sessions of their own). Through an inverted index item → sessions, the `sampleSize` most recent sessions
 * that share at least one item with s are sampled (session-rec's sampling 'recent'); their similarity is
 *
 *   sim(s, t) = Σ_{i ∈ s ∩ t} w(i)
 *
 * (session-rec divides by the number of distinct items of s, a constant per query that leaves the ranking
 * as it is). The `neighbours` most similar are kept (ties: the more recent session), and a candidate scores
 *
 *   score(i) = Σ_{t ∈ N(s), i ∈ t} sim(s, t)
 *
 * Items in no neighbour (cold items included) score 0, so they keep their display order below the others.
 * Items of s itself are scored like any other (the neighbours contain them). Cost per scoring: the
 * sampling walks the posting lists from their most recent end, O(sampleSize · |s|), then O(Σ |t| over the
 * neighbours) to score and O(candidates) to look the scores up. Under Algorithm 3 (algorithm3 in ranker.ts) a
 * clicked item joins s and the remaining items are scored again; online (no feedback within a page) it
 * scores once.
 */
import type { PageView } from '../logged-session.js';
import { algorithm3, type Observe, type Progress, type RankQuery, type Ranker } from '../ranker.js';
import { lastEntries, oneOf, positiveInteger, positiveIntegerOrInfinity, querySequence, resolveOptions, trainingSessions, type TrainingSession } from './sequence-kit.js';

export const SKNN_WEIGHTINGS = ['linear', 'quadratic', 'same'] as const;
export type SknnWeighting = (typeof SKNN_WEIGHTINGS)[number];

export interface SknnOptions {
  /** k: neighbour sessions kept, the most similar of the sample. */
  readonly neighbours: number;
  /** Most recent sessions sharing an item with the current session, among which the neighbours are chosen. */
  readonly sampleSize: number;
  /** Position weight of the current session's items (see the top of this file). */
  readonly weighting: SknnWeighting;
  /** Entries of the user's sequence that form the current session (Infinity: all). */
  readonly historyLength: number;
}

export const DEFAULT_SKNN: Readonly<SknnOptions> = Object.freeze({ neighbours: 100, sampleSize: 500, weighting: 'linear', historyLength: 20 });

/** The training sessions behind an inverted index item → sessions. Session numbers: oldest 0, by recency. */
export class SessionIndex {
  readonly sessions: readonly (readonly string[])[];
  private readonly postings = new Map<string, Int32Array>();

  constructor(sessions: readonly TrainingSession[]) {
    const ordered = [...sessions].sort((a, b) => a.time - b.time);
    this.sessions = ordered.map((s) => [...new Set(s.items)]);
    const lists = new Map<string, number[]>();
    this.sessions.forEach((items, t) => {
      for (const id of items) {
        const l = lists.get(id);
        if (l) l.push(t);
        else lists.set(id, [t]);
      }
    });
    for (const [id, l] of lists) this.postings.set(id, Int32Array.from(l));
  }

  static fromViews(views: readonly PageView[]): SessionIndex {
    return new SessionIndex(trainingSessions(views));
  }

  /** Sessions holding the item, ascending (oldest first). */
  sessionsOf(item: string): Int32Array {
    return this.postings.get(item) ?? EMPTY;
  }
}

const EMPTY = new Int32Array(0);

/** The weight of each distinct item of the current session (oldest first): the weight of its most recent position. */
export function positionWeights(session: readonly string[], weighting: SknnWeighting): Map<string, number> {
  const n = session.length;
  const w = new Map<string, number>();
  session.forEach((id, i) => {
    const p = i + 1;
    w.set(id, weighting === 'linear' ? p / n : weighting === 'quadratic' ? (p / n) ** 2 : 1);
  });
  return w;
}

export interface SknnScoring {
  /** The neighbour sessions, most similar first (ties: more recent first). */
  readonly neighbours: { readonly session: number; readonly similarity: number }[];
  /** score(i) for every item of a neighbour; other items score 0. */
  readonly scores: Map<string, number>;
}

/** V-SKNN's neighbours and item scores for a current session (oldest first); pure. */
export function sknnScores(index: SessionIndex, session: readonly string[], o: Pick<SknnOptions, 'neighbours' | 'sampleSize' | 'weighting'>): SknnScoring {
  const weights = positionWeights(session, o.weighting);
  const lists: Int32Array[] = [];
  const w: number[] = [];
  for (const [id, x] of weights) {
    const l = index.sessionsOf(id);
    if (l.length > 0) {
      lists.push(l);
      w.push(x);
    }
  }
  // Merge the posting lists from their most recent end: each step takes the most recent session not yet
  // taken, and the lists whose head it is contribute their item's weight to its similarity.
  const ptr = lists.map((l) => l.length - 1);
  const sample: { session: number; similarity: number }[] = [];
  while (sample.length < o.sampleSize) {
    let top = -1;
    for (let j = 0; j < lists.length; j++) if (ptr[j]! >= 0 && lists[j]![ptr[j]!]! > top) top = lists[j]![ptr[j]!]!;
    if (top < 0) break;
    let similarity = 0;
    for (let j = 0; j < lists.length; j++) {
      if (ptr[j]! >= 0 && lists[j]![ptr[j]!] === top) {
        similarity += w[j]!;
        ptr[j]!--;
      }
    }
    sample.push({ session: top, similarity });
  }
  // The sample is in recency order, so a stable sort by similarity breaks ties towards recent sessions.
  const neighbours = sample.sort((a, b) => b.similarity - a.similarity).slice(0, o.neighbours);
  const scores = new Map<string, number>();
  for (const { session: t, similarity } of neighbours) for (const id of index.sessions[t]!) scores.set(id, (scores.get(id) ?? 0) + similarity);
  return { neighbours, scores };
}

export class SknnRanker implements Ranker {
  readonly name = 'SKNN';
  readonly options: Readonly<SknnOptions>;
  private index: SessionIndex | null = null;

  constructor(options: Partial<SknnOptions> = {}) {
    this.options = resolveOptions('SKNN', DEFAULT_SKNN, options, {
      neighbours: positiveInteger,
      sampleSize: positiveInteger,
      weighting: oneOf(SKNN_WEIGHTINGS),
      historyLength: positiveIntegerOrInfinity,
    });
  }

  async train(views: readonly PageView[], onProgress: Progress): Promise<void> {
    this.index = SessionIndex.fromViews(views);
    onProgress(1, 1);
  }

  rank(q: RankQuery, observe: Observe): string[] {
    const index = this.index;
    if (!index) throw new Error('SKNN is not trained');
    const ids = q.items.map((it) => it.id);
    return algorithm3(
      ids,
      querySequence(q),
      (seq) => {
        const { scores } = sknnScores(index, lastEntries(seq, this.options.historyLength), this.options);
        return ids.map((id) => scores.get(id) ?? 0);
      },
      (seq, clicked) => [...seq, clicked],
      observe,
    );
  }

  dispose(): void {
    this.index = null;
  }
}
