import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger, createMetricsRegistry, DeepChainError } from '../../services/common/index.js';
import { buildGatewayApp } from '../../services/gateway/app.js';
import { loadGatewayConfig } from '../../services/gateway/config.js';
import { createMemoryDeadLetterSink } from '../../services/gateway/dead-letters.js';
import { createMemoryEventProducer } from '../../services/sdk/index.js';

const NOW = Date.UTC(2025, 0, 1);
const KEY = 'web-key-0123456789';
const click = (eventId: string) => ({
  type: 'click', eventId, userId: 'u1', sessionId: 's1', eventTime: NOW, scenario: 'entrance', requestId: 'r1', itemId: 'i1', position: 0,
});

const SERVER_KEY = 'srv-key-0123456789';
const recommendation = (eventId: string) => ({
  type: 'recommendation', eventId, userId: 'u1', sessionId: 's1', eventTime: NOW, scenario: 'entrance', requestId: 'r1',
  items: ['i1', 'i2'], propensities: [0.99, 0.99], model: 'deepchain', modelVersion: 999,
});

async function gateway(env: NodeJS.ProcessEnv = {}, logLines?: string[]) {
  const config = loadGatewayConfig({
    GATEWAY_API_KEYS: `web=${KEY},ios=ios-key-0123456789,server[recommendation+behaviour]=${SERVER_KEY}`,
    GATEWAY_MAX_BATCH_EVENTS: '5', GATEWAY_BODY_LIMIT_BYTES: '4096', ...env,
  });
  const events = createMemoryEventProducer();
  const deadLetters = createMemoryDeadLetterSink();
  const logger = logLines === undefined
    ? createLogger('test', 'silent')
    : createLogger('test', 'info', { destination: { write: (line: string) => { logLines.push(line); } } });
  const app = await buildGatewayApp({
    config, logger, metrics: createMetricsRegistry('gateway'), events, deadLetters, now: () => NOW,
  });
  const post = (payload: unknown, headers: Record<string, string> = { 'x-api-key': KEY }) =>
    app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json', ...headers }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });
  return { app, events, deadLetters, post };
}

test('a valid batch is produced and answered 200 with the count', async () => {
  const { app, events, deadLetters, post } = await gateway();
  const res = await post({ events: [click('e1'), click('e2')] });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { accepted: 2, rejected: [], duplicates: [] });
  assert.deepEqual(events.sent.map((e) => e.eventId), ['e1', 'e2']);
  assert.equal(deadLetters.letters.length, 0);
  await app.close();
});

test('a partly valid batch: 207, valid records produced, each invalid one answered by index and dead-lettered with its reason', async () => {
  const { app, events, deadLetters, post } = await gateway();
  const bad = { ...click('e2'), scenario: 'home' };
  const res = await post({ events: [click('e1'), bad, { ...click('e3'), position: 'first' }] });
  assert.equal(res.statusCode, 207);
  const body = res.json();
  assert.equal(body.accepted, 1);
  assert.deepEqual(body.rejected.map((r: { index: number }) => r.index), [1, 2]);
  assert.match(body.rejected[0].reason, /unknown scenario "home"/);
  assert.deepEqual(events.sent.map((e) => e.eventId), ['e1']);
  assert.equal(deadLetters.letters.length, 2);
  assert.match(deadLetters.letters[0]!.reason, /^producer web: record 1: unknown scenario "home"/);
  assert.deepEqual(JSON.parse(deadLetters.letters[0]!.value!.toString()), bad, 'the original record travels with its reason');
  assert.equal(deadLetters.letters[0]!.key!.toString(), 'u1');
  await app.close();
});

test('a batch with nothing valid: 422, all dead-lettered', async () => {
  const { app, events, deadLetters, post } = await gateway();
  const res = await post({ events: [{ type: 'hover' }, 'text'] });
  assert.equal(res.statusCode, 422);
  assert.equal(res.json().accepted, 0);
  assert.equal(events.sent.length, 0);
  assert.equal(deadLetters.letters.length, 2);
  assert.equal(deadLetters.letters[1]!.key, null);
  await app.close();
});

test('malformed JSON: 400, and the body is dead-lettered as received', async () => {
  const { app, deadLetters, post } = await gateway();
  const res = await post('{"events": [{"type": "click",');
  assert.equal(res.statusCode, 400);
  assert.equal(res.json().error, 'malformed JSON');
  assert.equal(deadLetters.letters.length, 1);
  assert.match(deadLetters.letters[0]!.reason, /^producer web: malformed JSON/);
  assert.equal(deadLetters.letters[0]!.value!.toString(), '{"events": [{"type": "click",');
  assert.equal((await post({ notEvents: [] })).statusCode, 400);
  assert.equal((await post({ events: [] })).statusCode, 400);
  await app.close();
});

