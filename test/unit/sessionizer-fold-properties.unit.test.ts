import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SCENARIOS, type Behaviour, type Transition, type UserEvent } from '../../services/common/index.js';
import { ItemVocabulary, resolveConfig, scenarioLayout, toReplayRecord } from '../../services/model/index.js';
import { flush, step } from '../../services/sessionizer/fold.js';
import { DEFAULT_SETTINGS, type SessionizerSettings, type UserState } from '../../services/sessionizer/state.js';
import { expectedReward, generateUser, seededRng, type WorkloadOptions } from '../../services/sessionizer/workload.js';

const S: SessionizerSettings = {
  ...DEFAULT_SETTINGS, historyLength: 4, sessionTimeoutMs: 10_000, waitWindowMs: 8_000, graceMs: 0, dedupeWindow: 16, closedSessionsKept: 3,
};
const W: WorkloadOptions = { sessions: 3, pagesPerSession: 5, maxItems: 4, gapMs: [1, 1_000], idleGapMs: 11_000, catalogue: 12 };

/** Folds one partition's records (any users) in arrival order, then flushes everything at the end of time. */
function foldAll(events: readonly UserEvent[], settings: SessionizerSettings, check?: (s: UserState) => void) {
  const states = new Map<string, UserState>();
  const transitions: Transition[] = [];
  let deadLetters = 0;
  let duplicates = 0;
  let clock = Number.MIN_SAFE_INTEGER;
  for (const e of events) {
    clock = Math.max(clock, e.eventTime);
    const r = step(states.get(e.userId), e, clock, settings);
    states.set(e.userId, r.state);
    transitions.push(...r.transitions);
    deadLetters += r.deadLetters.length;
    if (r.duplicate) duplicates++;
    check?.(r.state);
  }
  for (const [user, state] of states) {
    const r = flush(state, Number.MAX_SAFE_INTEGER, settings);
    states.set(user, r.state);
    transitions.push(...r.transitions);
    deadLetters += r.deadLetters.length;
    check?.(r.state);
  }
  return { states, transitions, deadLetters, duplicates };
}

const byUser = (ts: Transition[], user: string) => ts.filter((t) => t.userId === user);
const count = (ts: Transition[], b: Behaviour) => ts.filter((t) => t.behaviour === b).length;

function assertNoneLostOrRepeated(ts: Transition[]): void {
  const steps = new Map<string, number[]>();
  for (const t of ts) steps.set(`${t.userId}/${t.sessionId}`, [...(steps.get(`${t.userId}/${t.sessionId}`) ?? []), t.step]);
  for (const [session, s] of steps) assert.deepEqual(s, s.map((_, i) => i), `steps of ${session} run 0, 1, 2, … once each`);
}

/** The learner's own check (services/model toReplayRecord) accepts every transition: none would be rejected. */
const wholeChain = scenarioLayout(resolveConfig({ scenarios: [...SCENARIOS] }));
function assertLearnerTakesAll(ts: Transition[], historyLength: number): void {
  const vocabulary = new ItemVocabulary();
  for (const t of ts) {
    assert.doesNotThrow(() => toReplayRecord(t, vocabulary, wholeChain, historyLength), `step ${t.step} ${t.behaviour} of ${t.action}`);
  }
}

const seed = fc.integer({ min: 0, max: 2 ** 31 - 1 });

test('any interleaving of users: each user gets the transitions their events imply, none lost or repeated', () => {
  const graced: SessionizerSettings = { ...S, graceMs: 1_000 };
  fc.assert(
    fc.property(seed, fc.integer({ min: 1, max: 4 }), fc.infiniteStream(fc.nat()), (s, users, picks) => {
      const rng = seededRng(s);
      const scripts = Array.from({ length: users }, (_, u) => generateUser(rng, `u${u}`, 0, W));
      // Merge by event time with arbitrary tie-breaking picks: each user's own order is kept.
      const queues = scripts.map((x) => [...x.events]);
      const merged: UserEvent[] = [];
      const it = picks[Symbol.iterator]();
      while (queues.some((q) => q.length > 0)) {
        const live = queues.filter((q) => q.length > 0);
        const earliest = Math.min(...live.map((q) => q[0]!.eventTime));
        // Any record within the grace period of the earliest waiting one may come next.
        const ready = live.filter((q) => q[0]!.eventTime <= earliest + graced.graceMs);
        merged.push(ready[it.next().value % ready.length]!.shift()!);
      }
      const all = foldAll(merged, graced, (st) => {
        assert.ok(st.history.length <= S.historyLength, 'at most N items');
        assert.ok(st.recentIds.length <= S.dedupeWindow);
        assert.ok(st.closedSessions.length <= S.closedSessionsKept);
      });
      assert.equal(all.deadLetters, 0);
      assertNoneLostOrRepeated(all.transitions);
      assertLearnerTakesAll(all.transitions, S.historyLength);
      scripts.forEach((script, u) => {
        const mine = byUser(all.transitions, `u${u}`);
        const alone = foldAll(script.events, graced).transitions;
        assert.deepEqual(mine, alone, 'other users do not change a user’s transitions');
        for (const b of ['click', 'skip', 'leave', 'purchase'] as const) assert.equal(count(mine, b), script.expected[b], b);
        const reward = mine.reduce((sum, t) => sum + t.reward, 0);
        assert.equal(reward, expectedReward(script.expected, S.rewards), 'rewards add up as the events imply');
        assert.ok(mine.every((t) => t.state.length <= S.historyLength && t.nextState.length <= S.historyLength));
      });
    }),
    { numRuns: 150 },
  );
});

