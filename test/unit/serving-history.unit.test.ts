/**
 * A serving node's user histories (services/serving/history.ts) follow the sessionizer's transitions, and
 * its readiness follows the start-up catch-up (services/serving/catch-up.ts). No servers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { UserEvent } from '../../services/common/index.js';
import { CatchUp } from '../../services/serving/catch-up.js';
import { UserHistories } from '../../services/serving/history.js';
import { DEFAULT_SETTINGS } from '../../services/sessionizer/state.js';
import { step } from '../../services/sessionizer/fold.js';

const SETTINGS = { ...DEFAULT_SETTINGS, graceMs: 0, historyLength: 5 };

/** The transitions the sessionizer's fold makes of one user's events (one partition, in order). */
function fold(events: UserEvent[]) {
  let state;
  let streamTime = Number.MIN_SAFE_INTEGER;
  const out = [];
  for (const e of events) {
    streamTime = Math.max(streamTime, e.eventTime);
    const r = step(state, e, streamTime, SETTINGS);
    state = r.state;
    out.push(...r.transitions);
  }
  return out;
}

const base = { userId: 'u1', sessionId: 's1', scenario: 'entrance' as const };
const rec = (eventId: string, t: number, requestId: string, items: string[]): UserEvent => ({
  ...base, eventId, eventTime: t, type: 'recommendation', requestId, items, propensities: [], model: 'm', modelVersion: 1,
});
const click = (eventId: string, t: number, requestId: string, itemId: string, position: number): UserEvent => ({
  ...base, eventId, eventTime: t, type: 'click', requestId, itemId, position,
});

test('a retried click counts once and a click the sessionizer dead-letters not at all', () => {
  const events = [
    rec('r1', 1_000, 'q1', ['a', 'b']),
    click('c1', 1_100, 'q1', 'b', 1),
    click('c1', 1_100, 'q1', 'b', 1), // retried: same event id
    click('c2', 1_200, 'q-unknown', 'x', 0), // joins no list: dead-lettered
    click('c3', 10, 'q1', 'a', 0), // too late: dead-lettered
  ];
  const fromTransitions = new UserHistories(10, 10);
  for (const t of fold(events)) fromTransitions.observe(t);
  // Raw clicks applied as they come (what serving did before it followed the sessionizer) would give b, b, x, a.
  assert.deepEqual(fromTransitions.get('u1'), ['b']);
});

test('a history is the nextState of the newest transition: replays are idempotent, the length is bounded', () => {
  const h = new UserHistories(3, 10);
  const t1 = { userId: 'u1', nextState: ['a', 'b'] };
  const t2 = { userId: 'u1', nextState: ['a', 'b', 'c', 'd'] };
  h.observe(t1);
  h.observe(t2);
  h.observe(t2); // read again (a restart re-reads the topic): the same state, not a longer one
  assert.deepEqual(h.get('u1'), ['b', 'c', 'd']);
  t2.nextState.push('mutated');
  assert.deepEqual(h.get('u1'), ['b', 'c', 'd'], 'a copy, not the transition\'s array');
});

test('past maxUsers the least recently seen user is forgotten, empty until their next transition brings it all back', () => {
  const h = new UserHistories(10, 2);
  h.observe({ userId: 'u1', nextState: ['a'] });
  h.observe({ userId: 'u2', nextState: ['b'] });
  h.get('u1'); // a request does not count as seen: only the sessionizer's transitions do
  h.observe({ userId: 'u1', nextState: ['a', 'c'] });
  h.observe({ userId: 'u3', nextState: ['d'] });
  assert.equal(h.size, 2);
  assert.equal(h.evicted, 1);
  assert.deepEqual(h.get('u2'), [], 'u2 was the least recently seen');
  assert.deepEqual(h.get('u1'), ['a', 'c']);
  h.observe({ userId: 'u2', nextState: ['b', 'e', 'f'] });
  assert.deepEqual(h.get('u2'), ['b', 'e', 'f'], 'the whole history again, from the sessionizer');
  assert.deepEqual(h.get('u1'), [], 'u1 is now the least recently seen');
});

test('catch-up: not caught up until every partition reached the end seen at start; says how far behind', () => {
  const c = new CatchUp([
    { partition: 0, from: 10n, to: 20n },
    { partition: 1, from: 5n, to: 5n }, // nothing to read
    { partition: 2, from: 0n, to: 4n },
  ], 1_000);
  assert.equal(c.total, 14);
  assert.equal(c.caughtUp, false);
  assert.equal(c.describe(), 'catching up on transitions: 14 of 14 records behind the end seen at start (partitions 0,2)');
  c.advance(0, 20n, 1_100);
  c.advance(1, 9n, 1_100); // a partition with no target is ignored
  c.advance(2, 3n, 1_200);
  assert.equal(c.behind, 1);
  assert.equal(c.caughtUp, false);
  assert.equal(c.tookMs, null);
  c.advance(2, 2n, 1_250); // a position never moves back
  assert.equal(c.behind, 1);
  c.advance(2, 4n, 1_300); // e.g. past a transaction's commit marker
  assert.equal(c.caughtUp, true);
  assert.equal(c.tookMs, 300);
  c.advance(0, 30n, 2_000); // later records do not change the start-up figure
  assert.equal(c.tookMs, 300);
  assert.equal(new CatchUp([], 5).caughtUp, true, 'an empty topic: ready at once');
});
