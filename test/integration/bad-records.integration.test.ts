/**
 * Issue "Bad input at every topic", on the real broker, schema registry and Postgres (no mocks): random
 * bytes and records written with a valid but wrong Avro schema (registered in the registry) on `events`,
 * `transitions` and `models`, and announcements on `models` whose weights blob in Postgres is malformed
 * (truncated, or a tensor of the wrong shape); on `transitions` also a transition built with a larger history
 * length N than the learner's (HISTORY_LENGTH differs between them). Each consumer answers every bad record with a clear reason
 * naming where it came from — the sessionizer and the learner dead-letter it (reason, source topic,
 * partition, offset, the original bytes), a serving node ignores it with a log line naming topic,
 * partition, offset and reason — and the good record written after them is processed as usual: the
 * sessionizer emits its transition, the learner counts it, a serving node's history takes it, and a
 * serving node keeps answering with its current version and then installs the good next one.
 *
 * The services run in this process, wired as their main.ts wires them, with loggers whose lines the test reads.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Consumer, Kafka } from 'kafkajs';
import { pino, type Logger } from 'pino';
import {
  AvroSerde, createKafka, createMetricsRegistry, createOpsServer, createSchemaRegistry, eventToRecord, METRICS, migratePool,
  topicNames, withSession, type DeadLetterRecord, type TopicNames, type Transition, type UserEvent,
} from '../../services/common/index.js';
import { Learner } from '../../services/learner/loop.js';
import { OnlineTrainer } from '../../services/learner/trainer.js';
import { DEFAULT_GATE } from '../../services/learner/validation.js';
import { decodeWeights, encodeWeights, selectBackend } from '../../services/model/index.js';
import { announcementOf, getVersion, insertVersion, registryRef } from '../../services/registry/index.js';
import { Sessionizer } from '../../services/sessionizer/loop.js';
import { createSessionizerMetrics } from '../../services/sessionizer/metrics.js';
import { DEFAULT_SETTINGS } from '../../services/sessionizer/state.js';
import { WireCodec } from '../../services/sessionizer/wire.js';
import { addServingRoutes } from '../../services/serving/app.js';
import { UserHistories } from '../../services/serving/history.js';
import { ModelSlot } from '../../services/serving/model-slot.js';
import { NO_EXPLORATION } from '../../services/serving/ranking.js';
import { ServingStreams } from '../../services/serving/streams.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { eventually } from '../support/processes.js';
import { deleteTestTopics, provisionTestTopics, servers, testLogger, uniquePrefix } from '../support/servers.js';
import { ENTRANCE_ITEMS, smallTrainer } from '../support/transitions.js';

const kafka: Kafka = createKafka({ brokers: servers.KAFKA_BROKERS, clientId: 'test-bad-records', logger: testLogger });
const registry = createSchemaRegistry(servers.SCHEMA_REGISTRY_URL);
let db: TestDatabase;
const prefixes: string[] = [];
const cleanup: (() => Promise<unknown>)[] = [];

before(async () => {
  await selectBackend({ prefer: 'cpu' });
  db = await createTestDatabase();
  await migratePool(db.pool);
});

after(async () => {
  // A consumer still joining its group can take long to disconnect: each step is given 15 s, then the next goes on.
  for (const c of cleanup.reverse()) {
    await Promise.race([c().catch(() => undefined), new Promise((r) => setTimeout(r, 15_000).unref())]);
  }
  for (const p of prefixes) await deleteTestTopics(kafka, p);
  await db.drop();
});

async function setup(name: string): Promise<{ prefix: string; topics: TopicNames; serde: AvroSerde }> {
  const prefix = uniquePrefix(`bad-records-${name}`);
  prefixes.push(prefix);
  await provisionTestTopics(kafka, prefix);
  const topics = topicNames(prefix);
  const serde = new AvroSerde(registry, topics);
  await serde.registerAll();
  return { prefix, topics, serde };
}

interface LogLine { level: number; msg: string; [field: string]: unknown }

/** A pino logger as createLogger makes one, whose JSON lines the test reads. */
function capturingLogger(name: string): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ name, level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { logger, lines };
}

