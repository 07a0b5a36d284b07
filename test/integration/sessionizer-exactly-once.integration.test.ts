import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Admin, Batch, Kafka, KafkaMessage, Producer } from 'kafkajs';
import {
  createKafka, createMetricsRegistry, createProducer, createSchemaRegistry, provisionTopics, topicNames, transitionFromRecord,
  type TopicNames, type Transition, type UserEvent,
} from '../../services/common/index.js';
import { flush, step } from '../../services/sessionizer/fold.js';
import { Sessionizer, type SessionizerOptions } from '../../services/sessionizer/loop.js';
import { createSessionizerMetrics } from '../../services/sessionizer/metrics.js';
import { DEFAULT_SETTINGS, type SessionizerSettings, type UserState } from '../../services/sessionizer/state.js';
import { WireCodec, type DeadLetterRecord } from '../../services/sessionizer/wire.js';
import { generateUser, seededRng } from '../../services/sessionizer/workload.js';
import { servers, testLogger, uniquePrefix } from '../support/servers.js';

const SETTINGS: SessionizerSettings = { ...DEFAULT_SETTINGS, graceMs: 1_000, sessionTimeoutMs: 60_000, waitWindowMs: 30_000 };
const WORKLOAD = { sessions: 2, pagesPerSession: 4, maxItems: 3, gapMs: [10, 500] as [number, number], idleGapMs: 61_000, catalogue: 20 };

let kafka: Kafka;
let admin: Admin;
let producer: Producer;
const prefixes: string[] = [];
const running: Sessionizer[] = [];

before(async () => {
  kafka = createKafka({ brokers: servers.KAFKA_BROKERS, clientId: 'test-sessionizer', logger: testLogger });
  admin = kafka.admin();
  await admin.connect();
  producer = createProducer(kafka);
  await producer.connect();
});
after(async () => {
  await Promise.all(running.map((s) => s.stop()));
  await producer.disconnect();
  for (const p of prefixes) await admin.deleteTopics({ topics: Object.values(topicNames(p)) }).catch(() => undefined);
  await admin.disconnect();
});

async function setup(name: string): Promise<{ topics: TopicNames; wire: WireCodec; prefix: string }> {
  const prefix = uniquePrefix(`sessionizer-${name}`);
  prefixes.push(prefix);
  await provisionTopics(admin, prefix);
  const topics = topicNames(prefix);
  const wire = new WireCodec(createSchemaRegistry(servers.SCHEMA_REGISTRY_URL), topics);
  await wire.register();
  return { topics, wire, prefix };
}

function options(ctx: { topics: TopicNames; wire: WireCodec; prefix: string }, instanceId: string, extra: Partial<SessionizerOptions> = {}): SessionizerOptions {
  return {
    kafka, admin, wire: ctx.wire, topics: ctx.topics, settings: SETTINGS, logger: testLogger,
    metrics: createSessionizerMetrics(createMetricsRegistry('test')),
    groupId: `${ctx.prefix}sessionizer`, instanceId, tickMs: 200, transactionTimeoutMs: 10_000, sessionTimeoutMs: 6_000,
    maxBytesPerPartition: 1024 * 1024, maxBytes: 10 * 1024 * 1024,
    onFatal: (err) => { throw err; },
    ...extra,
  };
}

async function start(s: Sessionizer): Promise<Sessionizer> {
  running.push(s);
  await s.start();
  return s;
}
async function stop(s: Sessionizer): Promise<void> {
  await s.stop();
  running.splice(running.indexOf(s), 1);
}

async function produce(wire: WireCodec, topic: string, events: UserEvent[], extra: { key: string; value: Buffer }[] = []): Promise<void> {
  await producer.send({ topic, messages: [...events.map((e) => ({ key: e.userId, value: wire.encodeEvent(e) })), ...extra] });
}

/** Reads a topic from the beginning until `enough` holds (or the time runs out), with the given isolation. */
async function readTopic(
  topic: string, enough: (n: number, got: readonly KafkaMessage[]) => boolean, readUncommitted = false, timeoutMs = 30_000,
): Promise<KafkaMessage[]> {
  const consumer = kafka.consumer({ groupId: `reader-${randomUUID()}`, readUncommitted, maxWaitTimeInMs: 100 });
  const got: KafkaMessage[] = [];
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let resolve!: () => void;
  const done = new Promise<void>((r) => { resolve = r; });
  await consumer.run({ eachBatch: async ({ batch }: { batch: Batch }) => { got.push(...batch.messages); if (enough(got.length, got)) resolve(); } });
  const timer = setTimeout(resolve, timeoutMs);
  await done;
  clearTimeout(timer);
  await consumer.disconnect();
  return got;
}

