import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import {
  AvroSerde, createKafka, createSchemaRegistry, migratePool, topicNames, withSession,
} from '../../services/common/index.js';
import {
  announcementFromRecord, cliActor, currentDeployments, diffVersions, effectiveVersion, getVersion, getVersionSummary,
  insertVersion, listChanges, listVersions, recordDeployment, sha256Hex, type Change, type ModelAnnouncement,
  type NewVersion, type VersionDecision,
} from '../../services/registry/index.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { deleteTestTopics, provisionTestTopics, servers, testLogger, uniquePrefix } from '../support/servers.js';

const prefix = uniquePrefix('registry');
const topics = topicNames(prefix);
const kafka = createKafka({ brokers: servers.KAFKA_BROKERS, clientId: 'test-registry', logger: testLogger });
let db: TestDatabase;

const version = (n: number, status: NewVersion['status'] = 'live', decision?: VersionDecision): NewVersion => ({
  model: 'deepchain', trainSteps: n * 100, transitionsSeen: n * 6400, status,
  sourceOffsets: { transitions: { '0': String(n * 10), '1': String(n * 20) } },
  metrics: { criticLoss: 1 / n, reward: n }, weights: new Uint8Array([n, n + 1, n + 2]), ...(decision ? { decision } : {}),
});
const rejectedDecision: VersionDecision = {
  outcome: 'rejected', reasons: ['critic loss 20000 is above PUBLISH_MAX_LOSS 10000', 'off-policy estimate fell'],
  baselineVersion: 2, baselinePinned: false, numbers: { criticLoss: 20000, candidateValue: 0.8, liveValue: 1.1 },
};
const promotedDecision: VersionDecision = {
  outcome: 'promoted', reasons: ['off-policy estimate 1.2 ≥ live 1.1 − tolerance', 'losses finite'],
  baselineVersion: 2, baselinePinned: false, numbers: { candidateValue: 1.2, liveValue: 1.1, heldOut: 512 },
};
const trail = (changes: Change[]) => changes.map((c) => [c.action, c.fromVersion, c.toVersion]);

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
    const v2 = await insertVersion(s, version(2, 'live', { ...promotedDecision, reasons: [], baselineVersion: 1 }));
    const rejected = await insertVersion(s, version(3, 'rejected', rejectedDecision));
    const v4 = await insertVersion(s, version(4, 'live', promotedDecision));
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

test('the gate\'s decision is kept with each version, and each live one is audited as the learner\'s publish', async () => {
  await withSession(db.pool, async (s) => {
    assert.deepEqual((await getVersionSummary(s, 'deepchain', 3))!.decision, rejectedDecision);
    assert.deepEqual((await getVersion(s, 'deepchain', 4))!.decision, promotedDecision);
    assert.equal((await getVersionSummary(s, 'deepchain', 1))!.decision, null, 'no decision given, none stored');
    const changes = await listChanges(s, 'deepchain');
    assert.deepEqual(trail(changes), [['publish', 2, 4], ['publish', 1, 2], ['publish', null, 1]], 'the rejected version changed nothing');
    assert.deepEqual(changes.map((c) => [c.actor, c.reason]), [
      ['learner', 'off-policy estimate 1.2 ≥ live 1.1 − tolerance; losses finite'],
      ['learner', 'published'],
      ['learner', 'published'],
    ]);
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

test('the CLI pins, unpins, rolls back and promotes, audits each change and announces it on the models topic', async () => {
  const actor = cliActor();
  const pinned = cli(['models', 'pin', 'deepchain', '2', '--reason', 'version 4 misranks the cart page']);
  assert.equal(pinned.status, 0, pinned.stderr);
  assert.match(pinned.stdout, /pinned deepchain to version 2; announced version 2 \(pinned\)/);
  assert.deepEqual(await withSession(db.pool, (s) => effectiveVersion(s, 'deepchain')), { version: 2, pinned: true });

  const refused = cli(['models', 'pin', 'deepchain', '3']);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /version 3 of 'deepchain' was rejected .*critic loss 20000 is above PUBLISH_MAX_LOSS/);
  const missing = cli(['models', 'pin', 'deepchain', '99']);
  assert.match(missing.stderr, /has no version 99/);

  const unpinned = cli(['models', 'unpin', 'deepchain']);
  assert.equal(unpinned.status, 0, unpinned.stderr);
  assert.match(unpinned.stdout, /unpinned deepchain \(was 2\); announced version \d+ on /);
  const live = (await withSession(db.pool, (s) => effectiveVersion(s, 'deepchain')))!;
  assert.equal(live.pinned, false);
  const again = cli(['models', 'unpin', 'deepchain']);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /deepchain was not pinned; nothing changed/);

  const rolled = cli(['models', 'rollback', 'deepchain', '--reason', 'p99 latency doubled']);
  assert.equal(rolled.status, 0, rolled.stderr);
  const after = (await withSession(db.pool, (s) => effectiveVersion(s, 'deepchain')))!;
  assert.ok(after.version < live.version, `rolled back from ${live.version} to ${after.version}`);

  // Promote an older retired version on the operator's word; refused for a rejected, unknown or live one.
  const promoted = cli(['models', 'promote', 'deepchain', '4', '--reason', 'best offline NDCG this week']);
  assert.equal(promoted.status, 0, promoted.stderr);
  assert.match(promoted.stdout, new RegExp(`promoted deepchain version 4 \\(was ${after.version}\\); announced version 4 on `));
  assert.deepEqual(await withSession(db.pool, (s) => effectiveVersion(s, 'deepchain')), { version: 4, pinned: false });
  const statuses = await withSession(db.pool, (s) => listVersions(s, 'deepchain'));
  assert.deepEqual(statuses.filter((v) => v.status === 'live').map((v) => v.version), [4], 'exactly one live version');
  assert.equal(statuses.find((v) => v.version === after.version)!.status, 'retired');
  for (const [args, message] of [
    [['3'], /version 3 of 'deepchain' was rejected by validation and cannot be promoted \(critic loss 20000/],
    [['99'], /model 'deepchain' has no version 99: see 'deepchain models list deepchain'/],
    [['4'], /version 4 of 'deepchain' is already live: nothing to promote/],
  ] as const) {
    const r = cli(['models', 'promote', 'deepchain', ...args]);
    assert.equal(r.status, 1, `promote ${args[0]} is refused`);
    assert.match(r.stderr, message);
  }
  const blank = cli(['models', 'promote', 'deepchain', '2', '--reason', ' ']);
  assert.equal(blank.status, 1);
  assert.match(blank.stderr, /needs a reason for the audit trail/);

  // The audit trail: who, what, from → to and why, newest first; refused commands left nothing.
  const changes = await withSession(db.pool, (s) => listChanges(s, 'deepchain', 4));
  assert.deepEqual(changes.map((c) => [c.actor, c.action, c.fromVersion, c.toVersion, c.reason]), [
    [actor, 'promote', after.version, 4, 'best offline NDCG this week'],
    [actor, 'rollback', live.version, after.version, 'p99 latency doubled'],
    [actor, 'unpin', 2, null, 'no reason given (--reason)'],
    [actor, 'pin', null, 2, 'version 4 misranks the cart page'],
  ]);
  assert.match(actor, /^cli:./);

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
        if (seen.length === 4) resolve();
      },
    });
  });
  await consumer.disconnect();
  assert.deepEqual(seen.map((a) => [a.version, a.pinned]), [[2, true], [live.version, false], [after.version, false], [4, false]]);
  assert.equal(sha256Hex(seen[0]!.weights!), seen[0]!.checksum, 'inline weights match their checksum');
});

