/**
 * Property-based fuzzing of POST /v1/events through fastify's inject: whatever the body (random bytes,
 * random JSON, batches of valid events mixed with random and mutated records, any content type), the
 * gateway answers a 2xx or a 4xx with a reason, never a 5xx, and the valid events of a batch are produced
 * exactly as they came, whatever sits beside them (per-record semantics, services/gateway/README.md).
 * A failure prints fast-check's seed and path; rerun with them to reproduce it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { createLogger, createMetricsRegistry, SCENARIOS } from '../../services/common/index.js';
import { buildGatewayApp } from '../../services/gateway/app.js';
import { loadGatewayConfig } from '../../services/gateway/config.js';
import { createMemoryDeadLetterSink } from '../../services/gateway/dead-letters.js';
import { createMemoryEventProducer } from '../../services/sdk/index.js';

const NOW = Date.UTC(2025, 0, 1);
const KEY = 'web-key-0123456789';
const RUNS = 150;

async function gateway() {
  const config = loadGatewayConfig({ GATEWAY_API_KEYS: `web=${KEY}`, GATEWAY_MAX_BATCH_EVENTS: '20', GATEWAY_BODY_LIMIT_BYTES: '16384' });
  const events = createMemoryEventProducer();
  const deadLetters = createMemoryDeadLetterSink();
  const app = await buildGatewayApp({
    config, logger: createLogger('fuzz', 'silent'), metrics: createMetricsRegistry('gateway'), events, deadLetters, now: () => NOW,
  });
  return { app, events, deadLetters };
}

const post = (app: FastifyInstance, payload: string | Buffer, contentType = 'application/json') =>
  app.inject({ method: 'POST', url: '/v1/events', headers: { 'x-api-key': KEY, 'content-type': contentType }, payload });

/** Every answer: not a 5xx, JSON, and a 4xx other than 422 says what was wrong. */
function assertClearAnswer(res: { statusCode: number; body: string }) {
  assert.ok(res.statusCode >= 200 && res.statusCode < 500, `status ${res.statusCode}: ${res.body}`);
  const body = JSON.parse(res.body) as { error?: unknown; reason?: unknown; accepted?: unknown; rejected?: { index: number; reason: string }[] };
  if ([200, 207, 422].includes(res.statusCode)) {
    assert.equal(typeof body.accepted, 'number', res.body);
    for (const r of body.rejected!) assert.ok(typeof r.reason === 'string' && r.reason.length > 0, res.body);
  } else {
    assert.ok(typeof body.error === 'string' && typeof body.reason === 'string' && body.reason.length > 0, `${res.statusCode}: ${res.body}`);
  }
}

const id = fc.string({ minLength: 1, maxLength: 12 });
const base = { userId: id, sessionId: id, eventTime: fc.integer({ min: NOW - 3_600_000, max: NOW + 60_000 }), scenario: fc.constantFrom(...SCENARIOS) };
/** Valid behaviour events (all a key without a scope may send). */
const validEvent = fc.oneof(
  fc.record({ type: fc.constantFrom('click', 'skip'), ...base, requestId: id, itemId: id, position: fc.integer({ min: 0, max: 100 }) }),
  fc.record({ type: fc.constant('page_change'), ...base, from: fc.constantFrom(...SCENARIOS), to: fc.constantFrom(...SCENARIOS), itemId: fc.option(id, { nil: null }) }),
  fc.record({ type: fc.constant('leave'), ...base }),
  fc.record({ type: fc.constant('add_to_cart'), ...base, itemId: id }),
  fc.record({ type: fc.constant('purchase'), ...base, itemIds: fc.array(id, { minLength: 1, maxLength: 3 }) }),
);
const FIELDS = ['type', 'eventId', 'userId', 'sessionId', 'eventTime', 'scenario', 'requestId', 'itemId', 'position', 'items',
  'propensities', 'model', 'modelVersion', 'from', 'to', 'itemIds', '__proto__', 'constructor', 'toString', 'events'];
