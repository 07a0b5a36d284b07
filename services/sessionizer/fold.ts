/**
 * The sessionizer's logic as a pure fold: (user state, event, stream time) → (user state, transitions,
 * dead letters). No Kafka, no clock, no I/O; the loop (loop.ts) feeds it and writes what it returns.
 *
 * Time. Each partition has a stream time: the largest event time seen in it (the loop also moves it to
 * the wall clock when the partition is caught up, so idle sessions close without new events). The
 * watermark is stream time − grace.
 *   - An event at or above the watermark is accepted into the user's buffer and applied once the watermark
 *     reaches its event time, so events that arrive out of order within the grace period are applied in
 *     event order (ties keep arrival order). With grace 0 an in-order event is applied at once.
 *   - An event below the watermark is still in order for its user when nothing of theirs applied so far is
 *     later (`appliedUntil`): it is accepted and applied at once. Producers that were cut off (a broker or
 *     network outage) deliver such events, and the partition's clock, driven by other users' events or by
 *     the wall clock, must not turn them away. Only an event older than what its user's state already
 *     reflects is too late: it is dead-lettered with the reason.
 *   - A session whose last event is `sessionTimeoutMs` or more before the watermark is closed with an
 *     implied leave dated lastActivity + timeout; an event of that session at or after that time finds it
 *     closed. Events of (recently) closed sessions are dead-lettered; an event of a new session closes the
 *     open one.
 * Because acceptance of events at or above the watermark depends only on the stream time and application
 * only on event order, the output does not depend on when `flush` runs: running it late gives the same
 * transitions, only later. Events below the watermark are the exception: whether one is still in order for
 * its user can depend on whether the timer applied that user's buffered events before it arrived.
 *
 * Retention. A user whose newest event is `userRetentionMs` or more before the watermark is forgotten
 * (`expiredAt`): the loop's timer drops them from the store (`timerStep`) and `step` treats a late-coming
 * timer the same way, so a returning user starts from an empty history whenever the timer ran.
 *
 * De-duplication. Each user keeps the ids of their last `dedupeWindow` accepted events, and the ids of all
 * buffered ones; an event whose id is among them is dropped (reported as a duplicate, not a dead letter).
 * A duplicate of an event that is neither is older than the watermark (its original was applied, so its
 * time is at or below it), so it is dead-lettered as too late; only a duplicate exactly at the watermark
 * with more than `dedupeWindow` newer events of its user in between could be applied twice.
 *
 * Transitions (DESIGN.md §3). A recommendation opens a pending list (the shown items in display order).
 *   - click on item p: unresolved items before p are skips, p is a click; the list is then closed (items
 *     after the clicked one were not passed over).
 *   - purchase of several items: each purchased id claims the first unresolved item showing it; in display
 *     order up to the last claimed item, claimed items are purchases (one transition each, whose next
 *     state is its state + that item) and the others skips; the list is then closed. Purchased items the
 *     list did not show join the history after them, without a transition.
 *   - explicit skip on item p: unresolved items up to p are skips; the list stays open after p.
 *   - leave (explicit, timeout, or another session starting): unresolved items are skips except the last,
 *     which is the leave (terminal).
 *   - a new recommendation: the previous list's unresolved items are skips (passed over).
 *   - any other event more than `waitWindowMs` after the list was shown: its unresolved items are skips
 *     (a leave is not "another event": the list's last item still carries the leave).
 * Feedback that cannot be joined (unknown request, item or position, already resolved) is dead-lettered.
 * Clicked and purchased items join the history (N most recent, oldest first); scenario and next scenario
 * come from the scenario graph, rewards from the settings, model version and propensity from the list.
 * Each session that ends is reported in `closed` with its number of transitions (its steps, from the state,
 * so exact across restarts): the loop's metrics (metrics.ts) count sessions and their rewards from it.
 */
import { nextScenario, type Behaviour, type Transition, type UserEvent } from '../common/index.js';
import {
  emptyUserState, type BufferedEvent, type OpenSession, type PendingList, type SessionizerSettings, type UserState,
} from './state.js';

export interface DeadLetterNote {
  readonly event: UserEvent;
  readonly source: string | null;
  readonly reason: string;
}

/** A session that ended, and how many transitions it had in all (steps 0 … steps − 1). */
export interface ClosedSession {
  readonly userId: string;
  readonly sessionId: string;
  readonly steps: number;
}

