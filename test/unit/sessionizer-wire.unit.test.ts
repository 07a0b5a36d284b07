import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { eventToRecord, readSchema, registryUnavailable, topicNames, type UserEvent } from '../../services/common/index.js';
import { bufferedEventBytes, decodeChangelog } from '../../services/sessionizer/changelog-codec.js';
import { emptyUserState, type UserState } from '../../services/sessionizer/state.js';
import { WireCodec } from '../../services/sessionizer/wire.js';

// How the sessionizer reads records written with schemas other than its current ones (older changelog
// schemas, newer event schemas), against an in-memory registry that answers like a real one.

type Field = { name: string; type: unknown; default?: unknown };
type RecordSchema = { type: 'record'; name: string; fields: Field[] } & Record<string, unknown>;

/**
 * Schemas by id; getSchema answers 404 for unknown ids and, while `down`, fails as the real client does for a
 * registry it cannot reach (status 400, ECONNREFUSED) or one that fails (503).
 */
function fakeRegistry() {
  const schemas: string[] = [];
  const fetched: number[] = [];
  const state = { down: null as null | 'unreachable' | 'failing' };
  const idOf = (schema: string) => {
    const i = schemas.indexOf(schema);
    return i >= 0 ? i + 1 : schemas.push(schema);
  };
  const registry = {
    register: async ({ schema }: { schema: string }) => ({ id: idOf(schema) }),
    getSchema: async (id: number) => {
      fetched.push(id);
      if (state.down === 'unreachable') throw Object.assign(new Error('Error, status 400: connect ECONNREFUSED 127.0.0.1:8081'), { status: 400 });
      if (state.down === 'failing') throw Object.assign(new Error('Service Unavailable'), { status: 503 });
      const text = schemas[id - 1];
      if (text === undefined) throw Object.assign(new Error(`schema ${id} not found`), { status: 404 });
      return avro.Type.forSchema(JSON.parse(text));
    },
  } as unknown as SchemaRegistry;
  return { registry, idOf, fetched, state };
}

/** `value` in the Confluent wire format, written with `schema` under `id`. */
function framed(id: number, schema: string, value: unknown): Buffer {
  const header = Buffer.alloc(5);
  header.writeInt32BE(id, 1);
  return Buffer.concat([header, avro.Type.forSchema(JSON.parse(schema)).toBuffer(value)]);
}

/**
 * An older changelog schema the current one reads (BACKWARD): UserState had no `session` yet (it came later
 * with default null) and PartitionPosition carried an `epoch` field that was dropped since.
 */
function olderChangelogSchema(): string {
  const current = JSON.parse(readSchema('sessionizer-state')) as RecordSchema;
  const [user, position] = current.fields[0]!.type as RecordSchema[];
  return JSON.stringify({
    ...current,
    fields: [{
      name: 'entry',
      type: [
        { ...user, fields: user!.fields.filter((f) => f.name !== 'session') },
        { ...position, fields: [...position!.fields, { name: 'epoch', type: 'int' }] },
      ],
    }],
  });
}

/** A newer event schema: one more optional field. */
function newerEventSchema(): string {
  const current = JSON.parse(readSchema('event')) as RecordSchema;
  return JSON.stringify({ ...current, fields: [...current.fields, { name: 'referrer', type: ['null', 'string'], default: null }] });
}

const click: UserEvent = {
  type: 'click', eventId: 'e2', userId: 'u', sessionId: 's', eventTime: 1_700_000_000_100, scenario: 'entrance', requestId: 'r', itemId: 'b', position: 1,
};
const USER = 'deepchain.sessionizer.UserState';
const POSITION = 'deepchain.sessionizer.PartitionPosition';

async function codec(fake: ReturnType<typeof fakeRegistry>): Promise<WireCodec> {
  const wire = new WireCodec(fake.registry, topicNames('t.'));
  await wire.register();
  return wire;
}

