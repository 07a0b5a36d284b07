import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readSchema } from '../../services/common/index.js';
import { createEventValidator, readBatchBody } from '../../services/gateway/validation.js';

const NOW = Date.UTC(2025, 0, 1);
const HOUR = 3_600_000;
const validator = createEventValidator(readSchema('event'), { maxEventAgeMs: 24 * HOUR, maxEventFutureMs: 300_000 });
const click = { type: 'click', eventId: 'e1', userId: 'u1', sessionId: 's1', eventTime: NOW, scenario: 'entrance', requestId: 'r1', itemId: 'i1', position: 0 };

function reasonFor(record: unknown): string {
  const v = validator.validate(record, NOW);
  assert.equal(v.ok, false, `expected ${JSON.stringify(record)} to be refused`);
  return (v as { reason: string }).reason;
}

test('valid events of every type are accepted as their runtime type', () => {
  const base = { eventId: 'e', userId: 'u', sessionId: 's', eventTime: NOW, scenario: 'detail' };
  const records = [
    { ...base, type: 'recommendation', requestId: 'r', items: ['a', 'b'], propensities: [0.25, 1], model: 'deepchain', modelVersion: 7 },
    { ...base, type: 'click', requestId: 'r', itemId: 'a', position: 1 },
    { ...base, type: 'skip', requestId: 'r', itemId: 'a', position: 0 },
    { ...base, type: 'page_change', from: 'entrance', to: 'detail', itemId: 'a' },
    { ...base, type: 'page_change', from: 'detail', to: 'cart' },
    { ...base, type: 'leave' },
    { ...base, type: 'add_to_cart', itemId: 'a' },
    { ...base, type: 'purchase', itemIds: ['a', 'b'] },
  ];
  for (const r of records) {
    const v = validator.validate(r, NOW);
    assert.ok(v.ok, `${r.type}: ${(v as { reason?: string }).reason}`);
  }
  const pc = validator.validate(records[4], NOW);
  assert.deepEqual(pc.ok && pc.event, { ...base, type: 'page_change', from: 'detail', to: 'cart', itemId: null });
});

test('a missing eventTime is stamped with the receive time', () => {
  const { eventTime: _, ...noTime } = click;
  const v = validator.validate(noTime, NOW);
  assert.ok(v.ok);
  assert.equal(v.event.eventTime, NOW);
});