/** What the pure fold makes of the events (one partition per user here), with every session closed at the end. */
function reference(events: UserEvent[], settings = SETTINGS, closeAll = true): Transition[] {
  const states = new Map<string, UserState>();
  const out: Transition[] = [];
  const clocks = new Map<string, number>();
  for (const e of events) {
    const clock = Math.max(clocks.get(e.userId) ?? Number.MIN_SAFE_INTEGER, e.eventTime);
    clocks.set(e.userId, clock);
    const r = step(states.get(e.userId), e, clock, settings);
    states.set(e.userId, r.state);
    out.push(...r.transitions);
  }
  if (closeAll) for (const s of states.values()) out.push(...flush(s, Number.MAX_SAFE_INTEGER, settings).transitions);
  return out;
}

const keyOf = (t: Transition) => `${t.userId}/${t.sessionId}/${t.step}`;
function sorted(ts: Transition[]): Transition[] {
  return [...ts].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
}
function decodeTransitions(wire: WireCodec, messages: KafkaMessage[]): Transition[] {
  return messages.map((m) => transitionFromRecord(wire.decode<Transition>('transitions', m.value!)));
}

/** One user's whole-chain events, with times in the past (so the timer closes everything once caught up). */
function userEvents(seed: number, userId: string): UserEvent[] {
  return generateUser(seededRng(seed), userId, Date.now() - 3_600_000, WORKLOAD).events;
}

test('events become the transitions the pure fold computes; duplicates dropped; undecodable and too-late records dead-lettered', async () => {
  const ctx = await setup('chain');
  const a = userEvents(1, 'alice');
  const b = userEvents(2, 'bob');
  const late: UserEvent = { ...a[0]!, eventId: 'late-1', eventTime: a[0]!.eventTime - 10 * 60_000 };
  // Interleave the users in event-time order, repeat a few events, add a too-late one and an undecodable record.
  const input: UserEvent[] = [];
  [...a, ...b].sort((x, y) => x.eventTime - y.eventTime).forEach((e, i) => {
    input.push(e);
    if (i % 7 === 3) input.push(e);
  });
  input.push(late);
  await produce(ctx.wire, ctx.topics.events, input, [{ key: 'alice', value: Buffer.from('not avro at all') }]);

  const expected = reference([...a, ...b]);
  await start(new Sessionizer(options(ctx, 'one')));
  const got = decodeTransitions(ctx.wire, await readTopic(ctx.topics.transitions, (n) => n >= expected.length));
  assert.equal(got.length, expected.length);
  assert.deepEqual(sorted(got), sorted(expected));

  const dead = (await readTopic(ctx.topics.deadLetters, (n) => n >= 2)).map((m) => ctx.wire.decode<DeadLetterRecord>('deadLetters', m.value!));
  assert.equal(dead.length, 2);
  const reasons = dead.map((d) => d.reason).sort();
  assert.match(reasons[0]!, /^late: event time/);
  assert.match(reasons[1]!, /not in the Confluent wire format/);
  const undecodable = dead.find((d) => /wire format/.test(d.reason))!;
  assert.equal(undecodable.value!.toString(), 'not avro at all', 'the original bytes travel with the dead letter');
  assert.equal(undecodable.sourceTopic, ctx.topics.events);
  assert.notEqual(undecodable.sourceOffset, null);
});

test('a restarted sessionizer restores its state from the changelog and goes on where the first stopped', async () => {
  const ctx = await setup('restore');
  const events = userEvents(3, 'carol');
  const half = Math.floor(events.length / 2);
  // With no timer effects during the first half: its sessions stay open across the restart.
  const first = await start(new Sessionizer(options(ctx, 'first', { tickMs: 60_000 })));
  await produce(ctx.wire, ctx.topics.events, events.slice(0, half));
  const expectedFirst = reference(events.slice(0, half), SETTINGS, false);
  assert.ok(expectedFirst.length > 0, 'the first half makes transitions');
  await readTopic(ctx.topics.transitions, (n) => n >= expectedFirst.length);
  await stop(first);

  await produce(ctx.wire, ctx.topics.events, events.slice(half));
  await start(new Sessionizer(options(ctx, 'second')));
  const expected = reference(events);
  const got = decodeTransitions(ctx.wire, await readTopic(ctx.topics.transitions, (n) => n >= expected.length));
  assert.deepEqual(sorted(got), sorted(expected), 'history, open session and buffered events carried over');
});