export interface FoldResult {
  readonly state: UserState;
  readonly transitions: Transition[];
  readonly deadLetters: DeadLetterNote[];
  /** Sessions this step ended, after their last transition in `transitions`. */
  readonly closed: ClosedSession[];
  /** True when the event was dropped as a duplicate (state and outputs unchanged). */
  readonly duplicate: boolean;
}

/** Applies one event of `state`'s user at stream time `streamTime` (which already includes this event). */
export function step(
  state: UserState | undefined,
  event: UserEvent,
  streamTime: number,
  settings: SessionizerSettings,
  source: string | null = null,
): FoldResult {
  if (state !== undefined && expiredAt(state, streamTime, settings)) {
    // The timer may not have forgotten this user yet: end what they left open and start afresh, exactly as
    // if it had (timerStep), so the output does not depend on when the timer ran.
    const ended = flush(state, streamTime, settings);
    const r = step(undefined, event, streamTime, settings, source);
    return {
      ...r,
      transitions: [...ended.transitions, ...r.transitions],
      deadLetters: [...ended.deadLetters, ...r.deadLetters],
      closed: [...ended.closed, ...r.closed],
    };
  }
  const before = state ?? emptyUserState(event.userId);
  if (before.recentIds.includes(event.eventId) || before.buffer.some((b) => b.event.eventId === event.eventId)) {
    return { state: before, transitions: [], deadLetters: [], closed: [], duplicate: true };
  }
  const watermark = streamTime - settings.graceMs;
  const applied = appliedUntil(before);
  if (event.eventTime < watermark && event.eventTime < applied) {
    const reason =
      `late: event time ${event.eventTime} is ${watermark - event.eventTime} ms before the watermark ` +
      `(stream time ${streamTime} − grace ${settings.graceMs} ms) and ${applied - event.eventTime} ms before the latest ` +
      `event its user's state reflects (${applied})`;
    return { state: before, transitions: [], deadLetters: [{ event, source, reason }], closed: [], duplicate: false };
  }
  const recentIds = before.recentIds.length >= settings.dedupeWindow
    ? [...before.recentIds.slice(before.recentIds.length - settings.dedupeWindow + 1), event.eventId]
    : [...before.recentIds, event.eventId];
  const accepted: UserState = {
    ...before,
    recentIds,
    buffer: insertByTime(before.buffer, { event, source }),
    maxEventTime: Math.max(before.maxEventTime, event.eventTime),
  };
  return { ...flush(accepted, streamTime, settings), duplicate: false };
}

/**
 * An upper bound on the event times applied to this state: every buffered event is later than every applied
 * one (the watermark only moves forward), and with a session open its last applied event is the latest.
 * An event at or after it cannot come before anything applied, so it can still be applied in order.
 */
function appliedUntil(state: UserState): number {
  if (state.session !== null) return state.session.lastActivity;
  return state.buffer.length > 0 ? state.buffer[0]!.event.eventTime : state.maxEventTime;
}

/**
 * Applies the buffered events the watermark has passed and closes the session if it has been idle past
 * the timeout. The loop's timer calls it (through `timerStep`) for the users due; `step` calls it too.
 */
export function flush(
  state: UserState,
  streamTime: number,
  settings: SessionizerSettings,
): { state: UserState; transitions: Transition[]; deadLetters: DeadLetterNote[]; closed: ClosedSession[] } {
  const watermark = streamTime - settings.graceMs;
  const due = state.buffer.length > 0 && state.buffer[0]!.event.eventTime <= watermark;
  const idle = state.session !== null && state.session.lastActivity + settings.sessionTimeoutMs <= watermark;
  if (!due && !idle) return { state, transitions: [], deadLetters: [], closed: [] };

  const w = new Working(state, settings);
  let i = 0;
  while (i < state.buffer.length && state.buffer[i]!.event.eventTime <= watermark) w.apply(state.buffer[i++]!);
  if (w.session && w.session.lastActivity + settings.sessionTimeoutMs <= watermark) {
    w.close(w.session.lastActivity + settings.sessionTimeoutMs);
  }
  return { state: w.result(state.buffer.slice(i)), transitions: w.transitions, deadLetters: w.deadLetters, closed: w.closed };
}

/**
 * True once the user's newest event is `userRetentionMs` or more before the watermark. By then every buffered
 * event is due and the session idle past its timeout (the retention is longer than the timeout: config.ts), so
 * `flush` leaves nothing open and the user can be forgotten.
 */
export function expiredAt(state: UserState, streamTime: number, settings: SessionizerSettings): boolean {
  return state.maxEventTime + settings.userRetentionMs <= streamTime - settings.graceMs;
}

