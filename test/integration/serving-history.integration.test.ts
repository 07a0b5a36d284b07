/**
 * Issue "Nothing lost under faults" / "Drifting today", serving side, on the real broker and schema
 * registry: a serving node's streams (services/serving/streams.ts, as main.ts wires them) take users'
 * histories from what the sessionizer decided — the `transitions` topic, read_committed — not from raw
 * events. A retried click (same event id) counts once, a dead-lettered click not at all; readiness waits
 * until the node has read up to the end it saw at start, and the catch-up time on a topic of
 * CATCH_UP_RECORDS transactionally written transitions is measured and printed.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Kafka } from 'kafkajs';
import {
  AvroSerde, createKafka, createMetricsRegistry, createPool, createSchemaRegistry, topicNames, type Transition, type UserEvent,
} from '../../services/common/index.js';
import { Sessionizer } from '../../services/sessionizer/loop.js';
import { createSessionizerMetrics } from '../../services/sessionizer/metrics.js';
import { DEFAULT_SETTINGS } from '../../services/sessionizer/state.js';
import { WireCodec } from '../../services/sessionizer/wire.js';
import { UserHistories } from '../../services/serving/history.js';
import { ModelSlot } from '../../services/serving/model-slot.js';
import { ServingStreams } from '../../services/serving/streams.js';
import { eventually } from '../support/processes.js';
import { deleteTestTopics, provisionTestTopics, servers, testLogger, uniquePrefix } from '../support/servers.js';

const CATCH_UP_RECORDS = 100_000;
const CATCH_UP_USERS = 20_000;
const TRANSACTION_RECORDS = 1_000;

const kafka: Kafka = createKafka({ brokers: servers.KAFKA_BROKERS, clientId: 'test-serving-history', logger: testLogger });
const pool = createPool(servers.DATABASE_URL, 1);
const prefixes: string[] = [];
const running: { stop(): Promise<void> }[] = [];

async function setup(name: string) {
  const prefix = uniquePrefix(`serving-history-${name}`);
  prefixes.push(prefix);
  await provisionTestTopics(kafka, prefix);
  const topics = topicNames(prefix);
  const serde = new AvroSerde(createSchemaRegistry(servers.SCHEMA_REGISTRY_URL), topics);
  await serde.registerAll();
  return { prefix, topics, serde };
}

function servingStreams(ctx: Awaited<ReturnType<typeof setup>>, histories: UserHistories, nodeId: string, historyLookbackMs: number | null): ServingStreams {
  const streams = new ServingStreams({
    nodeId, kafka, serde: ctx.serde, pool, topics: ctx.topics, slot: new ModelSlot('deepchain'), histories, historyLookbackMs, logger: testLogger,
    metrics: createMetricsRegistry('test'),
  });
  running.push(streams);
  return streams;
}

const ready = (s: ServingStreams) => s.historiesReady().then(() => 'ok', (err: Error) => err.message);

before(async () => {
  await serdeWarmUp();
});
after(async () => {
  for (const r of running.reverse()) await r.stop().catch(() => undefined);
  for (const p of prefixes) await deleteTestTopics(kafka, p);
  await pool.end();
});

/** The registry answers before the first test's clock starts. */
async function serdeWarmUp(): Promise<void> {
  await fetch(`${servers.SCHEMA_REGISTRY_URL}/subjects`).catch(() => undefined);
}

test('a retried click counts once and a dead-lettered click not at all: histories are what the sessionizer decided', async () => {
  const ctx = await setup('decided');
  const wire = new WireCodec(createSchemaRegistry(servers.SCHEMA_REGISTRY_URL), ctx.topics);
  await wire.register();
  const t0 = Date.now() - 60_000;
  const base = { userId: 'u1', sessionId: 's1', scenario: 'entrance' as const };
  const rec = (eventId: string, at: number, requestId: string, items: string[]): UserEvent => ({
    ...base, eventId, eventTime: t0 + at, type: 'recommendation', requestId, items, propensities: [], model: 'deepchain', modelVersion: 1,
  });
  const click = (eventId: string, at: number, requestId: string, itemId: string, position: number): UserEvent => ({
    ...base, eventId, eventTime: t0 + at, type: 'click', requestId, itemId, position,
  });
  const events: UserEvent[] = [
    rec('r1', 0, 'req-1', ['a', 'b', 'c']),
    click('c1', 100, 'req-1', 'b', 1),
    click('c1', 100, 'req-1', 'b', 1), // the SDK retried: same event id
    rec('r2', 200, 'req-2', ['d', 'e']),
    click('c2', 300, 'req-2', 'e', 1),
    click('c3', 400, 'req-unknown', 'x', 0), // joins no list: dead-lettered
    click('c4', -10 * 60_000, 'req-2', 'y', 0), // ten minutes late: dead-lettered
  ];
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: ctx.topics.events, messages: events.map((e) => ({ key: e.userId, value: wire.encodeEvent(e) })) });
  await producer.disconnect();

  const admin = kafka.admin();
  await admin.connect();
  running.push({ stop: () => admin.disconnect() });
  const sessionizer = new Sessionizer({
    kafka, admin, wire, topics: ctx.topics, logger: testLogger,
    settings: { ...DEFAULT_SETTINGS, graceMs: 1_000, sessionTimeoutMs: 600_000, waitWindowMs: 600_000 },
    metrics: createSessionizerMetrics(createMetricsRegistry('test')),
    groupId: `${ctx.prefix}sessionizer`, instanceId: 'one', tickMs: 200, transactionTimeoutMs: 10_000, sessionTimeoutMs: 6_000,
    maxBytesPerPartition: 1024 * 1024, maxBytes: 10 * 1024 * 1024,
    onFatal: (err) => { throw err; },
  });
  running.push(sessionizer);
  await sessionizer.start();

  const histories = new UserHistories(10, 1_000);
  const streams = servingStreams(ctx, histories, 'node-decided', 3_600_000); // the last hour (HISTORY_LOOKBACK_HOURS=1)
  await streams.start();
  // Raw events would give [b, b, e, x, y]; the sessionizer's transitions give [b, e].
  await eventually(async () => (histories.get('u1').join() === 'b,e' ? true : undefined), 30_000,
    `u1's history to become b,e (it is ${histories.get('u1').join()})`);
  await eventually(async () => ((await ready(streams)) === 'ok' ? true : undefined), 10_000, 'the node to be ready');
  // Nothing later changes it: the retried and dead-lettered clicks are not somewhere further down the topic.
  await new Promise((r) => setTimeout(r, 1_500));
  assert.deepEqual(histories.get('u1'), ['b', 'e']);
});

