/**
 * History first: the items the user interacted with before, most recent first, then the rest in display
 * order. No training. A heuristic of the RecSys Challenge 2019 (trivago, session-based hotel
 * recommendation), where putting the impressions the user interacted with earlier first is known to beat
 * the display order by a wide margin (MRR about 0.64 against 0.46–0.51 for the display order: figures
 * quoted from the challenge's discussion of baselines, not measured here).
 *
 * The user's sequence is sequence-kit.ts's: the history, then the context item unless it is already the
 * last history item, so the context item counts as the most recent one (with `contextFirst`; otherwise
 * only the history counts). Of its last `historyLength` entries, the distinct items in order of their most
 * recent occurrence, r = 0 for the most recent, score
 *
 *   score(i) = K − r(i)        (K = number of those distinct items; every other item 0)
 *
 * so history items come first, most recent first, and the others keep their display order. Items clicked
 * on the page under Algorithm 3 are placed already, so feedback changes nothing and is not asked for.
 */
import type { PageView } from '../logged-session.js';
import { orderByScore, type Progress, type RankQuery, type Ranker } from '../ranker.js';
import { boolean, lastEntries, positiveIntegerOrInfinity, querySequence, recentDistinct, resolveOptions } from './sequence-kit.js';

export interface HistoryFirstOptions {
  /** Entries at the end of the user's sequence that count (Infinity: all; trivago keeps the last 50 clicks). */
  readonly historyLength: number;
  /** Whether the page's context item counts, as the most recent item. */
  readonly contextFirst: boolean;
}

export const DEFAULT_HISTORY_FIRST: Readonly<HistoryFirstOptions> = Object.freeze({ historyLength: Number.POSITIVE_INFINITY, contextFirst: true });

/** score(i) = K − r(i) for the recent distinct items (the most recent scores K), in a map; pure. */
export function historyFirstScores(q: Pick<RankQuery, 'history' | 'context'>, o: HistoryFirstOptions): Map<string, number> {
  const seq = o.contextFirst ? querySequence(q) : q.history;
  const recent = recentDistinct(lastEntries(seq, o.historyLength));
  return new Map(recent.map(({ item }, r) => [item, recent.length - r]));
}

export class HistoryFirstRanker implements Ranker {
  readonly name = 'history-first';
  readonly options: Readonly<HistoryFirstOptions>;

  constructor(options: Partial<HistoryFirstOptions> = {}) {
    this.options = resolveOptions('history-first', DEFAULT_HISTORY_FIRST, options, {
      historyLength: positiveIntegerOrInfinity,
      contextFirst: boolean,
    });
  }

  async train(_views: readonly PageView[], onProgress: Progress): Promise<void> {
    onProgress(1, 1);
  }

  rank(q: RankQuery): string[] {
    const scores = historyFirstScores(q, this.options);
    const ids = q.items.map((it) => it.id);
    return orderByScore(ids, ids.map((id) => scores.get(id) ?? 0));
  }

  dispose(): void {}
}
