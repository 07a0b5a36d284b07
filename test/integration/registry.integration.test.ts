import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import {
  AvroSerde, createKafka, createSchemaRegistry, migratePool, topicNames, withSession,
} from '../../services/common/index.js';
import {
  announcementFromRecord, currentDeployments, diffVersions, effectiveVersion, getVersion, insertVersion, listVersions,
  recordDeployment, sha256Hex, type ModelAnnouncement, type NewVersion,
} from '../../services/registry/index.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { deleteTestTopics, provisionTestTopics, servers, testLogger, uniquePrefix } from '../support/servers.js';

const prefix = uniquePrefix('registry');
const topics = topicNames(prefix);
const kafka = createKafka({ brokers: servers.KAFKA_BROKERS, clientId: 'test-registry', logger: testLogger });
let db: TestDatabase;

const version = (n: number, status: NewVersion['status'] = 'live'): NewVersion => ({
  model: 'deepchain', trainSteps: n * 100, transitionsSeen: n * 6400, status,
  sourceOffsets: { transitions: { '0': String(n * 10), '1': String(n * 20) } },
  metrics: { criticLoss: 1 / n, reward: n }, weights: new Uint8Array([n, n + 1, n + 2]),
});

const cli = (args: string[]) =>
  spawnSync(process.execPath, ['services/cli/bin.mjs', ...args], {
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL: db.url, TOPIC_PREFIX: prefix },
  });

before(async () => {
  db = await createTestDatabase();
  await migratePool(db.pool);
  await provisionTestTopics(kafka, prefix);
});
after(async () => {
  await deleteTestTopics(kafka, prefix);
  await db.drop();
});

test('versions are numbered in order with lineage, and exactly one is live', async () => {
  await withSession(db.pool, async (s) => {
    const v1 = await insertVersion(s, version(1));
    const v2 = await insertVersion(s, version(2));
    const rejected = await insertVersion(s, version(3, 'rejected'));
    const v4 = await insertVersion(s, version(4));
    assert.deepEqual([v1.version, v2.version, rejected.version, v4.version], [1, 2, 3, 4]);
    assert.equal(v2.parentVersion, 1);
    assert.equal(v4.parentVersion, 2, 'a rejected version is never a parent');
    const all = await listVersions(s, 'deepchain');
    assert.deepEqual(all.map((v) => [v.version, v.status]), [[4, 'live'], [3, 'rejected'], [2, 'retired'], [1, 'retired']]);
    const full = await getVersion(s, 'deepchain', 4);
    assert.deepEqual([...full!.weights], [4, 5, 6]);
    assert.equal(full!.checksum, sha256Hex(new Uint8Array([4, 5, 6])));
    assert.deepEqual(full!.sourceOffsets, { transitions: { '0': '40', '1': '80' } });
  });
});

test('concurrent publishers never reuse a version number', async () => {
  const made = await Promise.all([5, 6, 7, 8].map((n) => withSession(db.pool, (s) => insertVersion(s, version(n)))));
  assert.deepEqual(made.map((v) => v.version).sort((a, b) => a - b), [5, 6, 7, 8]);
  const live = (await withSession(db.pool, (s) => listVersions(s, 'deepchain'))).filter((v) => v.status === 'live');
  assert.equal(live.length, 1);
});

test('diff reports steps, metrics and offsets between two versions', async () => {
  const d = await withSession(db.pool, (s) => diffVersions(s, 'deepchain', 1, 2));
  assert.equal(d.trainSteps, 100);
  assert.equal(d.transitionsSeen, 6400);
  assert.deepEqual(d.metrics.reward, { from: 1, to: 2, delta: 1 });
  assert.deepEqual(d.offsets['transitions/0'], { from: '10', to: '20' });
  assert.equal(d.sameWeights, false);
});

test('the CLI pins, unpins and rolls back, and each change is announced on the models topic', async () => {
  const pinned = cli(['models', 'pin', 'deepchain', '2']);
  assert.equal(pinned.status, 0, pinned.stderr);
  assert.match(pinned.stdout, /pinned deepchain to version 2; announced version 2 \(pinned\)/);
  assert.deepEqual(await withSession(db.pool, (s) => effectiveVersion(s, 'deepchain')), { version: 2, pinned: true });

  const refused = cli(['models', 'pin', 'deepchain', '3']);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /version 3 of 'deepchain' was rejected/);
  const missing = cli(['models', 'pin', 'deepchain', '99']);
  assert.match(missing.stderr, /has no version 99/);

  const unpinned = cli(['models', 'unpin', 'deepchain']);
  assert.equal(unpinned.status, 0, unpinned.stderr);
  const live = (await withSession(db.pool, (s) => effectiveVersion(s, 'deepchain')))!;
  assert.equal(live.pinned, false);

  const rolled = cli(['models', 'rollback', 'deepchain']);
  assert.equal(rolled.status, 0, rolled.stderr);
  const after = (await withSession(db.pool, (s) => effectiveVersion(s, 'deepchain')))!;
  assert.ok(after.version < live.version, `rolled back from ${live.version} to ${after.version}`);

  // Read the announcements back from the real broker, in order.
  const serde = new AvroSerde(createSchemaRegistry(servers.SCHEMA_REGISTRY_URL), topics);
  const consumer = kafka.consumer({ groupId: `${prefix}reader` });
  await consumer.connect();
  await consumer.subscribe({ topic: topics.models, fromBeginning: true });
  const seen: ModelAnnouncement[] = [];
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(announcementFromRecord(await serde.decode<ModelAnnouncement>(message.value!)));
        if (seen.length === 3) resolve();
      },
    });
  });
  await consumer.disconnect();
  assert.deepEqual(seen.map((a) => [a.version, a.pinned]), [[2, true], [live.version, false], [after.version, false]]);
  assert.equal(sha256Hex(seen[0]!.weights!), seen[0]!.checksum, 'inline weights match their checksum');
});

test('deployments show the latest version per node, as a table or JSON', async () => {
  await withSession(db.pool, async (s) => {
    await recordDeployment(s, 'node-a', 'deepchain', 1);
    await new Promise((r) => setTimeout(r, 5));
    await recordDeployment(s, 'node-a', 'deepchain', 2);
    await recordDeployment(s, 'node-b', 'deepchain', 1);
  });
  const current = await withSession(db.pool, (s) => currentDeployments(s));
  assert.deepEqual(current.map((d) => [d.servingNode, d.version]), [['node-a', 2], ['node-b', 1]]);
  const json = cli(['deployments', '--json']);
  assert.equal(json.status, 0, json.stderr);
  assert.deepEqual((JSON.parse(json.stdout) as { servingNode: string; version: number }[]).map((d) => [d.servingNode, d.version]), [['node-a', 2], ['node-b', 1]]);
  const table = cli(['models', 'list', 'deepchain']);
  assert.equal(table.status, 0, table.stderr);
  assert.match(table.stdout, /version.*status.*parent/);
  assert.match(table.stdout, /rejected/);
});