test(`readiness waits until the node caught up with ${CATCH_UP_RECORDS} transitions written in transactions; memory stays within HISTORY_USERS`, async () => {
  const ctx = await setup('catch-up');
  const transitions = syntheticHistoryTransitions(CATCH_UP_RECORDS, CATCH_UP_USERS);
  const last = new Map<string, Transition>();
  for (const t of transitions) last.set(t.userId, t);
  const producer = kafka.producer({ transactionalId: `${ctx.prefix}writer-${randomUUID()}`, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const encoded = await Promise.all(transitions.map(async (t) => ({ key: t.userId, value: await ctx.serde.encode('transitions', t) })));
  for (let i = 0; i < encoded.length; i += TRANSACTION_RECORDS) {
    const tx = await producer.transaction();
    await tx.send({ topic: ctx.topics.transitions, messages: encoded.slice(i, i + TRANSACTION_RECORDS) });
    await tx.commit();
  }
  // An aborted transaction at the end: its records and markers are passed over, never applied.
  const aborted = await producer.transaction();
  await aborted.send({ topic: ctx.topics.transitions, messages: [{ key: 'u0', value: await ctx.serde.encode('transitions', { ...last.get('u0')!, nextState: ['aborted'] }) }] });
  await aborted.abort();
  await producer.disconnect();

  const cap = CATCH_UP_USERS / 4;
  const histories = new UserHistories(10, cap);
  const streams = servingStreams(ctx, histories, 'node-catch-up', null); // the whole topic (HISTORY_LOOKBACK_HOURS=0)
  const started = Date.now();
  await streams.start();
  const first = await ready(streams);
  assert.match(first, /^catching up on transitions: \d+ of \d+ records behind the end seen at start/, 'not ready right after start');
  await eventually(async () => ((await ready(streams)) === 'ok' ? true : undefined), 120_000,
    `the node to catch up (${JSON.stringify(streams.historiesProgress())})`);
  const progress = streams.historiesProgress()!;
  console.log(`# serving histories: caught up on ${progress.total} offsets (${CATCH_UP_RECORDS} transitions of ${CATCH_UP_USERS} users, ` +
    `${Math.ceil(CATCH_UP_RECORDS / TRANSACTION_RECORDS) + 1} transactions) in ${progress.tookMs} ms ` +
    `(${Math.round(CATCH_UP_RECORDS / (progress.tookMs! / 1000))} transitions/s; ${Date.now() - started} ms from start())`);
  assert.equal(progress.behind, 0);
  assert.ok(progress.total >= CATCH_UP_RECORDS, 'every record and marker counted');

  assert.equal(histories.size, cap, 'no more users than HISTORY_USERS');
  assert.ok(histories.evicted >= CATCH_UP_USERS - cap, 'the least recently seen were forgotten (again, each time they came back)');
  let kept = 0;
  for (const [userId, t] of last) {
    const h = histories.get(userId);
    if (h.length === 0) continue;
    kept++;
    assert.deepEqual(h, t.nextState.slice(-10), `${userId}: the nextState of their newest transition`);
  }
  assert.equal(kept, cap);
});

/** `count` transitions over `users` users, each a click that appends its item: nextState = state + action. */
function syntheticHistoryTransitions(count: number, users: number): Transition[] {
  const states = new Map<string, string[]>();
  const out: Transition[] = [];
  const now = Date.now();
  for (let i = 0; i < count; i++) {
    const userId = `u${i % users}`;
    const state = states.get(userId) ?? [];
    const action = `item-${(i * 7919) % 5000}`;
    const nextState = [...state, action].slice(-20);
    states.set(userId, nextState);
    out.push({
      userId, sessionId: `s-${userId}`, step: state.length, scenario: 'entrance', state, action, behaviour: 'click', reward: 1,
      nextState, nextScenario: 'detail', terminal: false, eventTime: now - (count - i), modelVersion: 1, propensity: null, position: 0,
    });
  }
  return out;
}
