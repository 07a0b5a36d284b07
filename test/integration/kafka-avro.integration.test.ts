import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import kafkajs, { type Admin, type Kafka } from 'kafkajs';
import {
  AvroSerde, createKafka, createProducer, createSchemaRegistry, eventFromRecord, eventToRecord, provisionTopics, topicNames,
  transitionFromRecord, type EventRecord, type Transition, type UserEvent,
} from '../../services/common/index.js';
import { servers, testLogger, uniquePrefix } from '../support/servers.js';

const { ConfigResourceTypes } = kafkajs; // a CommonJS export Node cannot name statically
const prefix = uniquePrefix('avro');
const topics = topicNames(prefix);
let kafka: Kafka;
let admin: Admin;
let serde: AvroSerde;

before(async () => {
  kafka = createKafka({ brokers: servers.KAFKA_BROKERS, clientId: 'test-avro', logger: testLogger });
  admin = kafka.admin();
  await admin.connect();
  serde = new AvroSerde(createSchemaRegistry(servers.SCHEMA_REGISTRY_URL), topics);
});
after(async () => {
  await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
  await admin.disconnect();
});

test('topics are provisioned from the declared list, once, with their partitions and compaction', async () => {
  const first = await provisionTopics(admin, prefix);
  assert.deepEqual(first.created.sort(), Object.values(topics).sort());
  const second = await provisionTopics(admin, prefix);
  assert.deepEqual(second.created, []);
  assert.equal(second.existing.length, Object.values(topics).length);

  const meta = await admin.fetchTopicMetadata({ topics: [topics.events, topics.models] });
  assert.equal(meta.topics.find((t) => t.name === topics.events)!.partitions.length, 8);
  assert.equal(meta.topics.find((t) => t.name === topics.models)!.partitions.length, 1);
  const configs = await admin.describeConfigs({
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topics.models, configNames: ['cleanup.policy'] }],
    includeSynonyms: false,
  });
  assert.equal(configs.resources[0]!.configEntries[0]!.configValue, 'compact');
});

test('schemas are registered under <topic>-value with BACKWARD compatibility', async () => {
  await serde.registerAll();
  const again = new AvroSerde(serde.registry, topics);
  await again.registerAll();
  assert.equal(again.schemaId('events'), serde.schemaId('events'), 'registering the same schema twice gives the same id');
  const res = await fetch(`${servers.SCHEMA_REGISTRY_URL}/config/${encodeURIComponent(`${topics.events}-value`)}`);
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { compatibilityLevel: string }).compatibilityLevel, 'BACKWARD');
});

test('Avro events and transitions go through the real broker and come back equal', async () => {
  await serde.registerAll();
  const events: UserEvent[] = [
    { type: 'recommendation', eventId: 'e1', userId: 'u1', sessionId: 's1', eventTime: 1000, scenario: 'entrance', requestId: 'r1', items: ['a', 'b'], propensities: [1, 1], model: 'deepchain', modelVersion: 1 },
    { type: 'click', eventId: 'e2', userId: 'u1', sessionId: 's1', eventTime: 2000, scenario: 'entrance', requestId: 'r1', itemId: 'b', position: 1 },
  ];
  const transition: Transition = {
    userId: 'u1', sessionId: 's1', step: 0, scenario: 'entrance', state: [], action: 'a', behaviour: 'skip', reward: 0,
    nextState: [], nextScenario: 'entrance', terminal: false, eventTime: 2000, modelVersion: 1, propensity: 1, position: 0,
  };
  const producer = createProducer(kafka);
  await producer.connect();
  await producer.send({
    topic: topics.events,
    messages: await Promise.all(events.map(async (e) => ({ key: e.userId, value: await serde.encode('events', eventToRecord(e)) }))),
  });
  await producer.send({ topic: topics.transitions, messages: [{ key: 'u1', value: await serde.encode('transitions', transition) }] });
  await producer.disconnect();

  const received: { topic: string; key: string; value: Buffer }[] = [];
  const consumer = kafka.consumer({ groupId: `${prefix}reader` });
  await consumer.connect();
  await consumer.subscribe({ topics: [topics.events, topics.transitions], fromBeginning: true });
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ topic, message }) => {
        received.push({ topic, key: message.key!.toString(), value: message.value! });
        if (received.length === 3) resolve();
      },
    });
  });
  await done;
  await consumer.disconnect();

  const gotEvents = await Promise.all(
    received.filter((r) => r.topic === topics.events).map(async (r) => eventFromRecord(await serde.decode<EventRecord>(r.value))),
  );
  assert.deepEqual(gotEvents, events, 'same partition (key u1), so order is kept');
  const t = received.find((r) => r.topic === topics.transitions)!;
  assert.equal(t.value[0], 0, 'Confluent wire format: magic byte 0');
  assert.equal(t.value.readInt32BE(1), serde.schemaId('transitions'), 'then the registered schema id');
  assert.deepEqual(transitionFromRecord(await serde.decode<Transition>(t.value)), transition);
});

test('a record that does not match the schema is refused before it reaches Kafka', async () => {
  await serde.registerAll();
  await assert.rejects(serde.encode('transitions', { userId: 'u1' }), (err: Error & { code?: string }) => err.code === 'SCHEMA_INVALID');
  await assert.rejects(serde.decode(Buffer.from('not avro')), (err: Error & { code?: string }) => err.code === 'DECODE_FAILED');
});