test('an aborted transaction leaves nothing visible to read_committed, and its batch is processed again', async () => {
  const ctx = await setup('abort');
  const events = userEvents(4, 'dave');
  await produce(ctx.wire, ctx.topics.events, events);
  let failures = 0;
  class FailingOnce extends Sessionizer {
    override async process(batch: Batch, heartbeat: () => Promise<void>) {
      const work = await super.process(batch, heartbeat);
      if (work && failures === 0 && work.messages.some((t) => t.topic === ctx.topics.transitions && t.messages.length > 0)) {
        failures++;
        // Larger than the broker accepts: the transaction fails after the transitions were appended.
        work.messages.push({ topic: ctx.topics.deadLetters, messages: [{ key: 'x', value: Buffer.alloc(17 * 1024 * 1024) }] });
      }
      return work;
    }
  }
  await start(new FailingOnce(options(ctx, 'failing')));
  const expected = reference(events);
  const committed = decodeTransitions(ctx.wire, await readTopic(ctx.topics.transitions, (n) => n >= expected.length));
  assert.equal(failures, 1);
  assert.deepEqual(sorted(committed), sorted(expected));
  const everything = await readTopic(ctx.topics.transitions, (n) => n > expected.length, true, 5_000);
  assert.ok(everything.length > expected.length, 'read_uncommitted also sees the aborted transaction’s records');
});

test('the timer closes an idle session with an implied leave when no new events arrive', async () => {
  const ctx = await setup('idle');
  const settings: SessionizerSettings = { ...SETTINGS, graceMs: 0, sessionTimeoutMs: 1_500 };
  await start(new Sessionizer({ ...options(ctx, 'idle'), settings }));
  const now = Date.now();
  const shown: UserEvent = {
    type: 'recommendation', eventId: 'r1', userId: 'erin', sessionId: 's1', eventTime: now, scenario: 'entrance',
    requestId: 'q1', items: ['a', 'b'], propensities: [0.5, 0.5], model: 'm', modelVersion: 3,
  };
  await produce(ctx.wire, ctx.topics.events, [shown]);
  const got = decodeTransitions(ctx.wire, await readTopic(ctx.topics.transitions, (n) => n >= 2));
  assert.deepEqual(got.map((t) => `${t.action}:${t.behaviour}:${t.terminal}`), ['a:skip:false', 'b:leave:true']);
  assert.equal(got[1]!.eventTime, now + settings.sessionTimeoutMs);
  assert.equal(got[1]!.reward, -2);
});

test('users idle past the retention are forgotten with a changelog tombstone, and a restore holds only the active ones', async () => {
  const ctx = await setup('retention');
  const settings: SessionizerSettings = { ...SETTINGS, userRetentionMs: 120_000 };
  const metrics = createSessionizerMetrics(createMetricsRegistry('test'));
  const first = await start(new Sessionizer({ ...options(ctx, 'retention-1', { metrics }), settings }));
  // Three users last seen hours ago, one after the other (a partition's stream time never runs back past the
  // grace), and one seen just now (its session stays open).
  const now = Date.now();
  const idle = [5, 6, 7].flatMap((seed, i) => generateUser(seededRng(seed), `idle-${seed}`, now - (3 - i) * 3_600_000, WORKLOAD).events);
  const active: UserEvent = {
    type: 'recommendation', eventId: 'act-1', userId: 'active', sessionId: 's1', eventTime: now, scenario: 'entrance',
    requestId: 'q1', items: ['a', 'b'], propensities: [0.5, 0.5], model: 'm', modelVersion: 3,
  };
  await produce(ctx.wire, ctx.topics.events, [...idle, active]);
  const expected = reference(idle, settings);
  const got = decodeTransitions(ctx.wire, await readTopic(ctx.topics.transitions, (n) => n >= expected.length));
  assert.deepEqual(sorted(got), sorted(expected), 'their sessions close before they are forgotten');

  const evicted = async () => (await metrics.usersEvicted.get()).values[0]?.value ?? 0;
  for (let i = 0; i < 100 && (await evicted()) < 3; i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await evicted(), 3);
  assert.equal(first.store.userCount(), 1);
  const deleted = (got: readonly KafkaMessage[]) => got.filter((m) => m.value === null);
  const changelog = await readTopic(ctx.topics.sessionizerState, (_, got) => deleted(got).length >= 3);
  const tombstones = deleted(changelog).map((m) => m.key!.toString()).sort();
  assert.deepEqual(tombstones, ['idle-5', 'idle-6', 'idle-7']);
  await stop(first);

  const second = await start(new Sessionizer({ ...options(ctx, 'retention-2'), settings }));
  for (let i = 0; i < 100 && second.store.restoredPartitions().length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(second.store.restoredPartitions().length > 0, 'the second sessionizer restored its partitions');
  assert.equal(second.store.userCount(), 1, 'only the active user comes back from the changelog');
  // Its event (applied or still buffered within the grace) came back with it.
  assert.ok(second.store.restoredPartitions().some((p) => p.get('active')?.recentIds.includes('act-1')), 'the active user came back with its event');
});