test('a changelog record written with an older schema, holding an event of a newer schema, decodes after one prepare', async () => {
  const fake = fakeRegistry();
  const older = olderChangelogSchema();
  const olderId = fake.idOf(older); // registered before the current schemas, as an earlier release did
  const wire = await codec(fake);
  const newerEventId = fake.idOf(newerEventSchema());
  assert.notEqual(olderId, wire.schemaId('sessionizerState'));

  const event = framed(newerEventId, newerEventSchema(), { ...eventToRecord(click), referrer: 'mail' });
  const { session: _session, ...withoutSession } = { ...emptyUserState('u'), history: ['a'], recentIds: ['e2'], maxEventTime: click.eventTime };
  const userRecord = framed(olderId, older, { entry: { [USER]: { ...withoutSession, buffer: [{ source: '41', event }] } } });
  const positionRecord = framed(olderId, older, { entry: { [POSITION]: { nextOffset: '42', streamTime: 1_700_000_000_000, epoch: 3 } } });

  assert.throws(() => decodeChangelog(wire, userRecord), {
    code: 'DECODE_FAILED', message: new RegExp(`t\\.sessionizer-state-changelog: schema id ${olderId} has not been fetched`),
  });
  // The restore's fallback (store.ts): one prepare fetches the changelog's schema, then the event's.
  await wire.prepare(bufferedEventBytes(wire, userRecord));
  assert.deepEqual(fake.fetched, [olderId, newerEventId]);

  const expected: UserState = { ...emptyUserState('u'), history: ['a'], recentIds: ['e2'], maxEventTime: click.eventTime, buffer: [{ source: '41', event: click }] };
  assert.deepEqual(decodeChangelog(wire, userRecord), { kind: 'user', state: expected });
  assert.deepEqual(decodeChangelog(wire, positionRecord), { kind: 'position', position: { nextOffset: '42', streamTime: 1_700_000_000_000 } });
  await wire.prepare(bufferedEventBytes(wire, positionRecord));
  assert.deepEqual(fake.fetched, [olderId, newerEventId], 'each writer schema is fetched once');
});

test('records in the current schemas need no registry call', async () => {
  const fake = fakeRegistry();
  const wire = await codec(fake);
  const state: UserState = { ...emptyUserState('u'), buffer: [{ source: null, event: click }] };
  const record = wire.encode('sessionizerState', { entry: { [USER]: { ...state, buffer: [{ source: null, event: wire.encodeEvent(click) }] } } });
  await wire.prepare(bufferedEventBytes(wire, record));
  assert.deepEqual(decodeChangelog(wire, record), { kind: 'user', state });
  assert.deepEqual(fake.fetched, []);
});

test('an id the registry does not know fails with DECODE_FAILED naming the topic and the id', async () => {
  const fake = fakeRegistry();
  const wire = await codec(fake);
  const record = wire.encode('sessionizerState', { entry: { [POSITION]: { nextOffset: '1', streamTime: 0 } } });
  record.writeInt32BE(77, 1);
  await wire.prepare(bufferedEventBytes(wire, record));
  assert.throws(() => decodeChangelog(wire, record), (err: Error & { code?: string; retriable?: boolean }) => {
    assert.equal(err.code, 'DECODE_FAILED');
    assert.equal(err.retriable, false);
    assert.match(err.message, /t\.sessionizer-state-changelog: schema id 77 is not a schema the registry knows/);
    return true;
  });
  const event = wire.encodeEvent(click);
  event.writeInt32BE(77, 1);
  assert.throws(() => wire.decodeEvent(event), { code: 'DECODE_FAILED', message: /schema id 77 is not an event schema the registry knows/ });
});

test('a registry that cannot be reached or fails is retriable, and nothing is remembered from it', async () => {
  for (const down of ['unreachable', 'failing'] as const) {
    const fake = fakeRegistry();
    const wire = await codec(fake);
    const newerEventId = fake.idOf(newerEventSchema());
    const event = framed(newerEventId, newerEventSchema(), { ...eventToRecord(click), referrer: null });
    fake.state.down = down;
    await assert.rejects(wire.prepare([event]), { code: 'REGISTRY_UNAVAILABLE', retriable: true }, down);
    fake.state.down = null;
    await wire.prepare([event]);
    assert.deepEqual(wire.decodeEvent(event), click, `${down}: the event decodes once the registry answers`);
  }
});

test("a record framed with another topic's schema id is undecodable, not a registry outage", async () => {
  const fake = fakeRegistry();
  const wire = await codec(fake);
  const transitionId = wire.schemaId('transitions');
  const event = wire.encodeEvent(click);
  event.writeInt32BE(transitionId, 1);
  await wire.prepare([event]);
  assert.throws(() => wire.decodeEvent(event), { code: 'DECODE_FAILED', message: new RegExp(`schema id ${transitionId} cannot be read as t\\.events`) });
  const position = wire.encode('sessionizerState', { entry: { [POSITION]: { nextOffset: '1', streamTime: 0 } } });
  position.writeInt32BE(transitionId, 1);
  assert.throws(() => decodeChangelog(wire, position), { code: 'DECODE_FAILED', message: /cannot be read as t\.sessionizer-state-changelog/ });
  assert.deepEqual(fake.fetched, [], 'the ids registered at start are known without a fetch');
});

test('registryUnavailable: only the registry\'s 404 is an answer about a schema; an unreachable registry is retried', () => {
  assert.equal(registryUnavailable(Object.assign(new Error('Error, status 400: connect ECONNREFUSED 127.0.0.1:8081'), { status: 400 })), true);
  assert.equal(registryUnavailable(Object.assign(new Error('Service Unavailable'), { status: 503 })), true);
  assert.equal(registryUnavailable(Object.assign(new Error("No content with ID '9' was found."), { status: 404 })), false);
  assert.equal(registryUnavailable(new Error('invalid union index')), false, 'a decoding error is not the registry');
});