/**
 * The earliest stream time at which the timer has work for this user (a buffered event due, the session idle
 * past its timeout, or `expiredAt`): the loop keeps users ordered by it, so a tick visits the due users only.
 */
export function dueAt(state: UserState, settings: SessionizerSettings): number {
  const { graceMs, sessionTimeoutMs, userRetentionMs } = settings;
  let due = state.maxEventTime + userRetentionMs + graceMs;
  if (state.buffer.length > 0) due = Math.min(due, state.buffer[0]!.event.eventTime + graceMs);
  if (state.session !== null) due = Math.min(due, state.session.lastActivity + sessionTimeoutMs + graceMs);
  return due;
}

/** The timer's work for one user at this stream time: `flush`, then forget the user (state null) once expired. */
export function timerStep(
  state: UserState,
  streamTime: number,
  settings: SessionizerSettings,
): { state: UserState | null; transitions: Transition[]; deadLetters: DeadLetterNote[]; closed: ClosedSession[] } {
  const r = flush(state, streamTime, settings);
  return expiredAt(state, streamTime, settings) ? { ...r, state: null } : r;
}

function insertByTime(buffer: readonly BufferedEvent[], item: BufferedEvent): BufferedEvent[] {
  let i = buffer.length;
  while (i > 0 && buffer[i - 1]!.event.eventTime > item.event.eventTime) i--;
  return [...buffer.slice(0, i), item, ...buffer.slice(i)];
}

/** Mutable scratch copy of one user's state while a flush applies events; the input is never changed. */
class Working {
  history: readonly string[];
  session: OpenSession | null;
  closedSessions: readonly string[];
  readonly transitions: Transition[] = [];
  readonly deadLetters: DeadLetterNote[] = [];
  readonly closed: ClosedSession[] = [];

  constructor(
    private readonly base: UserState,
    private readonly settings: SessionizerSettings,
  ) {
    this.history = base.history;
    this.session = base.session;
    this.closedSessions = base.closedSessions;
  }

  result(buffer: readonly BufferedEvent[]): UserState {
    return { ...this.base, history: this.history, session: this.session, closedSessions: this.closedSessions, buffer };
  }

  apply({ event, source }: BufferedEvent): void {
    const t = event.eventTime;
    const { sessionTimeoutMs, waitWindowMs } = this.settings;
    if (this.session && t >= this.session.lastActivity + sessionTimeoutMs) {
      this.close(this.session.lastActivity + sessionTimeoutMs);
    }
    if (this.session?.sessionId !== event.sessionId && this.closedSessions.includes(event.sessionId)) {
      this.deadLetters.push({ event, source, reason: `session ${event.sessionId} is already closed` });
      return;
    }
    if (this.session && this.session.sessionId !== event.sessionId) this.close(t);
    if (!this.session) this.session = { sessionId: event.sessionId, step: 0, lastActivity: t, pending: null };
    const pending = this.session.pending;
    if (pending && event.type !== 'leave' && t - pending.shownAt > waitWindowMs) {
      this.resolve(pending, pending.items.length, 'skip', t);
      this.setPending(null);
    }
    const rejected = this.applyEvent(event, t);
    if (rejected) this.deadLetters.push({ event, source, reason: rejected });
    if (this.session) this.session = { ...this.session, lastActivity: Math.max(this.session.lastActivity, t) };
  }