test('a missing or wrong key: 401, nothing produced or parsed', async () => {
  const { app, events, deadLetters, post } = await gateway();
  const missing = await post({ events: [click('e1')] }, {});
  assert.equal(missing.statusCode, 401);
  assert.match(missing.json().reason, /missing API key/);
  const wrong = await post({ events: [click('e1')] }, { 'x-api-key': 'web-key-0123456780' });
  assert.equal(wrong.statusCode, 401);
  assert.equal(wrong.json().reason, 'wrong API key');
  assert.equal((await post('{not json', { 'x-api-key': 'nope' })).statusCode, 401, 'refused before the body is read');
  assert.equal((await post({ events: [click('e1')] }, { authorization: `Bearer ${KEY}` })).statusCode, 200);
  assert.equal(events.sent.length, 1);
  assert.equal(deadLetters.letters.length, 0);
  await app.close();
});

test('too many events or too many bytes: 413; another media type: 415', async () => {
  const { app, events, post } = await gateway();
  const many = await post({ events: Array.from({ length: 6 }, (_, i) => click(`e${i}`)) });
  assert.equal(many.statusCode, 413);
  assert.match(many.json().reason, /6 events in one batch; at most 5/);
  const big = await post({ events: [{ ...click('e1'), itemId: 'x'.repeat(5000) }] });
  assert.equal(big.statusCode, 413);
  assert.match(big.json().reason, /body over 4096 bytes/);
  const form = await app.inject({ method: 'POST', url: '/v1/events', headers: { 'x-api-key': KEY, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'a=b' });
  assert.equal(form.statusCode, 415);
  assert.equal(events.sent.length, 0);
  await app.close();
});

test('a text/plain body is read as JSON', async () => {
  const { app, events } = await gateway();
  const res = await app.inject({ method: 'POST', url: '/v1/events', headers: { 'x-api-key': KEY, 'content-type': 'text/plain;charset=UTF-8' }, payload: JSON.stringify({ events: [click('e1')] }) });
  assert.equal(res.statusCode, 200);
  assert.equal(events.sent.length, 1);
  await app.close();
});

test('the rate limit is per key: 429 for the key over it, others still served', async () => {
  const { app, post } = await gateway({ GATEWAY_RATE_LIMIT_MAX: '2', GATEWAY_RATE_LIMIT_WINDOW_MS: '600000' });
  assert.equal((await post({ events: [click('a')] })).statusCode, 200);
  assert.equal((await post({ events: [click('b')] })).statusCode, 200);
  const limited = await post({ events: [click('c')] });
  assert.equal(limited.statusCode, 429);
  assert.equal(limited.json().retriable, true);
  assert.ok(limited.headers['retry-after'] !== undefined);
  assert.equal((await post({ events: [click('d')] }, { 'x-api-key': 'ios-key-0123456789' })).statusCode, 200);
  await app.close();
});

test('Kafka unavailable: 503 with a retry hint, for events and for dead letters; served again when it is back', async () => {
  const { app, events, deadLetters, post } = await gateway();
  events.failWith(new DeepChainError('KAFKA_UNAVAILABLE', 'broker down'));
  const res = await post({ events: [click('e1')] });
  assert.equal(res.statusCode, 503);
  assert.equal(res.headers['retry-after'], '1');
  assert.equal(res.json().retriable, true);
  assert.match(res.json().reason, /send it again with the same event ids/);
  events.failWith(new DeepChainError('BUFFER_FULL', 'full'));
  assert.equal((await post({ events: [click('e1')] })).statusCode, 503);
  events.failWith(undefined);
  deadLetters.failWith(new DeepChainError('KAFKA_UNAVAILABLE', 'broker down'));
  assert.equal((await post({ events: [click('e1'), { type: 'hover' }] })).statusCode, 503, 'an invalid record that cannot be dead-lettered is not acknowledged');
  assert.equal((await post('{oops')).statusCode, 503);
  deadLetters.failWith(undefined);
  assert.equal((await post({ events: [click('e1')] })).statusCode, 200);
  await app.close();
});

test('an unexpected failure is a 500, and the gateway keeps serving', async () => {
  const { app, events, post } = await gateway();
  events.failWith(new Error('bug'));
  assert.equal((await post({ events: [click('e1')] })).statusCode, 500);
  events.failWith(undefined);
  assert.equal((await post({ events: [click('e1')] })).statusCode, 200);
  assert.equal((await app.inject('/healthz')).statusCode, 200);
  await app.close();
});

test('the same event twice is forwarded twice and the answer says which record repeats which', async () => {
  const { app, events, post } = await gateway();
  const res = await post({ events: [click('e1'), click('e1')] });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), { accepted: 2, rejected: [], duplicates: [{ index: 1, firstIndex: 0 }] });
  assert.equal((await post({ events: [click('e1')] })).statusCode, 200, 'a retried batch is accepted again');
  assert.deepEqual(events.sent.map((e) => e.eventId), ['e1', 'e1', 'e1']);
  await app.close();
});

