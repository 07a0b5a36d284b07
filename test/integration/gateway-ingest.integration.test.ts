import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Admin, Consumer, Kafka } from 'kafkajs';
import {
  AvroSerde, createKafka, createLogger, createSchemaRegistry, eventFromRecord, provisionTopics, topicNames,
  type EventRecord, type UserEvent,
} from '../../services/common/index.js';
import { loadGatewayConfig } from '../../services/gateway/config.js';
import { createGateway, type Gateway } from '../../services/gateway/server.js';
import { servers, testLogger, uniquePrefix } from '../support/servers.js';

const prefix = uniquePrefix('gateway');
const topics = topicNames(prefix);
const KEY = 'web-key-0123456789';
/** A server-side producer whose key is scoped for recommendation events too (a browser's key is not). */
const SERVER_KEY = 'srv-key-0123456789';
let kafka: Kafka;
let admin: Admin;
let consumer: Consumer;
let gateway: Gateway;
let baseUrl: string;
const serde = new AvroSerde(createSchemaRegistry(servers.SCHEMA_REGISTRY_URL), topics);
const received: { topic: string; partition: number; key: string | null; value: Buffer }[] = [];

interface DeadLetterRecord { reason: string; source: string; key: Buffer | null; value: Buffer | null; sourceTopic: string | null }