test('each kind of bad record is refused with a reason that names the problem', () => {
  const cases: [unknown, RegExp][] = [
    ['click', /expected a JSON object, got a string/],
    [[click], /expected a JSON object, got an array/],
    [null, /got null/],
    [{ ...click, type: undefined }, /missing field 'type'/],
    [{ ...click, type: 'hover' }, /unknown event type "hover" \(expected one of recommendation, click/],
    [{ ...click, type: 42 }, /unknown event type 42/],
    [{ ...click, colour: 'red' }, /unknown field "colour" for a click event/],
    [{ ...click, eventId: undefined }, /missing field 'eventId'/],
    [{ ...click, userId: undefined }, /missing field 'userId'/],
    [{ ...click, sessionId: undefined }, /missing field 'sessionId'/],
    [{ ...click, itemId: undefined }, /missing field 'itemId'/],
    [{ ...click, userId: '' }, /field 'userId' must be a non-empty string/],
    [{ ...click, eventId: 'x'.repeat(300) }, /field 'eventId' must be a non-empty string of at most 256/],
    [{ ...click, userId: 17 }, /field 'userId' must be a string, got 17/],
    [{ ...click, position: '3' }, /field 'position' must be an integer \(32-bit\), got "3"/],
    [{ ...click, position: 1.5 }, /field 'position' must be an integer/],
    [{ ...click, position: -1 }, /field 'position' must be ≥ 0/],
    [{ ...click, eventTime: '2025-01-01T00:00:00Z' }, /field 'eventTime' must be epoch milliseconds \(an integer\)/],
    [{ ...click, scenario: 'home' }, /unknown scenario "home" in 'scenario' \(expected one of entrance, detail, cart, order\)/],
    [{ ...click, scenario: 3 }, /field 'scenario' must be one of entrance, detail, cart, order/],
    [{ ...click, eventTime: NOW + HOUR }, /is 3600000 ms in the future; at most 300000 ms allowed/],
    [{ ...click, eventTime: NOW - 48 * HOUR }, /is 172800000 ms in the past; at most 86400000 ms allowed/],
    [{ ...click, eventTime: 0 }, /ms in the past/],
    [{ type: 'page_change', eventId: 'e', userId: 'u', sessionId: 's', scenario: 'entrance', from: 'entrance', to: 'basket' },
      /unknown scenario "basket" in 'to'/],
    [{ type: 'page_change', eventId: 'e', userId: 'u', sessionId: 's', scenario: 'entrance', from: 'entrance', to: 'detail', itemId: 5 },
      /field 'itemId' must be null or string, got 5/],
    [{ type: 'purchase', eventId: 'e', userId: 'u', sessionId: 's', scenario: 'order', itemIds: [] }, /field 'itemIds' must not be empty/],
    [{ type: 'purchase', eventId: 'e', userId: 'u', sessionId: 's', scenario: 'order', itemIds: ['a', 3] }, /field 'itemIds\[1\]' must be a string, got 3/],
    [{ type: 'recommendation', eventId: 'e', userId: 'u', sessionId: 's', scenario: 'entrance', requestId: 'r', items: ['a', 'b'], propensities: [1], model: 'm', modelVersion: 1 },
      /'propensities' has 1 values for 2 items/],
    [{ type: 'recommendation', eventId: 'e', userId: 'u', sessionId: 's', scenario: 'entrance', requestId: 'r', items: ['a'], propensities: [1.5], model: 'm', modelVersion: 1 },
      /'propensities\[0\]' must be a probability in \[0, 1\]/],
    [{ type: 'recommendation', eventId: 'e', userId: 'u', sessionId: 's', scenario: 'entrance', requestId: 'r', items: ['a'], propensities: [1], model: 'm', modelVersion: -2 },
      /'modelVersion' must be ≥ 0/],
  ];
  for (const [record, reason] of cases) assert.match(reasonFor(record), reason);
});

test('a long value is shortened in the reason', () => {
  assert.ok(reasonFor({ ...click, type: 'x'.repeat(1000) }).length < 200);
});

test('a batch answers per record, by index, and reports repeated event ids without dropping them', () => {
  const verdict = validator.validateBatch([click, { ...click, type: 'hover' }, { ...click }, { ...click, eventId: 'e2' }], NOW);
  assert.deepEqual(verdict.accepted.map((a) => a.index), [0, 2, 3]);
  assert.deepEqual(verdict.rejected.map((r) => [r.index, r.record]), [[1, { ...click, type: 'hover' }]]);
  assert.deepEqual(verdict.duplicates, [{ index: 2, firstIndex: 0 }]);
});

test('the body must be {"events": [...]} with 1 to the maximum records', () => {
  assert.deepEqual(readBatchBody({ events: [1, 2] }, 2), { ok: true, records: [1, 2] });
  assert.deepEqual(readBatchBody({ events: [1, 2, 3] }, 2), { ok: false, status: 413, reason: '3 events in one batch; at most 2 allowed, split the batch' });
  assert.equal((readBatchBody([click], 2) as { status: number }).status, 400);
  assert.equal((readBatchBody({ events: [] }, 2) as { status: number }).status, 400);
  assert.equal((readBatchBody({ events: 'x' }, 2) as { status: number }).status, 400);
  assert.match((readBatchBody({ events: [], more: 1 }, 2) as { reason: string }).reason, /unknown field 'more'/);
  assert.equal((readBatchBody(null, 2) as { status: number }).status, 400);
  assert.match((readBatchBody(undefined, 2) as { reason: string }).reason, /got nothing/);
});

test("a record of a type outside the producer's scope is refused as forbidden, naming the type and the producer; others are judged as usual", () => {
  const scope = { name: 'web', eventTypes: new Set(['click', 'skip'] as const) };
  const rec = { type: 'recommendation', eventId: 'r', userId: 'u', sessionId: 's', eventTime: NOW, scenario: 'entrance', requestId: 'r', items: ['a'], propensities: [1], model: 'm', modelVersion: 1 };
  const verdict = validator.validateBatch([click, rec, { ...click, type: 'hover' }, { ...click, eventId: 'e2', position: -1 }], NOW, scope);
  assert.deepEqual(verdict.accepted.map((a) => a.index), [0]);
  assert.deepEqual(verdict.rejected.map((r) => [r.index, r.forbidden]), [[1, true], [2, false], [3, false]]);
  assert.equal(verdict.rejected[0]!.reason, "event type 'recommendation' is not allowed for producer 'web': its key may send click, skip (scopes are set in GATEWAY_API_KEYS)");
  assert.match(verdict.rejected[1]!.reason, /unknown event type "hover"/, 'an unknown type is invalid, not forbidden');
  assert.ok(validator.validate(rec, NOW).ok, 'without a scope every type is allowed');
});