test('metrics count requests by status and events by outcome', async () => {
  const { app, post } = await gateway();
  await post({ events: [click('e1'), click('e1'), { type: 'hover' }] });
  await post({}, {});
  const text = (await app.inject('/metrics')).body;
  assert.match(text, /deepchain_gateway_requests_total\{status="207",service="gateway"\} 1/);
  assert.match(text, /deepchain_gateway_requests_total\{status="401",service="gateway"\} 1/);
  assert.match(text, /deepchain_gateway_events_total\{outcome="accepted",service="gateway"\} 2/);
  assert.match(text, /deepchain_gateway_events_total\{outcome="rejected",service="gateway"\} 1/);
  assert.match(text, /deepchain_gateway_events_total\{outcome="duplicate",service="gateway"\} 1/);
  await app.close();
});

test('a key without a scope cannot write recommendation events: refused per record, naming the type and the producer, never the key', async () => {
  const lines: string[] = [];
  const { app, events, deadLetters, post } = await gateway({}, lines);
  const res = await post({ events: [click('e1'), recommendation('forged'), click('e3')] });
  assert.equal(res.statusCode, 207);
  const body = res.json();
  assert.equal(body.accepted, 2);
  assert.equal(body.rejected.length, 1);
  assert.equal(body.rejected[0].index, 1);
  assert.match(body.rejected[0].reason, /^event type 'recommendation' is not allowed for producer 'web': its key may send click, skip, page_change, leave, add_to_cart, purchase/);
  assert.deepEqual(events.sent.map((e) => e.eventId), ['e1', 'e3'], 'the rest of the batch is untouched');
  assert.equal(deadLetters.letters.length, 1);
  assert.match(deadLetters.letters[0]!.reason, /^producer web: record 1: event type 'recommendation' is not allowed/);
  assert.deepEqual(JSON.parse(deadLetters.letters[0]!.value!.toString()), recommendation('forged'));

  const only = await post({ events: [recommendation('forged-2')] });
  assert.equal(only.statusCode, 422, 'nothing allowed in the batch: 422 like a batch of invalid records');
  const invalidToo = await post({ events: [{ ...recommendation('forged-3'), propensities: [2] }] });
  assert.match(invalidToo.json().rejected[0].reason, /not allowed for producer 'web'/, 'the scope is checked before the fields');
  assert.equal(events.sent.length, 2);

  const text = (await app.inject('/metrics')).body;
  assert.match(text, /deepchain_gateway_events_total\{outcome="forbidden",service="gateway"\} 3/);
  assert.doesNotMatch(text, /outcome="rejected"/, 'a forbidden record is not counted as invalid');
  const warnings = lines.map((l) => JSON.parse(l) as { level: number; producer?: string; types?: string[] }).filter((l) => l.level === 40);
  assert.equal(warnings.length, 3);
  assert.deepEqual([warnings[0]!.producer, warnings[0]!.types], ['web', ['recommendation']]);
  for (const line of lines) assert.ok(!line.includes(KEY) && !line.includes(SERVER_KEY), line);
  await app.close();
});

test('a key scoped for recommendation sends it; a key scoped without a behaviour type cannot send that type', async () => {
  const { app, events, post } = await gateway({ GATEWAY_API_KEYS: `web=${KEY},server[recommendation+behaviour]=${SERVER_KEY},ranker[recommendation]=rnk-key-0123456789` });
  const res = await post({ events: [recommendation('r-1'), click('c-1')] }, { 'x-api-key': SERVER_KEY });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(events.sent.map((e) => e.eventId), ['r-1', 'c-1']);
  const ranker = await post({ events: [recommendation('r-2'), click('c-2')] }, { authorization: 'Bearer rnk-key-0123456789' });
  assert.equal(ranker.statusCode, 207);
  assert.deepEqual(ranker.json().rejected, [{ index: 1, reason: "event type 'click' is not allowed for producer 'ranker': its key may send recommendation (scopes are set in GATEWAY_API_KEYS)" }]);
  assert.deepEqual(events.sent.map((e) => e.eventId), ['r-1', 'c-1', 'r-2']);
  await app.close();
});