/** Waits until `count` records of `topic` match, failing after a generous timeout (no timing is asserted). */
async function waitFor(topic: string, count: number, match: (r: (typeof received)[number]) => boolean = () => true) {
  for (let waited = 0; waited < 30_000; waited += 50) {
    const found = received.filter((r) => r.topic === topic && match(r));
    if (found.length >= count) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${count} records on ${topic}`);
}

const post = (body: string | object, headers: Record<string, string> = { 'x-api-key': KEY }) =>
  fetch(`${baseUrl}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

before(async () => {
  kafka = createKafka({ brokers: servers.KAFKA_BROKERS, clientId: 'test-gateway', logger: testLogger });
  admin = kafka.admin();
  await admin.connect();
  await provisionTopics(admin, prefix);
  const config = loadGatewayConfig({
    KAFKA_BROKERS: servers.KAFKA_BROKERS.join(','),
    SCHEMA_REGISTRY_URL: servers.SCHEMA_REGISTRY_URL,
    TOPIC_PREFIX: prefix,
    GATEWAY_API_KEYS: `web=${KEY},server[recommendation+behaviour]=${SERVER_KEY}`,
    GATEWAY_MAX_BATCH_EVENTS: '50',
    GATEWAY_BODY_LIMIT_BYTES: '65536',
    HTTP_PORT: '0',
  });
  gateway = await createGateway(config, testLogger);
  await gateway.app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(gateway.app.server.address() as { port: number }).port}`;
  consumer = kafka.consumer({ groupId: `${prefix}reader`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topics.events, topics.deadLetters], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      received.push({ topic, partition, key: message.key?.toString() ?? null, value: message.value! });
    },
  });
});

after(async () => {
  await consumer?.disconnect();
  await gateway?.close();
  await admin?.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
  await admin?.disconnect();
});

test('a batch of every event type over HTTP from a key scoped for them: 200 after Kafka acknowledged, Avro in the events topic, keyed by user id', async () => {
  const now = Date.now();
  const base = { sessionId: 's1', eventTime: now, scenario: 'entrance' };
  const sent = [
    { ...base, type: 'recommendation', eventId: 'all-1', userId: 'alice', requestId: 'r1', items: ['a', 'b'], propensities: [0.5, 0.5], model: 'deepchain', modelVersion: 2 },
    { ...base, type: 'skip', eventId: 'all-2', userId: 'alice', requestId: 'r1', itemId: 'a', position: 0 },
    { ...base, type: 'click', eventId: 'all-3', userId: 'alice', requestId: 'r1', itemId: 'b', position: 1 },
    { ...base, type: 'page_change', eventId: 'all-4', userId: 'alice', from: 'entrance', to: 'detail', itemId: 'b' },
    { ...base, type: 'add_to_cart', eventId: 'all-5', userId: 'bob', scenario: 'detail', itemId: 'b' },
    { ...base, type: 'purchase', eventId: 'all-6', userId: 'bob', scenario: 'order', itemIds: ['b'] },
    { ...base, type: 'leave', eventId: 'all-7', userId: 'bob' },
  ];
  const res = await post({ events: sent }, { 'x-api-key': SERVER_KEY });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { accepted: 7, rejected: [], duplicates: [] });

  const records = await waitFor(topics.events, 7, (r) => r.key === 'alice' || r.key === 'bob');
  const decoded = await Promise.all(records.map(async (r) => ({ ...r, event: eventFromRecord(await serde.decode<EventRecord>(r.value)) })));
  for (const r of decoded) assert.equal(r.key, r.event.userId, 'key = user id');
  assert.equal(new Set(decoded.filter((r) => r.key === 'alice').map((r) => r.partition)).size, 1, "one user's events share a partition");
  const byId = new Map(decoded.map((r) => [r.event.eventId, r.event]));
  for (const e of sent as unknown as UserEvent[]) assert.deepEqual(byId.get(e.eventId), e);
  assert.deepEqual(decoded.filter((r) => r.key === 'alice').map((r) => r.event.eventId), ['all-1', 'all-2', 'all-3', 'all-4'], 'order kept per user');
});

test('every kind of bad input is answered with its reason, nothing crashes, and each refused record is dead-lettered', async () => {
  const now = Date.now();
  const good = (eventId: string) => ({
    type: 'click', eventId, userId: 'carol', sessionId: 's2', eventTime: now, scenario: 'detail', requestId: 'r2', itemId: 'x', position: 0,
  });
  const bad = [
    { ...good('bad-types'), position: 'second', userId: 'carol' },
    { ...good('bad-type'), type: 'hover' },
    { ...good('bad-ids'), eventId: undefined, userId: 'carol' },
    { ...good('bad-user'), userId: '' },
    { ...good('bad-scenario'), scenario: 'homepage' },
    { ...good('bad-future'), eventTime: now + 24 * 3_600_000 },
    { ...good('bad-past'), eventTime: now - 30 * 24 * 3_600_000 },
  ];
  const mixed = await post({ events: [good('ok-1'), ...bad, good('ok-2')] });
  assert.equal(mixed.status, 207);
  const answer = (await mixed.json()) as { accepted: number; rejected: { index: number; reason: string }[] };
  assert.equal(answer.accepted, 2);
  assert.deepEqual(answer.rejected.map((r) => r.index), [1, 2, 3, 4, 5, 6, 7]);
  const reasons = answer.rejected.map((r) => r.reason);
  for (const [i, pattern] of [
    /'position' must be an integer/, /unknown event type "hover"/, /missing field 'eventId'/, /'userId' must be a non-empty string/,
    /unknown scenario "homepage"/, /ms in the future/, /ms in the past/,
  ].entries()) assert.match(reasons[i]!, pattern);

  const malformed = await post('{"events": [{"type": "click", "eventId": "torn');
  assert.equal(malformed.status, 400);
  assert.equal(((await malformed.json()) as { error: string }).error, 'malformed JSON');

  const oversized = await post({ events: Array.from({ length: 51 }, (_, i) => good(`big-${i}`)) });
  assert.equal(oversized.status, 413);
  const tooManyBytes = await post({ events: [{ ...good('huge'), itemId: 'x'.repeat(70_000) }] });
  assert.equal(tooManyBytes.status, 413);
  assert.equal((await post({ events: [good('no-key')] }, {})).status, 401);
  assert.equal((await post({ events: [good('wrong-key')] }, { 'x-api-key': 'web-key-0000000000' })).status, 401);

  const twice = await post({ events: [good('dup-1'), good('dup-1')] });
  assert.equal(twice.status, 200);
  assert.deepEqual(await twice.json(), { accepted: 2, rejected: [], duplicates: [{ index: 1, firstIndex: 0 }] });
  assert.equal((await post({ events: [good('dup-1')] })).status, 200, 'a retry of the same event is accepted again');

  assert.equal((await fetch(`${baseUrl}/healthz`)).status, 200, 'still serving');

  // Dead letters: one per refused record, with reason, source and original bytes; one for the torn body.
  const letters = await Promise.all((await waitFor(topics.deadLetters, 8)).map(async (r) => ({ ...r, letter: await serde.decode<DeadLetterRecord>(r.value) })));
  assert.equal(letters.length, 8);
  for (const { letter } of letters) assert.equal(letter.source, 'gateway');
  for (const [i, record] of bad.entries()) {
    const found = letters.find(({ letter }) => letter.reason.startsWith(`producer web: record ${i + 1}: `));
    assert.ok(found, `dead letter for record ${i + 1}`);
    assert.ok(found.letter.reason.endsWith(reasons[i]!));
    assert.deepEqual(JSON.parse(found.letter.value!.toString()), JSON.parse(JSON.stringify(record)));
  }
  const torn = letters.find(({ letter }) => /malformed JSON/.test(letter.reason))!;
  assert.equal(torn.letter.value!.toString(), '{"events": [{"type": "click", "eventId": "torn');

  // Events: exactly the valid ones, the repeated one three times (the sessionizer drops repeats by eventId).
  const carol = await waitFor(topics.events, 5, (r) => r.key === 'carol');
  const ids = (await Promise.all(carol.map(async (r) => (await serde.decode<EventRecord>(r.value)).eventId))).sort();
  assert.deepEqual(ids, ['dup-1', 'dup-1', 'dup-1', 'ok-1', 'ok-2']);
});

test("a browser key's forged recommendation is refused and dead-lettered, naming the type and the producer; the rest of its batch reaches Kafka", async () => {
  const now = Date.now();
  const base = { userId: 'frank', sessionId: 's3', eventTime: now, scenario: 'entrance' };
  const forged = { ...base, type: 'recommendation', eventId: 'forged-1', requestId: 'r3', items: ['x', 'y'], propensities: [1, 1], model: 'deepchain', modelVersion: 9_999 };
  const res = await post({ events: [
    { ...base, type: 'click', eventId: 'scope-1', requestId: 'r3', itemId: 'x', position: 0 }, forged, { ...base, type: 'leave', eventId: 'scope-2' },
  ] });
  assert.equal(res.status, 207);
  const answer = (await res.json()) as { accepted: number; rejected: { index: number; reason: string }[] };
  assert.equal(answer.accepted, 2);
  assert.equal(answer.rejected.length, 1);
  assert.equal(answer.rejected[0]!.index, 1);
  assert.match(answer.rejected[0]!.reason, /^event type 'recommendation' is not allowed for producer 'web'/);
  assert.ok(!answer.rejected[0]!.reason.includes(KEY));

  const [letter] = await Promise.all((await waitFor(topics.deadLetters, 1, (r) => r.key === 'frank'))
    .map(async (r) => serde.decode<DeadLetterRecord>(r.value)));
  assert.equal(letter!.reason, `producer web: record 1: ${answer.rejected[0]!.reason}`);
  assert.deepEqual(JSON.parse(letter!.value!.toString()), forged);
  const frank = await waitFor(topics.events, 2, (r) => r.key === 'frank');
  const ids = await Promise.all(frank.map(async (r) => (await serde.decode<EventRecord>(r.value)).eventId));
  assert.deepEqual(ids, ['scope-1', 'scope-2'], 'the forged event never reaches the events topic; its neighbours do, in order');
});

test('Kafka unreachable: 503 with a retry hint, readiness says why, and the gateway keeps running', async () => {
  const config = loadGatewayConfig({
    KAFKA_BROKERS: '127.0.0.1:1',
    SCHEMA_REGISTRY_URL: servers.SCHEMA_REGISTRY_URL,
    TOPIC_PREFIX: prefix,
    GATEWAY_API_KEYS: `web=${KEY}`,
    GATEWAY_ACK_TIMEOUT_MS: '1500',
  });
  const lines: string[] = [];
  const down = await createGateway(config, createLogger('test-down', 'debug', { destination: { write: (line: string) => { lines.push(line); } } }));
  try {
    const res = await down.app.inject({
      method: 'POST', url: '/v1/events', headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      payload: JSON.stringify({ events: [{ type: 'leave', eventId: 'down-1', userId: 'dave', sessionId: 's', scenario: 'entrance' }] }),
    });
    assert.equal(res.statusCode, 503);
    assert.equal(res.headers['retry-after'], '1');
    assert.equal(res.json().retriable, true);
    const ready = await down.app.inject('/readyz');
    assert.equal(ready.statusCode, 503);
    assert.equal((await down.app.inject('/healthz')).statusCode, 200);
  } finally {
    await down.close();
  }
  assert.ok(lines.length > 0, 'the failure was logged');
  for (const line of lines) assert.ok(!line.includes(KEY), `a producer key in a log line: ${line}`);
});

test('shutdown answers the batches in flight after Kafka acknowledged them, then refuses connections', async () => {
  const config = loadGatewayConfig({
    KAFKA_BROKERS: servers.KAFKA_BROKERS.join(','),
    SCHEMA_REGISTRY_URL: servers.SCHEMA_REGISTRY_URL,
    TOPIC_PREFIX: prefix,
    GATEWAY_API_KEYS: `web=${KEY}`,
    GATEWAY_LINGER_MS: '200', // the batches are still in the producer's buffer when close() is called
  });
  const second = await createGateway(config, testLogger);
  await second.app.listen({ host: '127.0.0.1', port: 0 });
  await second.events.connect();
  const url = `http://127.0.0.1:${(second.app.server.address() as { port: number }).port}/v1/events`;
  const inFlight = Array.from({ length: 5 }, (_, i) => fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': KEY },
    body: JSON.stringify({ events: [{ type: 'leave', eventId: `bye-${i}`, userId: 'erin', sessionId: 's', scenario: 'order' }] }),
  }));
  while (second.events.buffered < 5) await new Promise((r) => setTimeout(r, 5));
  await second.close();
  const statuses = await Promise.all(inFlight.map(async (res) => (await res).status));
  assert.deepEqual(statuses, [200, 200, 200, 200, 200]);
  await assert.rejects(fetch(url, { method: 'POST' }), 'no longer listening');
  const records = await waitFor(topics.events, 5, (r) => r.key === 'erin');
  assert.equal(records.length, 5);
});
