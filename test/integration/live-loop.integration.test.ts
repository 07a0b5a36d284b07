/**
 * Issue 5 end to end on the real broker, registry and Postgres: transitions → learner process → registry
 * → `models` topic → two serving node processes; a corrupted announcement; a learner killed with kill -9
 * and restarted; a pin reaching every node; transitions the learner cannot use, dead-lettered with their
 * reason and source offset.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import {
  AvroSerde, createKafka, createProducer, createSchemaRegistry, migratePool, topicNames, withSession, type DeadLetterRecord,
} from '../../services/common/index.js';
import { currentDeployments, listVersions } from '../../services/registry/index.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { eventually, freePort, startService, type ServiceProcess } from '../support/processes.js';
import { deleteTestTopics, provisionTestTopics, servers, testLogger, uniquePrefix } from '../support/servers.js';
import { ENTRANCE_ITEMS, syntheticTransitions } from '../support/transitions.js';

const prefix = uniquePrefix('live');
const topics = topicNames(prefix);
const kafka = createKafka({ brokers: servers.KAFKA_BROKERS, clientId: 'test-live', logger: testLogger });
const serde = new AvroSerde(createSchemaRegistry(servers.SCHEMA_REGISTRY_URL), topics);
let db: TestDatabase;
let learner: ServiceProcess;
let learnerPort = 0;
const nodes: { proc: ServiceProcess; port: number; id: string }[] = [];

const learnerEnv = () => ({
  DATABASE_URL: db.url, TOPIC_PREFIX: prefix, LEARNER_SCENARIOS: 'entrance,detail',
  EMBEDDING_SIZE: '8', HIDDEN_SIZE: '16', HISTORY_LENGTH: '10', BATCH_SIZE: '32', TRAIN_START: '64',
  REPLAY_CAPACITY: '20000', PUBLISH_EVERY_STEPS: '15', PUBLISH_EVERY_S: '2', CHECKPOINT_EVERY_STEPS: '10',
  CHECKPOINT_EVERY_S: '1', HOLDOUT_EVERY: '5', HTTP_PORT: String(learnerPort),
});

async function versionOf(port: number): Promise<number | undefined> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/version`);
  if (res.status !== 200) return undefined;
  return ((await res.json()) as { version: number }).version;
}

async function produceTransitions(sessions: number, seed: number): Promise<number> {
  const producer = createProducer(kafka);
  await producer.connect();
  const ts = syntheticTransitions(sessions, seed);
  await producer.send({
    topic: topics.transitions,
    messages: await Promise.all(ts.map(async (t) => ({ key: t.userId, value: await serde.encode('transitions', t) }))),
  });
  await producer.disconnect();
  return ts.length;
}

/** Records the learner must refuse, each sent alone so its partition and offset are known. */
async function produceUnusable(): Promise<{ what: string; key: string; value: Buffer; partition: number; offset: string }[]> {
  const producer = createProducer(kafka);
  await producer.connect();
  const t = syntheticTransitions(1, 3)[0]!;
  const records = [
    // The learner models entrance and detail only (LEARNER_SCENARIOS): TransitionRejected.
    { what: 'rejected', key: 'u-cart', value: await serde.encode('transitions', { ...t, userId: 'u-cart', scenario: 'cart' }) },
    { what: 'undecodable', key: 'u-torn', value: Buffer.from('not avro at all') },
  ];
  const sent = [];
  for (const r of records) {
    const [meta] = await producer.send({ topic: topics.transitions, messages: [{ key: r.key, value: r.value }] });
    sent.push({ ...r, partition: meta!.partition, offset: meta!.baseOffset! });
  }
  await producer.disconnect();
  return sent;
}

let unusable: Awaited<ReturnType<typeof produceUnusable>> = [];

const registryVersions = () => withSession(db.pool, (s) => listVersions(s, 'deepchain', 1000));

before(async () => {
  db = await createTestDatabase();
  await migratePool(db.pool);
  await provisionTestTopics(kafka, prefix);
  await serde.registerAll();
  await produceTransitions(400, 1);
  unusable = await produceUnusable();
  learnerPort = await freePort();
  learner = startService('learner', learnerEnv());
  for (const id of ['node-a', 'node-b']) {
    const port = await freePort();
    nodes.push({ id, port, proc: startService('serving', { DATABASE_URL: db.url, TOPIC_PREFIX: prefix, HTTP_PORT: String(port), SERVING_NODE_ID: id }) });
  }
});

after(async () => {
  await Promise.all([learner, ...nodes.map((n) => n.proc)].map((p) => p?.stop()));
  await deleteTestTopics(kafka, prefix);
  await db.drop();
});

test('a version flows learner → registry → models topic → both serving nodes, which answer with it', async () => {
  for (const n of nodes) {
    await eventually(() => versionOf(n.port), 90_000, `${n.id} to load a version\n${learner.output().slice(-2000)}\n${n.proc.output().slice(-2000)}`);
  }
  const versions = await registryVersions();
  assert.ok(versions.length >= 1);
  const res = await fetch(`http://127.0.0.1:${nodes[0]!.port}/v1/recommend`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId: 'u1', sessionId: 's-x', scenario: 'entrance', k: 3, candidates: ENTRANCE_ITEMS }),
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { requestId: string; model: string; version: number; items: { itemId: string; score: number }[] };
  assert.equal(body.model, 'deepchain');
  assert.ok(versions.some((v) => v.version === body.version), 'the served version is in the registry');
  assert.equal(body.items.length, 3);
  for (const i of body.items) assert.ok(ENTRANCE_ITEMS.includes(i.itemId) && Number.isFinite(i.score));
  const deployments = await eventually(async () => {
    const d = await withSession(db.pool, (s) => currentDeployments(s));
    return d.length === 2 ? d : undefined;
  }, 20_000, 'both nodes to record their deployment');
  assert.deepEqual(deployments.map((d) => d.servingNode).sort(), ['node-a', 'node-b']);
});

