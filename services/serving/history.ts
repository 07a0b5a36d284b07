/**
 * Users' histories as a serving node knows them: the last N clicked or purchased items per user (the
 * paper's state s_t, DESIGN.md §2), taken from what the sessionizer decided — the `nextState` of the user's
 * newest transition — so that the state a node acts on is the state the learner trains on. The sessionizer
 * has already de-duplicated retried events, dead-lettered the ones it could not join and ordered the rest
 * (services/sessionizer/fold.ts); a transition read twice sets the same history again.
 *
 * Bounded: past `maxUsers` the least recently seen user (the one whose newest transition is oldest here) is
 * forgotten. A forgotten user gets an empty history until their next transition, whose `nextState` carries
 * the sessionizer's whole history for them again.
 */
import type { Transition } from '../common/index.js';

export class UserHistories {
  private readonly byUser = new Map<string, readonly string[]>();
  private evictedCount = 0;

  constructor(
    readonly historyLength: number,
    readonly maxUsers: number,
  ) {}

  get size(): number {
    return this.byUser.size;
  }

  /** Users forgotten so far to keep within `maxUsers`. */
  get evicted(): number {
    return this.evictedCount;
  }

  /** The user's history, oldest first (empty for an unknown or forgotten user). */
  get(userId: string): readonly string[] {
    return this.byUser.get(userId) ?? [];
  }

  /**
   * The sessionizer's decision for one step: the user's history is now its `nextState` (its last
   * `historyLength` items). Transitions of a user must come in the sessionizer's order (partition order:
   * the `transitions` topic is keyed by user id).
   */
  observe(transition: Pick<Transition, 'userId' | 'nextState'>): void {
    const items = transition.nextState;
    this.set(transition.userId, items.length > this.historyLength ? items.slice(items.length - this.historyLength) : [...items]);
  }

  private set(userId: string, items: readonly string[]): void {
    this.byUser.delete(userId); // re-insert: Map order is recency order
    this.byUser.set(userId, items);
    if (this.byUser.size > this.maxUsers) {
      this.byUser.delete(this.byUser.keys().next().value!);
      this.evictedCount++;
    }
  }
}

/**
 * The state a request is answered from: the stream's history, plus the page's item when the request names
 * one the stream has not delivered yet (the click that opened this detail page may still be in flight).
 */
export function requestState(history: readonly string[], contextItem: string | undefined, n: number): string[] {
  const state = [...history];
  if (contextItem !== undefined && state[state.length - 1] !== contextItem) state.push(contextItem);
  return state.length > n ? state.slice(state.length - n) : state;
}
