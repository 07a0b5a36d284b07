/**
 * Property-based fuzzing of the serving node's POST /v1/recommend through fastify's inject, on a small
 * in-process model (trained for a step on synthetic transitions, as in serving-slot.unit.test.ts): whatever
 * the body (random bytes, random JSON, requests with any field replaced by anything), the answer is a 2xx or
 * a 4xx, never a 5xx, and a 200 holds at most k items, each one the node knows, with a finite score.
 * A failure prints fast-check's seed and path; rerun with them to reproduce it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { createLogger, createMetricsRegistry, createOpsServer, SCENARIOS, type UserEvent } from '../../services/common/index.js';
import { selectBackend } from '../../services/model/index.js';
import { sha256Hex } from '../../services/registry/index.js';
import { addServingRoutes } from '../../services/serving/app.js';
import { UserHistories } from '../../services/serving/history.js';
import { ModelSlot } from '../../services/serving/model-slot.js';
import { DETAIL_ITEMS, ENTRANCE_ITEMS, smallTrainer } from '../support/transitions.js';

const RUNS = 150;
const MAX_K = 10;
const logged: UserEvent[] = [];
let app: FastifyInstance;

before(async () => {
  await selectBackend({ prefer: 'cpu' });
  const trainer = smallTrainer();
  trainer.step();
  const weights = trainer.publishableWeights();
  const slot = new ModelSlot('deepchain');
  const installed = slot.install({
    model: 'deepchain', version: 1, checksum: sha256Hex(weights), sizeBytes: weights.byteLength, weights: Buffer.from(weights),
    registryRef: null, pinned: false, role: 'live', share: 0, at: 0,
  }, weights);
  assert.equal(installed.status, 'installed');
  const histories = new UserHistories(10, 100);
  histories.observe({ userId: 'u1', nextState: ['e1', 'd2', 'unknown-item'] });
  histories.observe({ userId: '__proto__', nextState: ['e2'] });
  const metrics = createMetricsRegistry('serving');
  app = createOpsServer({ logger: createLogger('fuzz', 'silent'), metrics });
  addServingRoutes(app, {
    slot, histories, metrics, maxK: MAX_K, maxCandidates: 50,
    options: { recallSize: 6, recallSeeds: 2, exploration: { policy: 'plackett-luce', temperature: 0.1 } },
    logEvent: (event) => { logged.push(event); },
  });
});

after(async () => {
  await app?.close();
});

const recommend = (payload: string | Buffer, contentType = 'application/json') =>
  app.inject({ method: 'POST', url: '/v1/recommend', headers: { 'content-type': contentType }, payload });

const KNOWN = new Set([...ENTRANCE_ITEMS, ...DETAIL_ITEMS]);

function assertNeverServerError(res: { statusCode: number; body: string }) {
  assert.ok(res.statusCode >= 200 && res.statusCode < 500, `status ${res.statusCode}: ${res.body}`);
  const body = JSON.parse(res.body) as { items?: { itemId: string; score: number }[]; error?: unknown; message?: unknown };
  if (res.statusCode === 200) {
    assert.ok(body.items!.length <= MAX_K, res.body);
    for (const item of body.items!) assert.ok(KNOWN.has(item.itemId) && Number.isFinite(item.score), res.body);
  } else {
    assert.ok(typeof body.error === 'string' || typeof body.message === 'string', `${res.statusCode} without a reason: ${res.body}`);
  }
}

const FIELDS = ['userId', 'sessionId', 'scenario', 'k', 'itemId', 'candidates', '__proto__', 'constructor', 'toString'];
const json = fc.letrec((tie) => ({
  value: fc.oneof({ maxDepth: 3 },
    fc.constant(null), fc.boolean(), fc.double(), fc.integer(), fc.constant(-0), fc.constant(1e300), fc.string({ maxLength: 20 }),
    fc.constantFrom(...SCENARIOS, ...ENTRANCE_ITEMS, 'u1', '__proto__', 'constructor', ''),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 6 })), tie('value'), { maxKeys: 4 })),
})).value;
const itemId = fc.oneof(fc.constantFrom(...KNOWN, 'unknown', '__proto__', 'constructor', 'hasOwnProperty', ''), fc.string({ maxLength: 300 }));
/** Mostly `plausible`, sometimes anything at all. */
const usually = <T>(plausible: fc.Arbitrary<T>) => fc.oneof({ arbitrary: plausible, weight: 5 }, { arbitrary: json, weight: 1 });
/** A request with each field usually plausible (ids the node knows and does not, odd ones), sometimes anything. */
const request = fc.record({
  userId: usually(fc.oneof(fc.constantFrom('u1', 'u2', '__proto__', 'constructor'), fc.string({ minLength: 1, maxLength: 300 }))),
  sessionId: usually(fc.constant('s1')),
  scenario: usually(fc.constantFrom(...SCENARIOS, 'entrance', 'detail')),
  k: usually(fc.integer({ min: 0, max: MAX_K + 1 })),
  itemId: usually(itemId),
  candidates: usually(fc.array(itemId, { maxLength: 60 })),
}, { requiredKeys: ['userId', 'sessionId', 'scenario', 'k'] });
/** Any subset of the fields, each anything. */
const anyRequest = fc.record(Object.fromEntries(FIELDS.map((f) => [f, json])), { requiredKeys: [] });

test('random bytes in any content type: never a 5xx', async () => {
  const contentType = fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8', 'application/octet-stream', 'application/x-www-form-urlencoded');
  await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 5_000 }), contentType, async (bytes, type) => {
    assertNeverServerError(await recommend(Buffer.from(bytes), type));
  }), { numRuns: RUNS });
});

test('random JSON bodies and requests with any field replaced by anything: never a 5xx; a 200 holds at most k known items', async () => {
  await fc.assert(fc.asyncProperty(fc.oneof(json, anyRequest, { arbitrary: request, weight: 4 }), async (value) => {
    const before = logged.length;
    const res = await recommend(JSON.stringify(value) ?? 'null');
    assertNeverServerError(res);
    if (res.statusCode === 200) {
      const k = Number((value as { k: unknown }).k);
      if (Number.isInteger(k)) assert.ok(res.json().items.length <= k, res.body);
      assert.equal(logged.length, before + 1, 'each recommendation is logged once');
    } else {
      assert.equal(logged.length, before, 'a refused request logs nothing');
    }
  }), { numRuns: RUNS * 2 });
  const ok = await recommend(JSON.stringify({ userId: 'u1', sessionId: 's1', scenario: 'entrance', k: 3 }));
  assert.equal(ok.statusCode, 200, 'still serving');
});