test('transitions the learner cannot use are dead-lettered with their reason, source partition and offset', async () => {
  const consumer = kafka.consumer({ groupId: `${prefix}dead-letter-reader`, maxWaitTimeInMs: 100 });
  const letters: DeadLetterRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: topics.deadLetters, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void letters.push(await serde.decode<DeadLetterRecord>(message.value!)) });
    await eventually(async () => (letters.length >= unusable.length ? true : undefined), 60_000, `the learner's dead letters\n${learner.output().slice(-2000)}`);
  } finally {
    await consumer.disconnect();
  }
  const reasons = new Map<string, string>();
  for (const u of unusable) {
    const mine = letters.filter((l) => l.sourcePartition === u.partition && l.sourceOffset === u.offset);
    assert.equal(mine.length, 1, `one letter for the ${u.what} record at ${u.partition}/${u.offset}`);
    const l = mine[0]!;
    assert.equal(l.source, 'learner');
    assert.equal(l.sourceTopic, topics.transitions);
    assert.deepEqual(l.key, Buffer.from(u.key));
    assert.deepEqual(l.value, u.value, 'the original bytes');
    reasons.set(u.what, l.reason);
  }
  assert.equal(reasons.get('rejected'), "transition rejected: scenario 'cart' has no agent in this model");
  assert.match(reasons.get('undecodable')!, /^transition could not be decoded: /);
  const metrics = await eventually(async () => {
    const res = await fetch(`http://127.0.0.1:${learnerPort}/metrics`).catch(() => undefined);
    return res?.ok ? res.text() : undefined;
  }, 10_000, 'learner metrics');
  assert.match(metrics, /learner_transitions_total\{[^}]*outcome="rejected"[^}]*\} [1-9]/, 'still counted');
  assert.match(metrics, /learner_transitions_total\{[^}]*outcome="undecodable"[^}]*\} [1-9]/, 'still counted');
});

test('a corrupted announcement is rejected and the nodes keep answering with the version they had', async () => {
  const before = await Promise.all(nodes.map((n) => versionOf(n.port)));
  const producer = createProducer(kafka);
  await producer.connect();
  const weights = Buffer.from('not a weights file at all');
  await producer.send({
    topic: topics.models,
    messages: [{ key: 'deepchain', value: await serde.encode('models', {
      model: 'deepchain', version: 999_999, checksum: '0'.repeat(64), sizeBytes: weights.length, weights,
      registryRef: null, pinned: false, at: Date.now(),
    }) }],
  });
  await producer.disconnect();
  for (const n of nodes) {
    await eventually(async () => (n.proc.output().includes('announced version rejected') ? true : undefined), 20_000, `${n.id} to reject the announcement`);
    const v = await versionOf(n.port);
    assert.notEqual(v, 999_999);
    assert.ok(v !== undefined && v >= before[nodes.indexOf(n)]!, 'still serving a good version');
    const res = await fetch(`http://127.0.0.1:${n.port}/v1/recommend`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'u2', sessionId: 's-y', scenario: 'detail', k: 2 }),
    });
    assert.equal(res.status, 200);
  }
});

test('a learner killed with kill -9 resumes from its checkpoint; version numbers continue, none lost or reused', async () => {
  await eventually(async () => ((await registryVersions()).length >= 2 ? true : undefined), 60_000, 'two versions');
  await learner.kill9();
  const beforeKill = await registryVersions();
  const maxBefore = Math.max(...beforeKill.map((v) => v.version));
  const checkpoint = await db.pool.query('SELECT max(train_steps)::int AS steps FROM learner_checkpoints');
  assert.ok(checkpoint.rows[0].steps > 0, 'a checkpoint was written before the kill');

  await produceTransitions(100, 2);
  learner = startService('learner', learnerEnv());
  await eventually(async () => (learner.output().includes('resumed from checkpoint') ? true : undefined), 30_000, 'the learner to resume');
  const afterRestart = await eventually(async () => {
    const vs = await registryVersions();
    return vs.some((v) => v.version > maxBefore) ? vs : undefined;
  }, 60_000, 'a version after the restart');
  const numbers = afterRestart.map((v) => v.version).sort((a, b) => a - b);
  assert.deepEqual(numbers, Array.from({ length: numbers.length }, (_, i) => i + 1), 'numbers 1..n, none skipped or reused');
  const resumed = afterRestart.find((v) => v.version === maxBefore + 1)!;
  assert.ok(resumed.trainSteps >= checkpoint.rows[0].steps, `train steps continue from the checkpoint (${resumed.trainSteps} ≥ ${checkpoint.rows[0].steps})`);
});

test('a pinned version is served by every node within seconds', async () => {
  const pin = spawnSync(process.execPath, ['services/cli/bin.mjs', 'models', 'pin', 'deepchain', '1'], {
    encoding: 'utf8', env: { ...process.env, DATABASE_URL: db.url, TOPIC_PREFIX: prefix },
  });
  assert.equal(pin.status, 0, pin.stderr);
  for (const n of nodes) {
    await eventually(async () => ((await versionOf(n.port)) === 1 ? true : undefined), 20_000, `${n.id} to serve the pinned version 1`);
  }
  // New versions keep being recorded but are not announced while the pin holds.
  const count = (await registryVersions()).length;
  await eventually(async () => ((await registryVersions()).length > count ? true : undefined), 30_000, 'a version published during the pin');
  for (const n of nodes) assert.equal(await versionOf(n.port), 1);
});
