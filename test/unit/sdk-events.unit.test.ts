import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import avsc from 'avsc';
import { eventFromRecord, eventToRecord, EVENT_TYPES, type UserEvent } from '../../services/common/index.js';
import { addToCart, click, leave, pageChange, purchase, recommendation, skip } from '../../services/sdk/index.js';

const eventType = avsc.Type.forSchema(JSON.parse(readFileSync(new URL('../../schemas/event.avsc', import.meta.url), 'utf8')));
const base = { userId: 'u1', sessionId: 's1', scenario: 'entrance' as const };

function everyType(): UserEvent[] {
  return [
    recommendation({ ...base, requestId: 'r1', items: ['a', 'b'], propensities: [0.5, 0.5], model: 'deepchain', modelVersion: 3 }),
    click({ ...base, requestId: 'r1', itemId: 'a', position: 0 }),
    skip({ ...base, requestId: 'r1', itemId: 'b', position: 1 }),
    pageChange({ ...base, from: 'entrance', to: 'detail', itemId: 'a' }),
    pageChange({ ...base, from: 'detail', to: 'entrance' }),
    leave(base),
    addToCart({ ...base, scenario: 'detail', itemId: 'a' }),
    purchase({ ...base, scenario: 'order', itemIds: ['a'] }),
  ];
}

test('each constructor makes its event type, with a fresh event id and the current time', () => {
  const before = Date.now();
  const events = everyType();
  const after = Date.now();
  assert.deepEqual([...new Set(events.map((e) => e.type))], [...EVENT_TYPES]);
  assert.equal(new Set(events.map((e) => e.eventId)).size, events.length, 'ids are unique');
  for (const e of events) {
    assert.match(e.eventId, /^[0-9a-f-]{36}$/);
    assert.ok(e.eventTime >= before && e.eventTime <= after);
  }
  assert.equal((events[4] as { itemId: string | null }).itemId, null, 'a page change without an item has itemId null');
});

test('an event id and time given by the caller are kept', () => {
  const e = click({ ...base, eventId: 'mine', eventTime: 42, requestId: 'r', itemId: 'i', position: 2 });
  assert.equal(e.eventId, 'mine');
  assert.equal(e.eventTime, 42);
});

test('every constructed event matches the Avro schema and round-trips through its record', () => {
  for (const e of everyType()) {
    const record = eventToRecord(e);
    assert.ok(eventType.isValid(record), `${e.type} is valid Avro`);
    const decoded = eventType.fromBuffer(eventType.toBuffer(record)) as Parameters<typeof eventFromRecord>[0];
    assert.deepEqual(eventFromRecord(decoded), e);
  }
});
