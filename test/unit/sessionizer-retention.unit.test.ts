/**
 * Forgetting idle users (fold.ts expiredAt, timerStep) and the due-time index the loop's timer walks
 * (due-index.ts): pure logic, no Kafka.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Transition, UserEvent } from '../../services/common/index.js';
import { DueIndex } from '../../services/sessionizer/due-index.js';
import { dueAt, expiredAt, flush, step, timerStep } from '../../services/sessionizer/fold.js';
import { DEFAULT_SETTINGS, type SessionizerSettings, type UserState } from '../../services/sessionizer/state.js';
import { generateUser, seededRng, type WorkloadOptions } from '../../services/sessionizer/workload.js';

const S: SessionizerSettings = {
  ...DEFAULT_SETTINGS, historyLength: 4, sessionTimeoutMs: 10_000, waitWindowMs: 8_000, graceMs: 1_000, dedupeWindow: 16, userRetentionMs: 12_000,
};

let n = 0;
const rec = (t: number, sessionId: string, requestId: string, items: string[]): UserEvent => ({
  eventId: `e${n++}`, userId: 'u', sessionId, scenario: 'entrance', type: 'recommendation', eventTime: t, requestId, items,
  propensities: items.map(() => 1), model: 'm', modelVersion: 1,
});
const click = (t: number, sessionId: string, requestId: string, itemId: string, position: number): UserEvent => ({
  eventId: `e${n++}`, userId: 'u', sessionId, scenario: 'entrance', type: 'click', eventTime: t, requestId, itemId, position,
});

/** Steps events in order at their own stream time; `tickAt` runs the timer (with forgetting) before an event. */
function foldWithTimer(events: readonly UserEvent[], settings: SessionizerSettings, tickAt: (i: number) => number | null) {
  let state: UserState | undefined;
  let clock = Number.MIN_SAFE_INTEGER;
  let forgotten = 0;
  const out: Transition[] = [];
  events.forEach((e, i) => {
    const tick = tickAt(i);
    if (tick !== null && state !== undefined && Math.max(clock, tick) >= dueAt(state, settings)) {
      clock = Math.max(clock, tick);
      const r = timerStep(state, clock, settings);
      out.push(...r.transitions);
      if (r.state === null) forgotten++;
      state = r.state ?? undefined;
    }
    clock = Math.max(clock, e.eventTime);
    const r = step(state, e, clock, settings);
    state = r.state;
    out.push(...r.transitions);
  });
  out.push(...flush(state!, Number.MAX_SAFE_INTEGER, settings).transitions);
  return { out, forgotten };
}

test('a user idle past the retention is forgotten by the timer, after their session is closed', () => {
  const events = [rec(1_000, 's1', 'r1', ['a', 'b']), click(2_000, 's1', 'r1', 'b', 1)];
  // Stream time 1 s past the click: the grace has passed and the click is applied.
  const { state } = events.reduce<{ state: UserState | undefined }>((acc, e) => ({ state: step(acc.state, e, e.eventTime + S.graceMs, S).state }), { state: undefined });
  assert.ok(state, 'the user has a state');
  assert.deepEqual(state.history, ['b']);
  // Due first to close the session (idle 10 s past its last event, plus the grace), then to be forgotten.
  assert.equal(dueAt(state, S), 2_000 + S.sessionTimeoutMs + S.graceMs);
  assert.equal(expiredAt(state, 2_000 + S.userRetentionMs + S.graceMs - 1, S), false);
  const closed = timerStep(state, 2_000 + S.sessionTimeoutMs + S.graceMs, S);
  assert.ok(closed.state, 'not forgotten yet: only the session closes');
  assert.equal(closed.state.session, null);
  assert.deepEqual(closed.closed.map((c) => c.sessionId), ['s1']);
  assert.equal(dueAt(closed.state, S), 2_000 + S.userRetentionMs + S.graceMs);
  const gone = timerStep(closed.state, 2_000 + S.userRetentionMs + S.graceMs, S);
  assert.equal(gone.state, null);
  assert.deepEqual(gone.transitions, []);
});

