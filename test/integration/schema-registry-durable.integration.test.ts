import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import avro from 'avsc';
import type { Kafka } from 'kafkajs';
import {
  AvroSerde, createKafka, createProducer, createSchemaRegistry, eventToRecord, readSchema, registerValueSchema, topicNames,
  type UserEvent,
} from '../../services/common/index.js';
import { POSITION_KEY } from '../../services/sessionizer/changelog-codec.js';
import { DEFAULT_SETTINGS, emptyUserState } from '../../services/sessionizer/state.js';
import { StateStore } from '../../services/sessionizer/store.js';
import { WireCodec } from '../../services/sessionizer/wire.js';
import { idsUnder, ownRegistry, type OwnRegistry } from '../chaos/registry.js';
import { deleteTestTopics, provisionTestTopics, servers, testLogger, uniquePrefix } from '../support/servers.js';

// A registry of this file's own (deploy/infra.sh on a free port, SQL storage in a fresh database): schema
// ids survive its restart. And the sessionizer restores changelog records written with older schemas.

let registry: OwnRegistry;
let kafka: Kafka;
const prefixes: string[] = [];

before(async () => {
  registry = await ownRegistry('test');
  kafka = createKafka({ brokers: servers.KAFKA_BROKERS, clientId: 'test-registry-durable', logger: testLogger });
});
after(async () => {
  for (const p of prefixes) await deleteTestTopics(kafka, p);
  await registry.dispose(); // stops it and drops its database, also when a test failed
});

const click: UserEvent = {
  type: 'click', eventId: 'e1', userId: 'u1', sessionId: 's1', eventTime: 1_700_000_000_000, scenario: 'entrance', requestId: 'r1', itemId: 'i1', position: 2,
};

test('a restarted registry hands out the same schema ids, and records encoded before decode after', async () => {
  await registry.start();
  const prefix = uniquePrefix('registry-durable');
  const topics = topicNames(prefix);
  const serde = new AvroSerde(createSchemaRegistry(registry.url), topics);
  await serde.registerAll();
  const wire = new WireCodec(createSchemaRegistry(registry.url), topics);
  await wire.register();
  const before = await idsUnder(registry.url, prefix);
  assert.equal(before.size, 5, `every product schema is registered: ${[...before.keys()].join(', ')}`);
  const encoded = await serde.encode('events', eventToRecord(click));

  await registry.stop();
  await registry.start();

  assert.deepEqual(await idsUnder(registry.url, prefix), before, 'the same subjects, versions and ids');
  for (const [subject, id] of before) {
    const res = await fetch(`${registry.url}/schemas/ids/${id}`);
    assert.equal(res.status, 200, `${subject}: id ${id} is known after the restart`);
  }
  // Registering again (what every service does at start) gives the ids back, and a fresh client decodes.
  const again = new AvroSerde(createSchemaRegistry(registry.url), topics);
  await again.registerAll();
  assert.equal(again.schemaId('events'), serde.schemaId('events'));
  const fresh = new WireCodec(createSchemaRegistry(registry.url), topics);
  await fresh.register();
  assert.equal(fresh.schemaId('sessionizerState'), wire.schemaId('sessionizerState'));
  await fresh.prepare([encoded]);
  assert.deepEqual(fresh.decodeEvent(encoded), click);
});

type Field = { name: string; type: unknown; default?: unknown };
type RecordSchema = { type: 'record'; name: string; fields: Field[] } & Record<string, unknown>;

test('the sessionizer restores changelog records written with an older changelog schema', async () => {
  const registryClient = createSchemaRegistry(servers.SCHEMA_REGISTRY_URL);
  const prefix = uniquePrefix('changelog-older');
  prefixes.push(prefix);
  const topics = topicNames(prefix);
  await provisionTestTopics(kafka, prefix);

  // An earlier release's changelog schema: no `session` in UserState yet (it came with default null), an
  // `epoch` in PartitionPosition (dropped since). Registered first, as that release did; then the current one.
  const current = JSON.parse(readSchema('sessionizer-state')) as RecordSchema;
  const [user, position] = current.fields[0]!.type as RecordSchema[];
  const older = JSON.stringify({
    ...current,
    fields: [{ name: 'entry', type: [{ ...user, fields: user!.fields.filter((f) => f.name !== 'session') }, { ...position, fields: [...position!.fields, { name: 'epoch', type: 'int' }] }] }],
  });
  const olderId = await registerValueSchema(registryClient, topics.sessionizerState, older);
  // A newer producer's events schema (one more optional field); the event buffered in the state uses it.
  const newerEvent = JSON.stringify({ ...(JSON.parse(readSchema('event')) as RecordSchema), fields: [...(JSON.parse(readSchema('event')) as RecordSchema).fields, { name: 'referrer', type: ['null', 'string'], default: null }] });
  const wire = new WireCodec(registryClient, topics);
  await wire.register();
  const newerEventId = await registerValueSchema(registryClient, topics.events, newerEvent);
  assert.notEqual(olderId, wire.schemaId('sessionizerState'));

  const framed = (id: number, schema: string, value: unknown) => {
    const header = Buffer.alloc(5);
    header.writeInt32BE(id, 1);
    return Buffer.concat([header, avro.Type.forSchema(JSON.parse(schema)).toBuffer(value)]);
  };
  const event = framed(newerEventId, newerEvent, { ...eventToRecord(click), referrer: 'mail' });
  const { session: _session, ...withoutSession } = { ...emptyUserState('u1'), history: ['i0'], recentIds: ['e1'], maxEventTime: click.eventTime };
  const producer = createProducer(kafka);
  await producer.connect();
  await producer.send({
    topic: topics.sessionizerState,
    messages: [
      { key: 'u1', partition: 0, value: framed(olderId, older, { entry: { 'deepchain.sessionizer.UserState': { ...withoutSession, buffer: [{ source: '7', event }] } } }) },
      { key: POSITION_KEY, partition: 0, value: framed(olderId, older, { entry: { 'deepchain.sessionizer.PartitionPosition': { nextOffset: '8', streamTime: click.eventTime, epoch: 1 } } }) },
    ],
  });
  await producer.disconnect();

  // A sessionizer that has only its current schemas restores the partition in one go.
  const admin = kafka.admin();
  await admin.connect();
  try {
    const restoring = new WireCodec(createSchemaRegistry(servers.SCHEMA_REGISTRY_URL), topics);
    await restoring.register();
    const store = new StateStore({ kafka, admin, wire: restoring, topic: topics.sessionizerState, logger: testLogger, groupIdPrefix: prefix, timeoutMs: 60_000, settings: DEFAULT_SETTINGS });
    store.assign([0]);
    let restores = 0;
    const ps = await store.ensureRestored(0, async () => undefined, () => { restores++; });
    assert.equal(restores, 1);
    assert.equal(ps.nextOffset, '8');
    assert.equal(ps.streamTime, click.eventTime);
    assert.deepEqual(ps.get('u1'), { ...emptyUserState('u1'), history: ['i0'], recentIds: ['e1'], maxEventTime: click.eventTime, buffer: [{ source: '7', event: click }] });
  } finally {
    await admin.disconnect();
  }
});