/** Random bytes, never in the Confluent wire format (the first byte is not the magic 0). */
function randomRecord(): Buffer {
  return Buffer.concat([Buffer.from([0xff]), randomBytes(63)]);
}

/** A record in the wire format, written with a schema the registry holds that is no product schema at all. */
async function unrelatedRecord(prefix: string): Promise<Buffer> {
  const schema = {
    type: 'record', name: 'Unrelated', namespace: 'test.badrecords',
    fields: [{ name: 'userId', type: 'string' }, { name: 'note', type: 'string' }, { name: 'count', type: 'int' }],
  };
  const { id } = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject: `${prefix}unrelated-value` });
  return registry.encode(id, { userId: 'u-good', note: 'not a product record', count: 7 });
}

/** Produces one record and returns where it went. */
async function produce(topic: string, key: string, value: Buffer): Promise<{ partition: number; offset: string }> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    const [meta] = await producer.send({ topic, acks: -1, messages: [{ key, value }] });
    return { partition: meta!.partition, offset: meta!.baseOffset! };
  } finally {
    await producer.disconnect();
  }
}

/** Reads `topic` from the beginning, decoding each value with `decode`, into a list that grows as records come. */
async function collect<T>(topic: string, decode: (value: Buffer) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  const consumer: Consumer = kafka.consumer({ groupId: `${topic}.reader-${randomBytes(4).toString('hex')}`, maxWaitTimeInMs: 200, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => void out.push(await decode(message.value!)) });
  cleanup.push(() => consumer.disconnect());
  return out;
}

/** The dead letter of the record at `at` of `topic`, checked field for field against what was written there. */
function assertDeadLetter(
  letters: readonly DeadLetterRecord[], source: string, topic: string,
  at: { partition: number; offset: string }, value: Buffer, reason: RegExp, what: string,
): void {
  const letter = letters.find((l) => l.sourceTopic === topic && l.sourcePartition === at.partition && l.sourceOffset === at.offset);
  assert.ok(letter, `${what}: a dead letter names ${topic} partition ${at.partition} offset ${at.offset} (letters: ${JSON.stringify(letters.map((l) => [l.sourceTopic, l.sourcePartition, l.sourceOffset, l.reason]))})`);
  assert.equal(letter.source, source, `${what}: dead-lettered by the ${source}`);
  assert.match(letter.reason, reason, `${what}: the reason says why`);
  assert.deepEqual(letter.value, value, `${what}: the original bytes are kept`);
}

/** The log line that ignores the record at `at` of `topic`: it names topic, partition, offset and reason. */
function assertIgnoredLine(lines: readonly LogLine[], msg: RegExp, topic: string, at: { partition: number; offset: string }, reason: RegExp, what: string): void {
  const line = lines.find((l) => msg.test(l.msg) && l.offset === at.offset && l.partition === at.partition);
  assert.ok(line, `${what}: a log line '${msg.source}' names partition ${at.partition} and offset ${at.offset} (lines: ${JSON.stringify(lines.filter((l) => l.level >= 40))})`);
  assert.equal(line.topic, topic, `${what}: the log line names the topic`);
  assert.equal(typeof line.reason, 'string', `${what}: the log line gives a reason`);
  assert.match(line.reason as string, reason, `${what}: the reason says why`);
}

const goodTransition = (userId: string, nextState: string[]): Transition => ({
  userId, sessionId: 's-good', step: 0, scenario: 'entrance', state: nextState.slice(0, -1), action: nextState.at(-1)!,
  behaviour: 'click', reward: 1, nextState, nextScenario: 'detail', terminal: false, eventTime: Date.now(), modelVersion: 1,
  propensity: 0.2, position: 0,
});