test('any order of a user’s events within the grace period, with duplicates, gives the in-order transitions', () => {
  const graced: SessionizerSettings = { ...S, graceMs: 3_000 };
  fc.assert(
    fc.property(seed, fc.infiniteStream(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })), (s, noise) => {
      const script = generateUser(seededRng(s), 'u', 0, W);
      const inOrder = foldAll(script.events, graced);
      // Arrival order: sort by event time plus a jitter below the grace, then repeat some events.
      const it = noise[Symbol.iterator]();
      const jittered = script.events
        .map((e) => ({ e, at: e.eventTime + it.next().value * graced.graceMs }))
        .sort((a, b) => a.at - b.at)
        .map((x) => x.e);
      const arrivals: UserEvent[] = [];
      jittered.forEach((e, i) => {
        arrivals.push(e);
        // A producer's retry re-sends one of its latest records (one of the last 8 it sent, not a copy of a
        // copy: that could carry a record past the de-duplication window, where fold.ts dead-letters it).
        if (it.next().value < 0.2) arrivals.push(jittered[i - Math.floor(it.next().value * Math.min(8, i + 1))]!);
      });
      const shuffled = foldAll(arrivals, graced);
      assert.equal(shuffled.deadLetters, 0);
      assert.equal(shuffled.duplicates, arrivals.length - script.events.length);
      assert.deepEqual(shuffled.transitions, inOrder.transitions);
      assertNoneLostOrRepeated(shuffled.transitions);
      assert.equal(shuffled.transitions.length, Object.values(script.expected).reduce((a, b) => a + b, 0));
    }),
    { numRuns: 150 },
  );
});

test('flushing at arbitrary moments changes when transitions come out, never which', () => {
  const graced: SessionizerSettings = { ...S, graceMs: 2_000 };
  fc.assert(
    fc.property(seed, fc.infiniteStream(fc.boolean()), (s, flushes) => {
      const events = generateUser(seededRng(s), 'u', 0, W).events;
      const reference = foldAll(events, graced).transitions;
      let state: UserState | undefined;
      let clock = Number.MIN_SAFE_INTEGER;
      const out: Transition[] = [];
      const it = flushes[Symbol.iterator]();
      for (const e of events) {
        clock = Math.max(clock, e.eventTime);
        const r = step(state, e, clock, graced);
        state = r.state;
        out.push(...r.transitions);
        if (it.next().value) {
          // A timer tick somewhere between this event and the next one (the wall clock of a caught-up partition).
          const f = flush(state, clock, graced);
          state = f.state;
          out.push(...f.transitions);
        }
      }
      out.push(...flush(state!, Number.MAX_SAFE_INTEGER, graced).transitions);
      assert.deepEqual(out, reference);
    }),
    { numRuns: 150 },
  );
});

test('arbitrary, partly nonsensical events never throw and keep every bound', () => {
  const scenario = fc.constantFrom(...SCENARIOS);
  const item = fc.constantFrom('a', 'b', 'c', 'd');
  const base = { eventId: fc.constantFrom('1', '2', '3', '4', '5', '6', '7', '8', '9'), userId: fc.constant('u'), sessionId: fc.constantFrom('s1', 's2', 's3'), eventTime: fc.integer({ min: 0, max: 40_000 }), scenario };
  const event: fc.Arbitrary<UserEvent> = fc.oneof(
    fc.record({ ...base, type: fc.constant('recommendation' as const), requestId: fc.constantFrom('r1', 'r2'), items: fc.array(item, { maxLength: 4 }), propensities: fc.constant([] as number[]), model: fc.constant('m'), modelVersion: fc.nat(3) }),
    fc.record({ ...base, type: fc.constantFrom('click' as const, 'skip' as const), requestId: fc.constantFrom('r1', 'r2'), itemId: item, position: fc.integer({ min: -1, max: 4 }) }),
    fc.record({ ...base, type: fc.constant('purchase' as const), itemIds: fc.array(item, { maxLength: 3 }) }),
    fc.record({ ...base, type: fc.constant('leave' as const) }),
    fc.record({ ...base, type: fc.constant('page_change' as const), from: scenario, to: scenario, itemId: fc.constant(null) }),
  );
  fc.assert(
    fc.property(fc.array(event, { maxLength: 60 }), fc.integer({ min: 0, max: 5_000 }), (events, graceMs) => {
      const settings = { ...S, graceMs };
      const all = foldAll(events, settings, (st) => {
        assert.ok(st.history.length <= settings.historyLength);
        assert.ok(st.recentIds.length <= settings.dedupeWindow);
      });
      assertNoneLostOrRepeated(all.transitions);
      assertLearnerTakesAll(all.transitions, settings.historyLength);
      const leaves = all.transitions.filter((t) => t.behaviour === 'leave');
      assert.ok(leaves.every((t) => t.terminal && t.nextScenario === null));
      assert.ok(all.transitions.every((t) => t.reward === settings.rewards[t.behaviour]));
    }),
    { numRuns: 300 },
  );
});
