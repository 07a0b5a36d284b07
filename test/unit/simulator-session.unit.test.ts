import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Transition, UserEvent } from '../../services/common/index.js';
import { createMemoryEventProducer } from '../../services/sdk/index.js';
import { step } from '../../services/sessionizer/fold.js';
import { DEFAULT_SETTINGS } from '../../services/sessionizer/state.js';
import {
  DEFAULT_WALK, FALLBACK_MODEL, Population, runSession, seeded, World,
  type RecommendCall, type RecommendClient, type SessionRecord,
} from '../../services/simulator/index.js';

const world = new World({ items: 40, clusters: 4, users: 12, dimension: 8, seed: 9 });

/** A serving node stand-in: pages of `k` items, rotating through the catalogue; null (no version) at first. */
function fakeServing(noVersionFor = 0) {
  const calls: (RecommendCall & { at: number })[] = [];
  let n = 0;
  let now = 1_000_000;
  const clock = () => now;
  const client: RecommendClient = {
    async recommend(call) {
      now += 3;
      calls.push({ ...call, at: now });
      if (n++ < noVersionFor) return null;
      const start = (n * 7) % world.items.length;
      const items = Array.from({ length: call.k }, (_, i) => world.itemIds[(start + i) % world.itemIds.length]!);
      return { requestId: `r${n}`, model: 'deepchain', version: 3, items };
    },
  };
  const sleep = async (ms: number) => { now += ms; };
  return { client, calls, clock, sleep };
}

async function session(seed: number, noVersionFor = 0) {
  const serving = fakeServing(noVersionFor);
  const events = createMemoryEventProducer();
  const record = await runSession(
    { world, client: serving.client, events, walk: { ...DEFAULT_WALK, fatigue: 0.1 }, k: 4, clock: serving.clock, sleep: serving.sleep, thinkMs: 2 },
    world.users[seed % world.users.length]!, `s${seed}`, seeded(seed),
  );
  return { record, events: events.sent, calls: serving.calls };
}

test('the same seed gives the same session, event for event', async () => {
  const a = await session(4);
  const b = await session(4);
  const strip = (e: UserEvent[]) => e.map(({ eventTime: _t, ...rest }) => rest);
  assert.deepEqual(strip(a.events), strip(b.events));
  assert.deepEqual(a.record, b.record);
});

test('events carry ids only: no hidden vector value leaves the simulator', async () => {
  const hidden = new Set<string>();
  for (const i of world.items) for (const x of i.vector) hidden.add(x.toPrecision(6));
  for (const u of world.users) for (const x of u.interest) hidden.add(x.toPrecision(6));
  const allowed = new Set(['type', 'eventId', 'userId', 'sessionId', 'eventTime', 'scenario', 'requestId', 'itemId', 'position',
    'items', 'propensities', 'model', 'modelVersion', 'from', 'to', 'itemIds']);
  for (let seed = 0; seed < 8; seed++) {
    const { events, calls } = await session(seed, 2);
    for (const e of events) {
      for (const [k, v] of Object.entries(e)) {
        assert.ok(allowed.has(k), `unexpected field ${k}`);
        const numbers = (Array.isArray(v) ? v : [v]).filter((x): x is number => typeof x === 'number');
        if (k !== 'propensities') for (const x of numbers) assert.ok(Number.isInteger(x), `${k}: ${x} is not an id, position or time`);
        else for (const x of numbers) assert.ok(!hidden.has(x.toPrecision(6)));
      }
    }
    // Requests to the serving node carry ids only, too.
    for (const c of calls) assert.deepEqual(Object.keys(c).filter((k) => !['userId', 'sessionId', 'scenario', 'k', 'itemId', 'at'].includes(k)), []);
  }
});

test('with no version to serve, the frontend shows a fallback page and logs its recommendation itself', async () => {
  const { events, record } = await session(2, 1_000);
  const recs = events.filter((e) => e.type === 'recommendation');
  assert.ok(recs.length >= 1);
  for (const r of recs) {
    assert.equal(r.type === 'recommendation' && r.model, FALLBACK_MODEL);
    assert.equal(r.type === 'recommendation' && r.items.length, 4);
  }
  assert.equal(record.fallbackPages, record.pages);
  assert.equal(record.modelVersion, 0);
});

test('the sessionizer turns a session\'s events into transitions whose rewards add up to the session\'s reward', async () => {
  for (let seed = 0; seed < 10; seed++) {
    const { events, record, calls } = await session(seed, seed % 3);
    // The serving node's recommendation events, stamped when it answered, interleaved by time as Kafka would deliver them.
    const served = calls.map((c, i) => ({ c, i })).filter(({ i }) => i >= seed % 3);
    const all: UserEvent[] = [...events];
    for (const { c, i } of served) {
      all.push({
        type: 'recommendation', eventId: `rec${i}`, userId: c.userId, sessionId: c.sessionId, scenario: c.scenario, eventTime: c.at,
        requestId: `r${i + 1}`, items: Array.from({ length: 4 }, (_, j) => world.itemIds[(((i + 1) * 7) % world.items.length + j) % world.itemIds.length]!),
        propensities: [1, 1, 1, 1], model: 'deepchain', modelVersion: 3,
      });
    }
    all.sort((a, b) => a.eventTime - b.eventTime);
    let state;
    const transitions: Transition[] = [];
    for (const e of all) {
      const r = step(state, e, e.eventTime, { ...DEFAULT_SETTINGS, graceMs: 0 });
      assert.deepEqual(r.deadLetters, [], `seed ${seed}`);
      state = r.state;
      transitions.push(...r.transitions);
    }
    const sum = transitions.reduce((s, t) => s + t.reward, 0);
    assert.equal(sum, record.reward, `seed ${seed}: transitions sum to ${sum}, the session scored ${record.reward}`);
    assert.equal(transitions.filter((t) => t.behaviour === 'click').length, record.clicks);
    assert.equal(transitions.at(-1)!.behaviour, 'leave');
    for (const t of transitions) for (const id of [...t.state, t.action]) assert.ok(world.has(id));
  }
});

test('a population runs sessions of distinct users at once until told to stop', async () => {
  const serving = fakeServing();
  const events = createMemoryEventProducer();
  const population = new Population(world, serving.client, events, {
    concurrency: 3, k: 4, walk: DEFAULT_WALK, thinkMs: 0, runId: 'run', seed: 1, clock: serving.clock,
  });
  const done: SessionRecord[] = [];
  await population.run(() => done.length >= 12, (r) => done.push(r));
  // One user never has two sessions at once: their sessions' time spans do not overlap.
  for (const a of done) {
    for (const b of done) {
      if (a !== b && a.userId === b.userId) assert.ok(a.endedAt <= b.startedAt || b.endedAt <= a.startedAt, `${a.sessionId} overlaps ${b.sessionId}`);
    }
  }
  assert.ok(done.length >= 12 && done.length <= 15);
  assert.equal(new Set(done.map((r) => r.sessionId)).size, done.length, 'session ids are unique');
  assert.ok(done.every((r) => r.sessionId.startsWith('run-')));
  assert.throws(() => new Population(world, serving.client, events, { concurrency: 99, k: 4, walk: DEFAULT_WALK, thinkMs: 0, runId: 'x', seed: 1 }), /exceeds the population/);
});