test('events: random bytes and records of the wrong schema are dead-lettered with topic, partition, offset and reason; the good events after them make their transition', async () => {
  const { prefix, topics, serde } = await setup('events');
  const wire = new WireCodec(createSchemaRegistry(servers.SCHEMA_REGISTRY_URL), topics);
  await wire.register();
  const user = 'u-good'; // every record has this key: one partition, the good events behind the bad ones
  const random = randomRecord();
  const asTransition = await serde.encode('transitions', goodTransition(user, ['x'])); // a product schema, of another topic
  const unrelated = await unrelatedRecord(prefix);
  const at = {
    random: await produce(topics.events, user, random),
    transition: await produce(topics.events, user, asTransition),
    unrelated: await produce(topics.events, user, unrelated),
  };
  const t0 = Date.now() - 60_000;
  const base = { userId: user, sessionId: 's1', scenario: 'entrance' as const };
  const good: UserEvent[] = [
    { ...base, eventId: 'r1', eventTime: t0, type: 'recommendation', requestId: 'req-1', items: ['a', 'b', 'c'], propensities: [], model: 'deepchain', modelVersion: 1 },
    { ...base, eventId: 'c1', eventTime: t0 + 100, type: 'click', requestId: 'req-1', itemId: 'b', position: 1 },
  ];
  for (const e of good) await produce(topics.events, user, wire.encodeEvent(e));

  const admin = kafka.admin();
  await admin.connect();
  cleanup.push(() => admin.disconnect());
  const sessionizer = new Sessionizer({
    kafka, admin, wire, topics, logger: testLogger,
    settings: { ...DEFAULT_SETTINGS, graceMs: 1_000, sessionTimeoutMs: 600_000, waitWindowMs: 600_000 },
    metrics: createSessionizerMetrics(createMetricsRegistry('test')),
    groupId: `${prefix}sessionizer`, instanceId: 'one', tickMs: 200, transactionTimeoutMs: 10_000, sessionTimeoutMs: 6_000,
    maxBytesPerPartition: 1024 * 1024, maxBytes: 10 * 1024 * 1024,
    onFatal: (err) => { throw err; },
  });
  cleanup.push(() => sessionizer.stop());
  await sessionizer.start();

  const letters = await collect(topics.deadLetters, (v) => serde.decode<DeadLetterRecord>(v));
  const transitions = await collect(topics.transitions, (v) => serde.decode<Transition>(v));
  await eventually(async () => (transitions.some((t) => t.userId === user) ? true : undefined), 30_000, 'the good events\' transition');
  await eventually(async () => (letters.length >= 3 ? true : undefined), 10_000, '3 dead letters');
  assertDeadLetter(letters, 'sessionizer', topics.events, at.random, random, /not in the Confluent wire format/, 'random bytes');
  assertDeadLetter(letters, 'sessionizer', topics.events, at.transition, asTransition, /schema id \d+ cannot be read as/, 'a transition on events');
  assertDeadLetter(letters, 'sessionizer', topics.events, at.unrelated, unrelated, /schema id \d+ cannot be read as/, 'an unrelated record on events');
  assert.equal(letters.length, 3, 'nothing else is dead-lettered');
  const made = transitions.filter((t) => t.userId === user);
  // The click on b at position 1: a skip of a above it, then the click (as without the bad records).
  assert.deepEqual(made.map((t) => [t.action, t.behaviour, t.nextState]), [['a', 'skip', []], ['b', 'click', ['b']]], 'the good events make their transitions');
});

