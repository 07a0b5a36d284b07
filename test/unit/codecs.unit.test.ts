import assert from 'node:assert/strict';
import { test } from 'node:test';
import avro from 'avsc';
import { eventFromRecord, eventToRecord, readSchema, transitionFromRecord, type Transition, type UserEvent } from '../../services/common/index.js';

const eventType = avro.Type.forSchema(JSON.parse(readSchema('event')));
const transitionType = avro.Type.forSchema(JSON.parse(readSchema('transition')));
const base = { eventId: 'e1', userId: 'u1', sessionId: 's1', eventTime: 1_700_000_000_123, scenario: 'entrance' as const };

const events: UserEvent[] = [
  { ...base, type: 'recommendation', requestId: 'r1', items: ['i1', 'i2'], propensities: [0.7, 0.3], model: 'deepchain', modelVersion: 12 },
  { ...base, type: 'click', requestId: 'r1', itemId: 'i2', position: 1 },
  { ...base, type: 'skip', requestId: 'r1', itemId: 'i1', position: 0 },
  { ...base, type: 'page_change', from: 'entrance', to: 'detail', itemId: 'i2' },
  { ...base, type: 'page_change', from: 'detail', to: 'entrance', itemId: null },
  { ...base, type: 'leave' },
  { ...base, scenario: 'detail', type: 'add_to_cart', itemId: 'i2' },
  { ...base, scenario: 'order', type: 'purchase', itemIds: ['i2', 'i3'] },
];

for (const event of events) {
  test(`event '${event.type}' survives Avro binary encoding unchanged`, () => {
    const bytes = eventType.toBuffer(eventToRecord(event));
    assert.deepEqual(eventFromRecord(eventType.fromBuffer(bytes)), event);
  });
}

test('an event the schema does not allow is refused by the schema', () => {
  assert.equal(eventType.isValid(eventToRecord({ ...base, scenario: 'checkout' as never, type: 'leave' })), false);
  assert.equal(eventType.isValid(eventToRecord({ ...base, type: 'click', requestId: 'r', itemId: 'i', position: 'x' as never })), false);
});

test('a transition survives Avro binary encoding unchanged', () => {
  const t: Transition = {
    userId: 'u1', sessionId: 's1', step: 0, scenario: 'entrance', state: ['a', 'b'], action: 'c', behaviour: 'click',
    reward: 1, nextState: ['a', 'b', 'c'], nextScenario: 'detail', terminal: false, eventTime: 1_700_000_000_000,
    modelVersion: 3, propensity: 0.25, position: 2,
  };
  assert.deepEqual(transitionFromRecord(transitionType.fromBuffer(transitionType.toBuffer(t))), t);
  const end = { ...t, behaviour: 'leave' as const, reward: -2, nextScenario: null, terminal: true, modelVersion: null, propensity: null, position: null };
  assert.deepEqual(transitionFromRecord(transitionType.fromBuffer(transitionType.toBuffer(end))), end);
});
