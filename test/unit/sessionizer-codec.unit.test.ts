import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { topicNames, type Transition, type UserEvent } from '../../services/common/index.js';
import { decodeChangelog, encodePosition, encodeUserState } from '../../services/sessionizer/changelog-codec.js';
import { loadSessionizerConfig, settingsOf } from '../../services/sessionizer/config.js';
import { emptyUserState, type UserState } from '../../services/sessionizer/state.js';
import { WireCodec } from '../../services/sessionizer/wire.js';

/** An in-memory stand-in for the registry: ids per subject, and 404 for unknown ids. */
function memoryRegistry(): SchemaRegistry {
  const ids = new Map<string, number>();
  return {
    register: async (_schema: unknown, { subject }: { subject: string }) => {
      if (!ids.has(subject)) ids.set(subject, ids.size + 1);
      return { id: ids.get(subject)! };
    },
    getSchema: async (id: number) => { throw Object.assign(new Error(`schema ${id} not found`), { status: 404 }); },
  } as unknown as SchemaRegistry;
}

async function codec(): Promise<WireCodec> {
  const wire = new WireCodec(memoryRegistry(), topicNames('t.'));
  await wire.register();
  return wire;
}

const events: UserEvent[] = [
  { type: 'recommendation', eventId: 'e1', userId: 'u', sessionId: 's', eventTime: 1_700_000_000_000, scenario: 'entrance', requestId: 'r', items: ['a', 'b'], propensities: [0.25, 0.75], model: 'm', modelVersion: 4 },
  { type: 'click', eventId: 'e2', userId: 'u', sessionId: 's', eventTime: 1_700_000_000_100, scenario: 'entrance', requestId: 'r', itemId: 'b', position: 1 },
  { type: 'page_change', eventId: 'e3', userId: 'u', sessionId: 's', eventTime: 1_700_000_000_200, scenario: 'entrance', from: 'entrance', to: 'detail', itemId: null },
  { type: 'purchase', eventId: 'e4', userId: 'u', sessionId: 's', eventTime: 1_700_000_000_300, scenario: 'order', itemIds: ['b', 'c'] },
  { type: 'leave', eventId: 'e5', userId: 'u', sessionId: 's', eventTime: 1_700_000_000_400, scenario: 'order' },
];

test('user state round-trips through the changelog record, buffered events included', async () => {
  const wire = await codec();
  const state: UserState = {
    ...emptyUserState('u'),
    history: ['x', 'y'],
    session: {
      sessionId: 's', step: 3, lastActivity: 1_700_000_000_000,
      pending: { requestId: 'r', scenario: 'detail', items: ['a', 'b'], propensities: [0.5, 0.5], modelVersion: 9, shownAt: 1_699_999_999_000, next: 1 },
    },
    closedSessions: ['old'],
    recentIds: ['e1', 'e2'],
    buffer: events.map((event, i) => ({ event, source: i === 0 ? null : String(100 + i) })),
    maxEventTime: 1_700_000_000_400,
  };
  assert.deepEqual(decodeChangelog(wire, encodeUserState(wire, state)), { kind: 'user', state });
  const empty = emptyUserState('v');
  assert.deepEqual(decodeChangelog(wire, encodeUserState(wire, empty)), { kind: 'user', state: empty });
});

test('the partition position round-trips', async () => {
  const wire = await codec();
  const position = { nextOffset: '123456789012', streamTime: 1_700_000_000_000 };
  assert.deepEqual(decodeChangelog(wire, encodePosition(wire, position)), { kind: 'position', position });
});

test('events and transitions round-trip in the Confluent wire format', async () => {
  const wire = await codec();
  for (const e of events) assert.deepEqual(wire.decodeEvent(wire.encodeEvent(e)), e);
  const t: Transition = {
    userId: 'u', sessionId: 's', step: 0, scenario: 'entrance', state: [], action: 'a', behaviour: 'leave', reward: -2,
    nextState: [], nextScenario: null, terminal: true, eventTime: 1_700_000_000_000, modelVersion: null, propensity: null, position: 0,
  };
  const buf = wire.encodeTransition(t);
  assert.equal(buf[0], 0);
  assert.equal(buf.readInt32BE(1), wire.schemaId('transitions'));
  assert.deepEqual({ ...wire.decode<Transition>('transitions', buf) }, t);
});

test('undecodable records fail with the reason, never with a crash', async () => {
  const wire = await codec();
  assert.throws(() => wire.decodeEvent(null), { code: 'DECODE_FAILED', message: /no value/ });
  assert.throws(() => wire.decodeEvent(Buffer.from('hello')), { code: 'DECODE_FAILED', message: /Confluent wire format/ });
  const unknown = Buffer.from([0, 0, 0, 0, 99, 1, 2, 3]);
  await wire.prepare([unknown]);
  assert.throws(() => wire.decodeEvent(unknown), { code: 'DECODE_FAILED', message: /schema id 99/ });
  const truncated = wire.encodeEvent(events[0]!).subarray(0, 12);
  assert.throws(() => wire.decodeEvent(truncated), { code: 'DECODE_FAILED' });
});

test('configuration: paper defaults, and a wrong value names its variable', () => {
  const settings = settingsOf(loadSessionizerConfig({}));
  assert.equal(settings.historyLength, 50);
  assert.deepEqual(settings.rewards, { click: 1, skip: 0, leave: -2, purchase: 1 });
  assert.equal(settingsOf(loadSessionizerConfig({ SESSIONIZER_REWARD_LEAVE: '-5' })).rewards.leave, -5);
  assert.throws(() => loadSessionizerConfig({ HISTORY_LENGTH: '0', SESSIONIZER_GRACE_MS: 'soon' }), (err: Error) =>
    /HISTORY_LENGTH is invalid/.test(err.message) && /SESSIONIZER_GRACE_MS is invalid/.test(err.message));
});