  /** Applies the event to the open session; returns a dead-letter reason if it cannot be joined. */
  private applyEvent(event: UserEvent, t: number): string | null {
    const pending = this.session!.pending;
    switch (event.type) {
      case 'recommendation': {
        if (event.items.length === 0) return 'recommendation shows no items';
        if (event.propensities.length !== 0 && event.propensities.length !== event.items.length) {
          return `recommendation has ${event.items.length} items but ${event.propensities.length} propensities`;
        }
        if (pending) this.resolve(pending, pending.items.length, 'skip', t);
        this.setPending({
          requestId: event.requestId, scenario: event.scenario, items: event.items, propensities: event.propensities,
          modelVersion: event.modelVersion, shownAt: t, next: 0,
        });
        return null;
      }
      case 'click':
      case 'skip': {
        if (!pending || pending.requestId !== event.requestId) {
          return `${event.type} on request ${event.requestId}, which has no items waiting for feedback`;
        }
        const p = event.position;
        if (!Number.isInteger(p) || p < pending.next || p >= pending.items.length || pending.items[p] !== event.itemId) {
          return `${event.type} on item ${event.itemId} at position ${p} of request ${event.requestId}: ` +
            `not an item still waiting for feedback (waiting: positions ${pending.next}..${pending.items.length - 1})`;
        }
        if (event.type === 'click') {
          this.resolve(pending, p, 'skip', t);
          this.emit(pending, p, 'click', t, [event.itemId]);
          this.setPending(null);
        } else {
          this.resolve(pending, p + 1, 'skip', t);
          this.setPending(p + 1 < pending.items.length ? { ...pending, next: p + 1 } : null);
        }
        return null;
      }
      case 'purchase': {
        const canJoin = pending !== null && 'purchase' in this.settings.graph[pending.scenario];
        const { positions, unshown } = canJoin ? purchasedPositions(pending, event.itemIds) : { positions: [], unshown: event.itemIds };
        if (pending && positions.length > 0) {
          // One transition per purchased item, in display order, each appending only its own item: the
          // learner's contract (nextState = state + action, replay-buffer.ts). Unresolved items before the
          // last purchased one were passed over (skips); items after it were not (the list closes, as for
          // a click).
          const bought = new Set(positions);
          const last = positions[positions.length - 1]!;
          for (let i = pending.next; i <= last; i++) {
            if (bought.has(i)) this.emit(pending, i, 'purchase', t, [pending.items[i]!]);
            else this.emit(pending, i, 'skip', t, []);
          }
          this.setPending(null);
        }
        // Purchased items the list did not show join the state after the list's transitions, in the event's order.
        if (unshown.length > 0) this.history = appendBounded(this.history, unshown, this.settings.historyLength);
        return null;
      }
      case 'leave':
        this.close(t);
        return null;
      case 'page_change':
      case 'add_to_cart':
        return null;
    }
  }

  /** Ends the open session: its pending items are skips but the last, which is the leave. */
  close(t: number): void {
    const session = this.session!;
    const pending = session.pending;
    if (pending) {
      const last = pending.items.length - 1;
      this.resolve(pending, last, 'skip', t);
      this.emit(pending, last, 'leave', t, []);
    }
    const kept = this.closedSessions.length >= this.settings.closedSessionsKept
      ? this.closedSessions.slice(this.closedSessions.length - this.settings.closedSessionsKept + 1)
      : this.closedSessions;
    this.closedSessions = [...kept, session.sessionId];
    this.closed.push({ userId: this.base.userId, sessionId: session.sessionId, steps: this.session!.step });
    this.session = null;
  }

  private setPending(pending: PendingList | null): void {
    this.session = { ...this.session!, pending };
  }

  /** Emits `behaviour` for every unresolved item before index `end`; callers then replace or drop the list. */
  private resolve(pending: PendingList, end: number, behaviour: Behaviour, t: number): void {
    for (let i = pending.next; i < end; i++) this.emit(pending, i, behaviour, t, []);
  }

  private emit(pending: PendingList, index: number, behaviour: Behaviour, t: number, joins: readonly string[]): void {
    const session = this.session!;
    const state = this.history;
    if (joins.length > 0) this.history = appendBounded(this.history, joins, this.settings.historyLength);
    const next = nextScenario(this.settings.graph, pending.scenario, behaviour);
    this.transitions.push({
      userId: this.base.userId,
      sessionId: session.sessionId,
      step: session.step,
      scenario: pending.scenario,
      state: state as string[],
      action: pending.items[index]!,
      behaviour,
      reward: this.settings.rewards[behaviour],
      nextState: this.history as string[],
      nextScenario: next,
      terminal: next === null,
      eventTime: t,
      modelVersion: pending.modelVersion,
      propensity: pending.propensities[index] ?? null,
      position: index,
    });
    this.session = { ...session, step: session.step + 1 };
  }
}

/**
 * Which unresolved positions of the list a purchase of `itemIds` bought: each id, in the event's order,
 * claims the first unresolved, unclaimed position that shows it. Returned ascending (display order), with
 * the ids that claimed none (not shown, or bought more times than shown) in the event's order.
 */
function purchasedPositions(pending: PendingList, itemIds: readonly string[]): { positions: number[]; unshown: string[] } {
  const claimed = new Set<number>();
  const unshown: string[] = [];
  for (const id of itemIds) {
    let at = -1;
    for (let i = pending.next; i < pending.items.length; i++) {
      if (pending.items[i] === id && !claimed.has(i)) { at = i; break; }
    }
    if (at >= 0) claimed.add(at);
    else unshown.push(id);
  }
  return { positions: [...claimed].sort((a, b) => a - b), unshown };
}

function appendBounded(history: readonly string[], items: readonly string[], n: number): readonly string[] {
  const joined = [...history, ...items];
  return joined.length > n ? joined.slice(joined.length - n) : joined;
}