test('transitions: random bytes, records of the wrong schema and a transition of a larger N are dead-lettered by the learner and logged with topic, partition, offset and reason by a serving node\'s history; the good transitions after them are counted and applied', async () => {
  const { prefix, topics, serde } = await setup('transitions');
  const user = 'u-good';
  const random = randomRecord();
  const asEvent = await serde.encode('events', eventToRecord({
    userId: user, sessionId: 's1', scenario: 'entrance', eventId: 'c1', eventTime: Date.now(), type: 'click', requestId: 'req-1', itemId: 'b', position: 1,
  }));
  const unrelated = await unrelatedRecord(prefix);
  // A valid transition built with a larger N than the learner's 10 (HISTORY_LENGTH differs): the learner's to refuse.
  const longer = await serde.encode('transitions', goodTransition(user, Array.from({ length: 20 }, (_, i) => `h${i}`)));
  const at = {
    random: await produce(topics.transitions, user, random),
    event: await produce(topics.transitions, user, asEvent),
    unrelated: await produce(topics.transitions, user, unrelated),
    longer: await produce(topics.transitions, user, longer),
  };
  const good = goodTransition(user, ['e1', 'e2']);
  await produce(topics.transitions, user, await serde.encode('transitions', good));

  // The learner, as main.ts wires it; it never trains here (TRAIN_START above what it reads).
  const learnerLog = capturingLogger('learner');
  const learnerMetrics = createMetricsRegistry('learner');
  const newTrainer = () => new OnlineTrainer({
    model: { scenarios: ['entrance', 'detail'], embeddingSize: 8, hiddenSize: 8, historyLength: 10 },
    replayCapacity: 1000, batchSize: 16, trainStart: 1000, holdoutEvery: 1000, holdoutSize: 100, embeddingRefreshSteps: 50, seed: 1,
  });
  const trainer = newTrainer();
  const learner = new Learner({
    model: `bad-records-${prefix.slice(-9, -1)}`, trainer, kafka, serde, pool: db.pool, topics, logger: learnerLog.logger, metrics: learnerMetrics,
    rules: { everySteps: 1_000_000, everyMs: 3_600_000, maxLoss: 1e4, gate: DEFAULT_GATE },
    checkpointEverySteps: 1_000_000, checkpointEveryMs: 3_600_000, refillPerPartition: 1000, maxRestores: 3,
  });
  let failed: Error | null = null;
  void learner.failed.then((err) => { failed = err; });
  cleanup.push(() => learner.stop());
  await learner.start();

  // A serving node's streams, as main.ts wires them.
  const servingLog = capturingLogger('serving');
  const histories = new UserHistories(10, 1000);
  const streams = new ServingStreams({
    nodeId: 'bad-records', kafka, serde, pool: db.pool, topics, slot: new ModelSlot('deepchain'), histories, historyLookbackMs: null,
    logger: servingLog.logger, metrics: createMetricsRegistry('serving'),
  });
  cleanup.push(() => streams.stop());
  await streams.start();

  const transitionsRead = async (outcome: string) =>
    (await learnerMetrics.getSingleMetric(METRICS.learner.transitions.name)!.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
  await eventually(async () => ((await transitionsRead('accepted')) + (await transitionsRead('held_out')) >= 1 ? true : undefined), 30_000,
    'the learner to count the good transition');
  await eventually(async () => (histories.get(user).join() === 'e1,e2' ? true : undefined), 30_000,
    `the serving node's history of ${user} to become e1,e2 (it is ${histories.get(user).join()})`);

  // The learner: four dead letters, one per bad record, and the good transition counted.
  const letters = await collect(topics.deadLetters, (v) => serde.decode<DeadLetterRecord>(v));
  await eventually(async () => (letters.length >= 4 ? true : undefined), 10_000, '4 dead letters');
  assertDeadLetter(letters, 'learner', topics.transitions, at.random, random, /could not be decoded/, 'random bytes');
  assertDeadLetter(letters, 'learner', topics.transitions, at.event, asEvent, /not a transition/, 'an event on transitions');
  assertDeadLetter(letters, 'learner', topics.transitions, at.unrelated, unrelated, /not a transition/, 'an unrelated record on transitions');
  assertDeadLetter(letters, 'learner', topics.transitions, at.longer, longer,
    /its nextState holds 20 items, more than the learner's history length 10.*HISTORY_LENGTH/, 'a transition built with a larger N');
  assert.equal(letters.length, 4, 'nothing else is dead-lettered');
  assert.equal(await transitionsRead('undecodable') + await transitionsRead('rejected'), 4, 'the learner counts the four bad records');
  assert.equal(await transitionsRead('accepted') + await transitionsRead('held_out'), 1, 'and takes the good one');
  assert.equal(failed, null, 'the learner goes on');

  // The serving node: each bad record ignored with a line naming topic, partition, offset and reason.
  const skipped = /transition skipped for history/;
  assertIgnoredLine(servingLog.lines, skipped, topics.transitions, at.random, /magic byte|wire format|unknown/i, 'random bytes');
  assertIgnoredLine(servingLog.lines, skipped, topics.transitions, at.event, /not a transition/, 'an event on transitions');
  assertIgnoredLine(servingLog.lines, skipped, topics.transitions, at.unrelated, /not a transition/, 'an unrelated record on transitions');
  // A longer state is no bad record to a node: it keeps its own last N items of it (history.ts).
  assert.equal(servingLog.lines.filter((l) => skipped.test(l.msg)).length, 3, 'only the undecodable records are skipped');
  assert.equal(histories.size, 1, 'no history was made of a bad record');

  // A learner started again before any checkpoint reads the same records again: it counts the bad ones again,
  // and writes none of their letters a second time (the dead-letter marks, learner/checkpoints.ts).
  await learner.stop();
  const againMetrics = createMetricsRegistry('learner');
  const again = new Learner({
    model: `bad-records-${prefix.slice(-9, -1)}`, trainer: newTrainer(), kafka, serde, pool: db.pool, topics, logger: learnerLog.logger,
    metrics: againMetrics, rules: { everySteps: 1_000_000, everyMs: 3_600_000, maxLoss: 1e4, gate: DEFAULT_GATE },
    checkpointEverySteps: 1_000_000, checkpointEveryMs: 3_600_000, refillPerPartition: 1000, maxRestores: 3,
  });
  cleanup.push(() => again.stop());
  await again.start();
  const readAgain = async (outcome: string) =>
    (await againMetrics.getSingleMetric(METRICS.learner.transitions.name)!.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
  await eventually(async () => ((await readAgain('undecodable')) + (await readAgain('rejected')) >= 4 && (await readAgain('accepted')) + (await readAgain('held_out')) >= 1
    ? true : undefined), 30_000, 'the restarted learner to read the five records again');
  await new Promise((r) => setTimeout(r, 1_000)); // a letter written again would have reached the reader by now
  assert.equal(letters.length, 4, 'no dead letter is written twice after a restart');
});

test('models: random bytes, records of the wrong schema and announcements of malformed weights are ignored with topic, partition, offset and reason; the node keeps answering with its version, then installs the good next one', async () => {
  const { prefix, topics, serde } = await setup('models');
  const model = `bad-records-${prefix.slice(-9, -1)}`;
  const trainer = smallTrainer();
  const first = trainer.publishableWeights();
  trainer.step();
  const next = trainer.publishableWeights();
  // Malformed blobs as the registry could hold them: cut short, and one tensor of the wrong shape.
  const truncated = next.slice(0, Math.floor(next.byteLength / 2));
  const snapshot = decodeWeights(next);
  const victim = snapshot.tensors.findIndex((t) => t.shape.length === 2 && t.shape[0] !== t.shape[1]);
  const wrongShape = encodeWeights({
    ...snapshot,
    tensors: snapshot.tensors.map((t, i) => (i === victim ? { ...t, shape: [t.shape[1]!, t.shape[0]!] } : t)),
  });
  const store = (weights: Uint8Array) => withSession(db.pool, (s) => insertVersion(s, {
    model, trainSteps: 1, transitionsSeen: 1, sourceOffsets: {}, metrics: {}, weights, status: 'candidate',
  }));
  const versions = { first: await store(first), truncated: await store(truncated), wrongShape: await store(wrongShape), next: await store(next) };
  // Announced by reference, as versions above INLINE_WEIGHTS_LIMIT are: the node fetches the blob from Postgres.
  const byRef = async (version: number) => {
    const v = (await withSession(db.pool, (s) => getVersion(s, model, version)))!;
    return serde.encode('models', { ...announcementOf(v, false), weights: null, registryRef: registryRef(model, version) });
  };

  const servingLog = capturingLogger('serving');
  const slot = new ModelSlot(model);
  const histories = new UserHistories(10, 1000);
  const streams = new ServingStreams({
    nodeId: 'bad-records', kafka, serde, pool: db.pool, topics, slot, histories, historyLookbackMs: null,
    logger: servingLog.logger, metrics: createMetricsRegistry('serving'),
  });
  cleanup.push(() => streams.stop());
  await streams.start();
  const app = createOpsServer({ logger: servingLog.logger, metrics: createMetricsRegistry('serving-app') });
  addServingRoutes(app, {
    slot, histories, metrics: createMetricsRegistry('serving-routes'), maxK: 10, maxCandidates: 10,
    options: { recallSize: 6, recallSeeds: 2, exploration: NO_EXPLORATION }, logEvent: () => undefined,
  });
  cleanup.push(() => app.close());
  const answeredVersion = async () => {
    const res = await app.inject({ method: 'POST', url: '/v1/recommend', payload: { userId: 'u1', sessionId: 's1', scenario: 'entrance', k: 2, candidates: ENTRANCE_ITEMS } });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { version: number; items: unknown[] };
    assert.equal(body.items.length, 2);
    return body.version;
  };

  await produce(topics.models, model, await byRef(versions.first.version));
  await eventually(async () => (slot.current?.version === versions.first.version ? true : undefined), 30_000, 'the first version to be installed');
  assert.equal(await answeredVersion(), versions.first.version);

  const random = randomRecord();
  const asTransition = await serde.encode('transitions', goodTransition('u1', ['e1']));
  const unrelated = await unrelatedRecord(prefix);
  const at = {
    random: await produce(topics.models, model, random),
    transition: await produce(topics.models, model, asTransition),
    unrelated: await produce(topics.models, model, unrelated),
    truncated: await produce(topics.models, model, await byRef(versions.truncated.version)),
    wrongShape: await produce(topics.models, model, await byRef(versions.wrongShape.version)),
  };
  const ignored = /ignored|rejected/;
  await eventually(async () => (servingLog.lines.some((l) => ignored.test(l.msg) && l.offset === at.wrongShape.offset) ? true : undefined), 30_000,
    'the last bad announcement to be handled').catch((err: Error) => assert.fail(`${err.message}; the node logged ${JSON.stringify(servingLog.lines.filter((l) => l.level >= 30))}`));
  assert.equal(slot.current?.version, versions.first.version, 'the node keeps its version');
  assert.equal(await answeredVersion(), versions.first.version, 'and keeps answering with it');
  assertIgnoredLine(servingLog.lines, ignored, topics.models, at.random, /magic byte|wire format|unknown/i, 'random bytes');
  assertIgnoredLine(servingLog.lines, ignored, topics.models, at.transition, /not a model announcement/, 'a transition on models');
  assertIgnoredLine(servingLog.lines, ignored, topics.models, at.unrelated, /not a model announcement/, 'an unrelated record on models');
  assertIgnoredLine(servingLog.lines, ignored, topics.models, at.truncated, /sha256 of the payload|past the end/, 'truncated weights');
  assertIgnoredLine(servingLog.lines, ignored, topics.models, at.wrongShape, /shape/, 'weights of the wrong shape');

  await produce(topics.models, model, await byRef(versions.next.version));
  await eventually(async () => (slot.current?.version === versions.next.version ? true : undefined), 30_000, 'the good next version to be installed');
  assert.equal(await answeredVersion(), versions.next.version, 'the node answers with the good next version');
  assert.equal(servingLog.lines.filter((l) => ignored.test(l.msg)).length, 5, 'only the bad records were ignored');
});
