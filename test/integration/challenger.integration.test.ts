/**
 * Challenger traffic end to end, on the real broker, schema registry and Postgres: a learner with
 * CHALLENGER_SHARE 0.3 publishes snapshots through the release gate; a rejected one the gate did not find
 * worse than the live version is recorded as the challenger and announced on `models` under its own key; a
 * serving node reading `models` answers about 30% of users with it (the same users every time), says so,
 * and logs those pages with its version. A learner started again without a share withdraws it (a tombstone),
 * and every user is back on the live version.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  AvroSerde, createKafka, createMetricsRegistry, createOpsServer, createSchemaRegistry, migratePool, topicNames, withSession,
  type RecommendationEvent, type UserEvent,
} from '../../services/common/index.js';
import { Learner } from '../../services/learner/loop.js';
import type { OnlineTrainer } from '../../services/learner/trainer.js';
import { DEFAULT_GATE, type PublishRules } from '../../services/learner/validation.js';
import { selectBackend } from '../../services/model/index.js';
import { getVersionSummary, outstandingChallenger } from '../../services/registry/index.js';
import { addServingRoutes } from '../../services/serving/app.js';
import { challengerDraw } from '../../services/serving/challenger.js';
import { UserHistories } from '../../services/serving/history.js';
import { ModelSlot } from '../../services/serving/model-slot.js';
import { NO_EXPLORATION } from '../../services/serving/ranking.js';
import { ServingStreams } from '../../services/serving/streams.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { eventually } from '../support/processes.js';
import { deleteTestTopics, produceTransitions, provisionTestTopics, servers, testLogger, uniquePrefix } from '../support/servers.js';
import { gateTrainer, syntheticTransitions } from '../support/transitions.js';

const MODEL = 'challenge';
const SHARE = 0.3;
const prefix = uniquePrefix('challenger');
const topics = topicNames(prefix);
const kafka = createKafka({ brokers: servers.KAFKA_BROKERS, clientId: 'test-challenger', logger: testLogger });
const serde = new AvroSerde(createSchemaRegistry(servers.SCHEMA_REGISTRY_URL), topics);
// Publishing only when the test asks; a margin no snapshot of the same training run clears, so later ones are rejected.
const rules: PublishRules = {
  everySteps: 1e9, everyMs: 1e9, maxLoss: 1e4, gate: { ...DEFAULT_GATE, margin: 0.05, minPages: 200, minEffectiveSampleSize: 20, resamples: 300 },
};
let db: TestDatabase;
let trainer: OnlineTrainer;
let learner: Learner | null = null;
const slot = new ModelSlot(MODEL);
const challenger = new ModelSlot(MODEL);
const events: UserEvent[] = [];
let streams: ServingStreams;
let app: ReturnType<typeof createOpsServer>;

const newLearner = (challengerShare: number) => new Learner({
  model: MODEL, trainer, kafka, serde, pool: db.pool, topics, logger: testLogger, metrics: createMetricsRegistry('learner'), rules,
  checkpointEverySteps: 1e9, checkpointEveryMs: 1e9, refillPerPartition: 0, maxRestores: 3, challengerShare,
});

before(async () => {
  await selectBackend({ prefer: 'cpu' });
  db = await createTestDatabase();
  await migratePool(db.pool);
  await provisionTestTopics(kafka, prefix);
  await serde.registerAll(['transitions', 'models', 'deadLetters']);

  const ts = syntheticTransitions(1500, 11, 300, 0.1);
  await produceTransitions(kafka, serde, prefix, ts);

  streams = new ServingStreams({
    nodeId: 'challenger-test', kafka, serde, pool: db.pool, topics, slot, challenger, histories: new UserHistories(10, 1000),
    historyLookbackMs: null, logger: testLogger, metrics: createMetricsRegistry('serving'),
  });
  await streams.start();
  app = createOpsServer({ logger: testLogger, metrics: createMetricsRegistry('serving-app') });
  addServingRoutes(app, {
    slot, challenger, histories: new UserHistories(10, 1000), metrics: createMetricsRegistry('serving-routes'), maxK: 10, maxCandidates: 10,
    options: { recallSize: 6, recallSeeds: 2, exploration: NO_EXPLORATION }, logEvent: (e) => void events.push(e),
  });

  trainer = gateTrainer();
  learner = newLearner(SHARE);
  await learner.start();
  await eventually(
    async () => (trainer.transitionsSeen === ts.length && learner!.steps >= 300 ? true : undefined),
    180_000, `the learner to read ${ts.length} transitions and train 300 steps`,
  );
});

after(async () => {
  await learner?.stop();
  await app?.close();
  await streams?.stop();
  await deleteTestTopics(kafka, prefix);
  await db?.drop();
});

async function answer(userId: string): Promise<{ version: number; role: string }> {
  const res = await app.inject({ method: 'POST', url: '/v1/recommend', payload: { userId, sessionId: `s-${userId}`, scenario: 'entrance', k: 3 } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as { version: number; role: string };
}

test('a rejected snapshot the gate did not find worse serves its share of users beside the live version, logged with its version; a learner without a share withdraws it', async () => {
  const first = await learner!.publish();
  assert.equal(first.status, 'live');
  await eventually(async () => (slot.current?.version === first.version ? true : undefined), 30_000, 'the first version installed on the node');

  // Snapshots of the same run differ little: each rejected one is a challenger exactly when its upper bound is ≥ 0.
  let chosen: number | null = null;
  for (let attempt = 0; attempt < 6 && chosen === null; attempt++) {
    const r = await learner!.publish();
    if (r.status !== 'rejected') continue;
    const high = r.verdict.metrics.differenceHigh;
    assert.equal(r.challenger, high !== undefined && high >= 0, `version ${r.version}: upper bound ${high}, challenger ${r.challenger}`);
    if (r.challenger) chosen = r.version;
  }
  assert.ok(chosen !== null, 'a rejected snapshot not estimated worse within 6 publishes');
  const live = slot.current!.version;
  const decision = (await withSession(db.pool, (s) => getVersionSummary(s, MODEL, chosen!)))!.decision!;
  assert.equal(decision.outcome, 'rejected');
  assert.ok(decision.reasons.some((r) => r.startsWith(`challenger: served to a share ${SHARE} of users beside live version ${live}`)), decision.reasons.join('; '));
  assert.equal(decision.numbers.challengerShare, SHARE);
  assert.equal(await withSession(db.pool, (s) => outstandingChallenger(s, MODEL)), chosen);

  await eventually(async () => (challenger.current?.version === chosen ? true : undefined), 30_000, `challenger version ${chosen} installed on the node`);
  assert.equal(challenger.current!.share, SHARE);
  assert.equal(slot.current!.version, live, 'the live version still serves everyone else');

  events.length = 0;
  const users = Array.from({ length: 300 }, (_, i) => `u${i}`);
  const answers = [];
  for (const u of users) answers.push({ u, ...(await answer(u)) });
  const onChallenger = answers.filter((a) => a.role === 'challenger');
  // Binomial(300, 0.3): 90 ± 8; five standard deviations either side.
  assert.ok(onChallenger.length > 50 && onChallenger.length < 130, `${onChallenger.length} of 300 users on the challenger`);
  for (const a of answers) {
    assert.equal(a.role === 'challenger', challengerDraw(a.u, chosen) < SHARE, `${a.u}: answered as ${a.role}`);
    assert.equal(a.version, a.role === 'challenger' ? chosen : live, `${a.u}: version ${a.version} for role ${a.role}`);
  }
  assert.deepEqual(events.map((e) => (e as RecommendationEvent).modelVersion), answers.map((a) => a.version), 'each page logged with the version that chose it');
  for (const a of onChallenger.slice(0, 20)) assert.equal((await answer(a.u)).version, chosen, `${a.u} stays on the challenger`);

  await learner!.stop();
  learner = newLearner(0);
  await learner.start();
  await eventually(async () => (challenger.current === null ? true : undefined), 30_000, 'the challenger withdrawn from the node');
  for (const a of onChallenger.slice(0, 20)) assert.equal((await answer(a.u)).version, live, `${a.u} back on the live version`);
});
