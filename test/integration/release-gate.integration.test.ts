/**
 * The release gate end to end, on the real broker, schema registry and Postgres: a learner reads logged
 * transitions (with the serving policy's propensities) from Kafka, and each snapshot it publishes is judged
 * against the version served now. A degraded snapshot (the trained actors ranking in reverse) is rejected, a
 * good one promoted, and after an operator's rollback nothing goes live that does not beat the version the
 * operator chose. Only promoted versions are announced on the `models` topic.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  AvroSerde, createKafka, createMetricsRegistry, createSchemaRegistry, migratePool, topicNames, withSession,
} from '../../services/common/index.js';
import { Learner } from '../../services/learner/loop.js';
import type { OnlineTrainer } from '../../services/learner/trainer.js';
import { DEFAULT_GATE, loggedPages } from '../../services/learner/validation.js';
import { deepChainFromWeights, encodeWeights, selectBackend } from '../../services/model/index.js';
import { effectiveVersion, getVersionSummary, listChanges, rollback, type ModelAnnouncement } from '../../services/registry/index.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { eventually } from '../support/processes.js';
import { deleteTestTopics, produceTransitions, provisionTestTopics, servers, testLogger, uniquePrefix } from '../support/servers.js';
import { gateTrainer, syntheticTransitions } from '../support/transitions.js';

const MODEL = 'gate';
const prefix = uniquePrefix('gate');
const topics = topicNames(prefix);
const kafka = createKafka({ brokers: servers.KAFKA_BROKERS, clientId: 'test-gate', logger: testLogger });
const serde = new AvroSerde(createSchemaRegistry(servers.SCHEMA_REGISTRY_URL), topics);
let db: TestDatabase;
let trainer: OnlineTrainer;
let learner: Learner;
const announced: number[] = [];
const announcements = kafka.consumer({ groupId: `${prefix}.test-announcements` });

/** Negates the actors' output layers in place: a_t → −a_t, every ranking reversed (twice restores them). */
function reverseActors(): void {
  const snapshot = trainer.model.snapshot();
  const tensors = snapshot.tensors.map((t) => (/^actor\.[a-z]+\.out\./.test(t.name) ? { ...t, values: t.values.map((v) => -v) } : t));
  trainer.model.load(deepChainFromWeights(encodeWeights({ ...snapshot, tensors })).snapshot());
}

before(async () => {
  await selectBackend({ prefer: 'cpu' });
  db = await createTestDatabase();
  await migratePool(db.pool);
  await provisionTestTopics(kafka, prefix);
  await serde.registerAll(['transitions', 'models', 'deadLetters']);
  await announcements.connect();
  await announcements.subscribe({ topic: topics.models, fromBeginning: true });
  await announcements.run({
    eachMessage: async ({ message }) => {
      announced.push(Number((await serde.decode<ModelAnnouncement>(message.value!)).version));
    },
  });

  const ts = syntheticTransitions(1500, 7, 300, 0.1);
  await produceTransitions(kafka, serde, prefix, ts);

  trainer = gateTrainer();
  learner = new Learner({
    model: MODEL, trainer, kafka, serde, pool: db.pool, topics, logger: testLogger, metrics: createMetricsRegistry('learner'),
    // Publishing only when the test asks; a margin above 0, so that a snapshot no better than the served one is never promoted.
    rules: { everySteps: 1e9, everyMs: 1e9, maxLoss: 1e4, gate: { ...DEFAULT_GATE, margin: 0.05, minPages: 200, minEffectiveSampleSize: 20, resamples: 300 } },
    checkpointEverySteps: 1e9, checkpointEveryMs: 1e9, refillPerPartition: 0, maxRestores: 3,
  });
  await learner.start();
  await eventually(
    async () => (trainer.transitionsSeen === ts.length && learner.steps >= 300 ? true : undefined),
    180_000, `the learner to read ${ts.length} transitions and train 300 steps`,
  );
});

after(async () => {
  await learner?.stop();
  await announcements.disconnect();
  await deleteTestTopics(kafka, prefix);
  await db?.drop();
});

async function served(): Promise<number | undefined> {
  return withSession(db.pool, async (s) => (await effectiveVersion(s, MODEL))?.version);
}

test('a degraded snapshot is rejected, a good one promoted, each decision stored with its numbers and only promoted versions announced', async () => {
  assert.ok(loggedPages(trainer.heldOut, ['entrance', 'detail']).pages.length >= 200, 'enough held-out pages for the gate');

  reverseActors();
  const first = await learner.publish();
  assert.equal(first.status, 'live', 'the first version has nothing to be compared with');

  reverseActors();
  const good = await learner.publish();
  assert.equal(good.status, 'live', good.verdict.reasons.join('; '));
  assert.ok(good.verdict.metrics.differenceLow! >= 0.05, `lower bound ${good.verdict.metrics.differenceLow}`);

  reverseActors();
  const degraded = await learner.publish();
  reverseActors();
  assert.equal(degraded.status, 'rejected');
  assert.equal(await served(), good.version, 'the rejected snapshot did not replace the live version');

  const row = await withSession(db.pool, (s) => getVersionSummary(s, MODEL, degraded.version));
  assert.equal(row!.decision!.outcome, 'rejected');
  assert.equal(row!.decision!.baselineVersion, good.version);
  assert.match(row!.decision!.reasons[0]!, new RegExp(`candidate − live version ${good.version}: .* does not clear the margin 0.05`));
  assert.ok(row!.decision!.numbers.differenceHigh! < 0, 'the degraded snapshot is estimated worse');
  assert.ok(row!.decision!.numbers.gatePages! >= 200);

  const changes = await withSession(db.pool, (s) => listChanges(s, MODEL));
  assert.deepEqual(changes.filter((c) => c.action === 'publish').map((c) => [c.fromVersion, c.toVersion]), [[first.version, good.version], [null, first.version]]);
  await eventually(async () => (announced.includes(good.version) ? true : undefined), 30_000, 'the good version announced');
  assert.ok(!announced.includes(degraded.version), 'a rejected version is never announced');
});

test('after an operator rolls back, a snapshot that does not beat the chosen version stays out; one that beats it goes live', async () => {
  const { from, to } = await withSession(db.pool, (s) => rollback(s, MODEL, { actor: 'cli:test', reason: 'checking that it sticks' }));
  assert.equal(await served(), to);

  // A snapshot like the one the operator chose (the degraded first version) does not clear the margin against it.
  reverseActors();
  const same = await learner.publish();
  reverseActors();
  assert.equal(same.status, 'rejected', same.verdict.reasons.join('; '));
  assert.equal(same.verdict.decision.baselineVersion, to);
  assert.equal(await served(), to, 'the rollback sticks');

  const better = await learner.publish();
  assert.equal(better.status, 'live', better.verdict.reasons.join('; '));
  assert.equal(await served(), better.version);
  const changes = await withSession(db.pool, (s) => listChanges(s, MODEL));
  assert.deepEqual(changes.slice(0, 2).map((c) => [c.action, c.actor, c.fromVersion, c.toVersion]), [
    ['publish', 'learner', to, better.version], ['rollback', 'cli:test', from, to],
  ]);
});