test('the timer forgets a user whose session is still open in one step: the leave comes out first', () => {
  const state = step(undefined, rec(1_000, 's1', 'r1', ['a', 'b']), 1_000, S).state;
  const r = timerStep(state, 1_000 + S.userRetentionMs + S.graceMs, S);
  assert.equal(r.state, null);
  assert.deepEqual(r.transitions.map((t) => `${t.action}:${t.behaviour}`), ['a:skip', 'b:leave']);
});

test('a returning user past the retention starts from an empty history, whether or not the timer ran', () => {
  const first = [rec(1_000, 's1', 'r1', ['a', 'b']), click(2_000, 's1', 'r1', 'b', 1)];
  const back = 2_000 + S.userRetentionMs + S.graceMs + 5_000;
  const second = [rec(back, 's2', 'r2', ['c', 'd']), click(back + 1_000, 's2', 'r2', 'c', 0)];
  const untimed = foldWithTimer([...first, ...second], S, () => null);
  const timed = foldWithTimer([...first, ...second], S, (i) => (i === 2 ? back - 1 : null));
  assert.equal(untimed.forgotten, 0);
  assert.equal(timed.forgotten, 1);
  assert.deepEqual(timed.out, untimed.out);
  const returning = untimed.out.filter((t) => t.sessionId === 's2');
  assert.deepEqual(returning.map((t) => t.state), [[]], 'the click on c is made from an empty history');
  // Kept longer, the same user would have carried b across.
  const kept = foldWithTimer([...first, ...second], { ...S, userRetentionMs: 10 * S.userRetentionMs }, () => null);
  assert.deepEqual(kept.out.filter((t) => t.sessionId === 's2').map((t) => t.state), [['b']]);
});

test('running the timer (with forgetting) at arbitrary moments changes when transitions come out, never which', () => {
  // Idle gaps of 11 s against a retention of 10.5 s: every later session of a user starts forgotten.
  const settings: SessionizerSettings = { ...S, userRetentionMs: 10_500 };
  const W: WorkloadOptions = { sessions: 3, pagesPerSession: 4, maxItems: 4, gapMs: [1, 1_000], idleGapMs: 11_000 + settings.graceMs, catalogue: 12 };
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.infiniteStream(fc.option(fc.integer({ min: 0, max: 15_000 }), { freq: 2 })), (s, ticks) => {
      const events = generateUser(seededRng(s), 'u', 0, W).events;
      const reference = foldWithTimer(events, settings, () => null).out;
      const it = ticks[Symbol.iterator]();
      // A tick somewhere between the previous event and this one: at most the next event's time.
      const timed = foldWithTimer(events, settings, (i) => {
        const d = it.next().value;
        return d === null ? null : events[i]!.eventTime - d;
      }).out;
      assert.deepEqual(timed, reference);
    }),
    { numRuns: 200 },
  );
});

test('the due index finds exactly the users due, earliest first, through moves and deletions', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), user: fc.integer({ min: 0, max: 30 }), time: fc.integer({ min: 0, max: 100 }) }),
    fc.record({ kind: fc.constant('delete' as const), user: fc.integer({ min: 0, max: 30 }) }),
    fc.record({ kind: fc.constant('due' as const), time: fc.integer({ min: -1, max: 101 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      const index = new DueIndex();
      const naive = new Map<string, number>();
      for (const o of ops) {
        if (o.kind === 'set') { index.set(`u${o.user}`, o.time); naive.set(`u${o.user}`, o.time); }
        else if (o.kind === 'delete') { index.delete(`u${o.user}`); naive.delete(`u${o.user}`); }
        else {
          const got = index.dueAt(o.time);
          const want = [...naive].filter(([, t]) => t <= o.time);
          assert.deepEqual(new Set(got), new Set(want.map(([u]) => u)));
          const times = got.map((u) => naive.get(u)!);
          assert.deepEqual(times, [...times].sort((a, b) => a - b), 'earliest first');
        }
        assert.equal(index.size, naive.size);
      }
    }),
    { numRuns: 300 },
  );
});
