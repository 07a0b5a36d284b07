/**
 * Users' histories as a serving node knows them: the last N clicked or purchased items per user (the
 * paper's state s_t, DESIGN.md §2), kept from the `events` stream. Bounded: least recently seen users are
 * forgotten past `maxUsers`.
 */
import type { UserEvent } from '../common/index.js';

export class UserHistories {
  private readonly byUser = new Map<string, string[]>();

  constructor(
    readonly historyLength: number,
    readonly maxUsers: number,
  ) {}

  get size(): number {
    return this.byUser.size;
  }

  /** The user's history, oldest first (empty for an unknown user). */
  get(userId: string): readonly string[] {
    return this.byUser.get(userId) ?? [];
  }

  /** Clicks and purchases join the state; other events leave it as it is. */
  apply(event: UserEvent): void {
    if (event.type === 'click') this.append(event.userId, [event.itemId]);
    else if (event.type === 'purchase') this.append(event.userId, event.itemIds);
  }

  append(userId: string, itemIds: readonly string[]): void {
    const items = this.byUser.get(userId) ?? [];
    this.byUser.delete(userId); // re-insert: Map order is recency order
    items.push(...itemIds);
    if (items.length > this.historyLength) items.splice(0, items.length - this.historyLength);
    this.byUser.set(userId, items);
    if (this.byUser.size > this.maxUsers) this.byUser.delete(this.byUser.keys().next().value!);
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