test('models history lists the audit trail newest first; list and show print the gate\'s decision', async () => {
  const table = cli(['models', 'history', 'deepchain', '--limit', '3']);
  assert.equal(table.status, 0, table.stderr);
  const lines = table.stdout.split('\n');
  const row = (text: string) => lines.findIndex((l) => l.includes(text));
  assert.match(table.stdout, /at.*actor.*action.*from.*to.*reason/);
  assert.ok(row('best offline NDCG this week') > 0 && row('best offline NDCG this week') < row('p99 latency doubled'), table.stdout);
  assert.match(lines[row('best offline NDCG this week')]!, new RegExp(`${cliActor()}.*promote`));
  assert.equal(row('version 4 misranks the cart page'), -1, '--limit 3 leaves the pin out');

  const json = cli(['models', 'history', 'deepchain', '--json']);
  assert.equal(json.status, 0, json.stderr);
  const all = JSON.parse(json.stdout) as { action: string; actor: string; reason: string; toVersion: number | null }[];
  assert.deepEqual(all.map((c) => c.action).slice(0, 4), ['promote', 'rollback', 'unpin', 'pin']);
  assert.deepEqual(all.filter((c) => c.action === 'publish').map((c) => c.toVersion).sort((a, b) => a! - b!), [1, 2, 4, 5, 6, 7, 8]);
  assert.equal(all.at(-1)!.action, 'publish');
  assert.equal(all.at(-1)!.toVersion, 1, 'the oldest change comes last');

  const unknown = cli(['models', 'history', 'no-such-model']);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /there is no model 'no-such-model'/);

  const list = cli(['models', 'list', 'deepchain']);
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, /decision/);
  assert.match(list.stdout.split('\n').find((l) => l.includes("'rejected'")) ?? '', /rejected: critic loss 20000 is above PUBLISH_MA…\s*\(\+1\)/);
  assert.match(list.stdout.split('\n').find((l) => l.includes("'live'")) ?? '', /promoted: off-policy estimate/);

  const show = cli(['models', 'show', 'deepchain', '3']);
  assert.equal(show.status, 0, show.stderr);
  assert.match(show.stdout, /decision: rejected\n {2}baseline: version 2 \(live\)\n {2}reasons:\n {4}- critic loss 20000 is above PUBLISH_MAX_LOSS 10000\n {4}- off-policy estimate fell\n/);
  assert.match(show.stdout, /numbers:\n {4}candidateValue: 0.8\n {4}criticLoss: 20000\n {4}liveValue: 1.1\n/);
  const shown = JSON.parse(cli(['models', 'show', 'deepchain', '3', '--json']).stdout) as { decision: VersionDecision };
  assert.deepEqual(shown.decision, rejectedDecision);
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
