import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import {
  AvroSerde, createKafka, createLogger, createSchemaRegistry, DeepChainError, eventFromRecord, provisionTopics, topicNames,
  type EventRecord, type UserEvent,
} from '../../services/common/index.js';
import { addToCart, click, createEventProducer, leave, pageChange, purchase, recommendation, skip } from '../../services/sdk/index.js';
import { servers, testLogger, uniquePrefix } from '../support/servers.js';

const prefix = uniquePrefix('sdk');
const topics = topicNames(prefix);
let kafka: Kafka;
let admin: Admin;
let consumer: Consumer;
const serde = new AvroSerde(createSchemaRegistry(servers.SCHEMA_REGISTRY_URL), topics);
const received: { partition: number; key: string; event: UserEvent }[] = [];
const options = { schemaRegistryUrl: servers.SCHEMA_REGISTRY_URL, topicPrefix: prefix, logger: testLogger };

async function waitFor(count: number, match: (r: (typeof received)[number]) => boolean) {
  for (let waited = 0; waited < 30_000; waited += 50) {
    const found = received.filter(match);
    if (found.length >= count) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${count} events`);
}

async function eventsInTopic(): Promise<number> {
  const offsets = await admin.fetchTopicOffsets(topics.events);
  return offsets.reduce((sum, o) => sum + Number(o.high) - Number(o.low), 0);
}

before(async () => {
  kafka = createKafka({ brokers: servers.KAFKA_BROKERS, clientId: 'test-sdk', logger: testLogger });
  admin = kafka.admin();
  await admin.connect();
  await provisionTopics(admin, prefix);
  consumer = kafka.consumer({ groupId: `${prefix}reader`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topics.events], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const event = eventFromRecord(await serde.decode<EventRecord>(message.value!));
      received.push({ partition, key: message.key!.toString(), event });
    },
  });
});

after(async () => {
  await consumer?.disconnect();
  await admin?.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
  await admin?.disconnect();
});

test('typed events sent through the SDK reach the events topic as Avro, keyed by user id, ids generated', async () => {
  const producer = createEventProducer({ ...options, brokers: servers.KAFKA_BROKERS });
  const base = (userId: string) => ({ userId, sessionId: `s-${userId}`, scenario: 'entrance' as const });
  const sent = [
    recommendation({ ...base('u1'), requestId: 'r1', items: ['a', 'b'], propensities: [0.7, 0.3], model: 'deepchain', modelVersion: 1 }),
    skip({ ...base('u1'), requestId: 'r1', itemId: 'a', position: 0 }),
    click({ ...base('u1'), requestId: 'r1', itemId: 'b', position: 1 }),
    pageChange({ ...base('u2'), from: 'entrance', to: 'detail', itemId: 'b' }),
    addToCart({ ...base('u2'), scenario: 'detail', itemId: 'b' }),
    purchase({ ...base('u3'), scenario: 'order', itemIds: ['b'] }),
    leave(base('u3')),
  ];
  await Promise.all(sent.map((e) => producer.send(e)));
  assert.equal(producer.buffered, 0, 'acknowledged: nothing held');
  await producer.close();

  const got = await waitFor(sent.length, (r) => ['u1', 'u2', 'u3'].includes(r.key));
  for (const r of got) assert.equal(r.key, r.event.userId);
  for (const user of ['u1', 'u2', 'u3']) {
    assert.equal(new Set(got.filter((r) => r.key === user).map((r) => r.partition)).size, 1, `${user}: one partition`);
  }
  assert.deepEqual(
    got.map((r) => r.event).sort((a, b) => a.eventId.localeCompare(b.eventId)),
    [...sent].sort((a, b) => a.eventId.localeCompare(b.eventId)),
  );
});

test('close() flushes everything still buffered, however long the linger', async () => {
  const before = await eventsInTopic();
  const producer = createEventProducer({ ...options, kafka, lingerMs: 600_000, batchSize: 10_000 });
  await producer.connect();
  const sends = Array.from({ length: 500 }, (_, i) => producer.send(leave({ userId: `flush-${i % 17}`, sessionId: 's', scenario: 'cart' })));
  await new Promise((r) => setImmediate(r));
  assert.equal(await eventsInTopic(), before, 'still lingering in the buffer');
  await producer.close();
  await Promise.all(sends);
  assert.equal(await eventsInTopic(), before + 500);
  await assert.rejects(producer.send(leave({ userId: 'late', sessionId: 's', scenario: 'cart' })), (err: DeepChainError) => err.code === 'PRODUCER_CLOSED');
});

test("a full buffer: 'reject' refuses at once with BUFFER_FULL, 'block' waits for room; nothing beyond the bound is held", async () => {
  const rejecting = createEventProducer({ ...options, kafka, maxBufferedEvents: 5, lingerMs: 600_000, onFull: 'reject' });
  await rejecting.connect();
  const held = Array.from({ length: 5 }, (_, i) => rejecting.send(leave({ eventId: `full-${i}`, userId: 'full', sessionId: 's', scenario: 'entrance' })));
  while (rejecting.buffered < 5) await new Promise((r) => setImmediate(r));
  await assert.rejects(
    rejecting.send(leave({ eventId: 'full-5', userId: 'full', sessionId: 's', scenario: 'entrance' })),
    (err: DeepChainError) => err.code === 'BUFFER_FULL' && err.retriable,
  );
  assert.equal(rejecting.buffered, 5);
  await rejecting.flush();
  await Promise.all(held);
  await rejecting.close();

  const blocking = createEventProducer({ ...options, kafka, maxBufferedEvents: 5, lingerMs: 600_000, onFull: 'block', blockTimeoutMs: 60_000 });
  await blocking.connect();
  const first = Array.from({ length: 5 }, (_, i) => blocking.send(leave({ eventId: `block-${i}`, userId: 'block', sessionId: 's', scenario: 'entrance' })));
  while (blocking.buffered < 5) await new Promise((r) => setImmediate(r));
  const sixth = blocking.send(leave({ eventId: 'block-5', userId: 'block', sessionId: 's', scenario: 'entrance' }));
  await new Promise((r) => setImmediate(r));
  assert.equal(blocking.buffered, 5, 'the sixth waits outside the buffer');
  await blocking.close(); // flushes the five, admits the sixth, flushes it
  await Promise.all([...first, sixth]);
  const got = await waitFor(11, (r) => r.key === 'full' || r.key === 'block');
  assert.deepEqual(got.map((r) => r.event.eventId).sort(), [
    ...Array.from({ length: 5 }, (_, i) => `full-${i}`), ...Array.from({ length: 6 }, (_, i) => `block-${i}`),
  ].sort());
});

test('a record the schema refuses fails at send with SCHEMA_INVALID, before it is buffered', async () => {
  const producer = createEventProducer({ ...options, kafka });
  const broken = { ...click({ userId: 'u', sessionId: 's', scenario: 'entrance', requestId: 'r', itemId: 'i', position: 0 }), position: 'one' } as unknown as UserEvent;
  await assert.rejects(producer.send(broken), (err: DeepChainError) => err.code === 'SCHEMA_INVALID' && !err.retriable);
  await assert.rejects(producer.send(leave({ userId: '', sessionId: 's', scenario: 'entrance' })), (err: DeepChainError) => err.code === 'SCHEMA_INVALID');
  assert.equal(producer.buffered, 0);
  await producer.close();
});

test('an unreachable broker: send fails with a retriable KAFKA_UNAVAILABLE, it does not hang', async () => {
  const producer = createEventProducer({ ...options, brokers: ['127.0.0.1:1'], ackTimeoutMs: 1_000, logger: createLogger('test-down', 'silent') });
  await assert.rejects(
    producer.send(leave({ userId: 'u', sessionId: 's', scenario: 'entrance' })),
    (err: DeepChainError) => err.code === 'KAFKA_UNAVAILABLE' && err.retriable,
  );
  await producer.close();
});