const key = fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 8 }));
const json = fc.letrec((tie) => ({
  value: fc.oneof({ maxDepth: 3 },
    fc.constant(null), fc.boolean(), fc.double(), fc.integer(), fc.constant(-0), fc.constant(2 ** 53), fc.string({ maxLength: 20 }),
    fc.constantFrom(...SCENARIOS, 'recommendation', 'click', 'hover', ''),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 5 })),
})).value;
/** A valid event with one thing changed: a field set to any value, a field removed, a field added. */
const mutated = fc.tuple(validEvent, key, json, fc.constantFrom('set', 'remove')).map(([event, field, value, how]) => {
  const copy: Record<string, unknown> = { ...event, eventId: 'junk' };
  if (how === 'remove') delete copy[field];
  else Object.defineProperty(copy, field, { value, enumerable: true, writable: true, configurable: true });
  return copy;
});
/** A recommendation with made-up propensities: outside a key's default scope. */
const forged = fc.record({
  type: fc.constant('recommendation'), eventId: fc.constant('junk'), ...base, requestId: id, items: fc.constant(['a']),
  propensities: fc.constant([1]), model: id, modelVersion: fc.nat(),
});
const junk = fc.oneof(json, mutated, forged);

test('random bytes in any content type: a 2xx or a 4xx with its reason, never a 5xx', async () => {
  const { app } = await gateway();
  const contentType = fc.oneof(
    fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8', 'text/plain;charset=UTF-8', 'application/octet-stream', 'application/json; charset=latin1'),
    fc.string({ maxLength: 30 }).filter((s) => /^[\x21-\x7e]*$/.test(s) && s.length > 0),
  );
  await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 20_000 }), contentType, async (bytes, type) => {
    assertClearAnswer(await post(app, Buffer.from(bytes), type));
  }), { numRuns: RUNS });
  assert.equal((await app.inject('/healthz')).statusCode, 200);
  await app.close();
});

test('random JSON bodies: a 2xx or a 4xx with its reason, never a 5xx', async () => {
  const { app } = await gateway();
  const body = fc.oneof(json, fc.dictionary(key, json, { maxKeys: 3 }), fc.record({ events: json }), fc.record({ events: fc.array(junk, { maxLength: 25 }) }));
  await fc.assert(fc.asyncProperty(body, async (value) => {
    assertClearAnswer(await post(app, JSON.stringify(value) ?? 'undefined'));
  }), { numRuns: RUNS });
  await app.close();
});

test('valid events mixed with random, mutated and forbidden records: every valid one produced as sent, every other answered by index', async () => {
  const { app, events, deadLetters } = await gateway();
  const batch = fc.array(fc.oneof(validEvent.map((e) => ({ valid: true as const, record: e })), junk.map((r) => ({ valid: false as const, record: r }))), { minLength: 1, maxLength: 20 });
  await fc.assert(fc.asyncProperty(batch, async (entries) => {
    events.sent.length = 0;
    deadLetters.letters.length = 0;
    const records = entries.map((e, i) => (e.valid ? { ...e.record, eventId: `valid-${i}` } : e.record));
    const res = await post(app, JSON.stringify({ events: records }));
    assertClearAnswer(res);
    const answer = res.json() as { accepted: number; rejected: { index: number; reason: string }[] };
    const validIndexes = entries.flatMap((e, i) => (e.valid ? [i] : []));
    const rejected = new Set(answer.rejected.map((r) => r.index));
    for (const i of validIndexes) assert.ok(!rejected.has(i), `valid record ${i} rejected: ${res.body}`);
    assert.equal(answer.accepted + answer.rejected.length, records.length);
    assert.equal(res.statusCode, answer.rejected.length === 0 ? 200 : answer.accepted === 0 ? 422 : 207);
    // The valid events reach the log exactly as sent (eventTime stamped only where absent), in batch order.
    const produced = events.sent.filter((e) => e.eventId.startsWith('valid-'));
    assert.deepEqual(produced.map((e) => e.eventId), validIndexes.map((i) => `valid-${i}`));
    for (const e of produced) {
      const sent = records[Number(e.eventId.slice(6))] as Record<string, unknown>;
      assert.deepEqual(e, { ...sent, ...(sent.type === 'page_change' && sent.itemId === undefined ? { itemId: null } : {}) });
    }
    assert.equal(events.sent.length, answer.accepted);
    assert.equal(deadLetters.letters.length, answer.rejected.length, 'every refused record is dead-lettered');
    for (const r of answer.rejected) {
      if ((records[r.index] as { type?: unknown } | null)?.type === 'recommendation') {
        assert.match(r.reason, /event type 'recommendation' is not allowed for producer 'web'/);
      }
    }
  }), { numRuns: RUNS });
  await app.close();
});
