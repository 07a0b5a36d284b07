/**
 * The one interface every model of the offline test implements, and the paper's Algorithm 3 loop that the
 * stateful ones share.
 */
import type { Behaviour } from '../common/index.js';
import { isRelevant, type PageView } from './logged-session.js';

/** A page view as a model may see it: everything but the behaviours. */
export interface RankQuery {
  readonly userId: string;
  readonly sessionId: string;
  readonly time: number;
  readonly scenario: PageView['scenario'];
  readonly history: readonly string[];
  readonly context: string | null;
  readonly items: readonly { readonly id: string; readonly price?: number }[];
}

/** Algorithm 3 line 6: the logged behaviour on an item once it has been placed. */
export type Observe = (itemId: string) => Behaviour;

export type Progress = (done: number, total: number) => void;

/**
 * Validation during training (learning curves, early stopping): an iterative ranker calls `at(done)` after
 * every `every` units of its own (Algorithm 1 steps, epochs) and after its last one, at a moment when it can
 * rank; `at` answers false to stop training there.
 */
export interface Checkpoint {
  readonly every: number;
  readonly at: (done: number) => boolean;
}

/** True when a ranker should call its checkpoint after `done` of `total` units. */
export function checkpointDue(checkpoint: Checkpoint | undefined, done: number, total: number): checkpoint is Checkpoint {
  return checkpoint !== undefined && (done % checkpoint.every === 0 || done === total);
}

export interface Ranker {
  readonly name: string;
  /** Trains on the training part only (`checkpoint`: iterative rankers only; the others ignore it). */
  train(views: readonly PageView[], onProgress: Progress, checkpoint?: Checkpoint): Promise<void>;
  /** The query's item ids, best first (a permutation of them). */
  rank(query: RankQuery, observe: Observe): string[];
  dispose(): void;
}

export function queryOf(view: PageView): RankQuery {
  return {
    userId: view.userId,
    sessionId: view.sessionId,
    time: view.time,
    scenario: view.scenario,
    history: view.history,
    context: view.context,
    items: view.items.map((it) => (it.price === undefined ? { id: it.id } : { id: it.id, price: it.price })),
  };
}

export function observerOf(view: PageView): Observe {
  const by = new Map(view.items.map((it) => [it.id, it.behaviour]));
  return (id) => {
    const b = by.get(id);
    if (b === undefined) throw new Error(`item '${id}' was not shown in this view`);
    return b;
  };
}

/** Orders ids by score, best first; ties keep display order. */
export function orderByScore(ids: readonly string[], scores: ArrayLike<number>): string[] {
  return ids
    .map((id, i) => ({ id, i, s: scores[i]! }))
    .sort((a, b) => b.s - a.s || a.i - b.i)
    .map((x) => x.id);
}

/**
 * Paper Algorithm 3: while items remain, score them under the current state (line 4), place the best
 * (line 5), observe the logged behaviour (line 6), and move to the next state (line 7: a clicked or
 * purchased item joins the state), removing the placed item (line 8). Scores are recomputed only when the
 * state changes. Ties keep display order.
 */
export function algorithm3<S>(
  ids: readonly string[],
  initial: S,
  score: (state: S, ids: readonly string[]) => ArrayLike<number>,
  advance: (state: S, clicked: string) => S,
  observe: Observe,
): string[] {
  // Placing the best remaining item until the state changes is walking the remaining items in order of
  // (score desc, display position asc): one sort per state, not one scan per placement.
  let state = initial;
  let remaining = ids.map((_, i) => i);
  const out: string[] = [];
  while (remaining.length > 0) {
    const scores = score(state, ids);
    remaining.sort((a, b) => scores[b]! - scores[a]! || a - b);
    let placed = 0;
    let changed = false;
    while (placed < remaining.length && !changed) {
      const id = ids[remaining[placed++]!]!;
      out.push(id);
      if (placed < remaining.length && isRelevant(observe(id))) {
        state = advance(state, id);
        changed = true;
      }
    }
    remaining = remaining.slice(placed);
  }
  return out;
}
