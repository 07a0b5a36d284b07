/**
 * Challenger traffic end to end, on the real broker, schema registry and Postgres: a learner with
 * CHALLENGER_SHARE 0.3 publishes a snapshot, which is recorded as the challenger ('candidate') and announced on
 * `models` under its own key; a serving node reading `models` answers about 30% of users with it (the same
 * users every time), says so, and logs those pages with its version. The pages each version chose come back as
 * transitions; a challenger whose own traffic beats the live version's goes live, one whose traffic is worse is
 * rejected and withdrawn, and a learner started again without a share rejects and withdraws the one it finds
 * measured. The off-policy screen is off here (RELEASE_GATE=none: the learner trains on between publishes, so
 * whether a snapshot is estimated worse than the live one is not under the test's control); its part, a
 * degraded snapshot never the challenger, is test/unit/learner-publisher-challenger.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  AvroSerde, createKafka, createMetricsRegistry, createOpsServer, createSchemaRegistry, METRICS, migratePool, topicNames, withSession,
  type RecommendationEvent, type UserEvent,
} from '../../services/common/index.js';
import { Learner } from '../../services/learner/loop.js';
import type { PublishResult } from '../../services/learner/publisher.js';
import type { OnlineTrainer } from '../../services/learner/trainer.js';
import { DEFAULT_GATE, type PublishRules } from '../../services/learner/validation.js';
import { selectBackend } from '../../services/model/index.js';
import { getVersionSummary, listChanges, outstandingChallenger, promote } from '../../services/registry/index.js';
import { addServingRoutes } from '../../services/serving/app.js';
import { challengerDraw } from '../../services/serving/challenger.js';
import { UserHistories } from '../../services/serving/history.js';
import { ModelSlot } from '../../services/serving/model-slot.js';
import { NO_EXPLORATION } from '../../services/serving/ranking.js';
import { ServingStreams } from '../../services/serving/streams.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { eventually } from '../support/processes.js';
import { deleteTestTopics, produceTransitions, provisionTestTopics, servers, testLogger, uniquePrefix } from '../support/servers.js';
import { gateTrainer, servedPages, syntheticTransitions } from '../support/transitions.js';

const MODEL = 'challenge';
const SHARE = 0.3;
const prefix = uniquePrefix('challenger');
const topics = topicNames(prefix);
const kafka = createKafka({ brokers: servers.KAFKA_BROKERS, clientId: 'test-challenger', logger: testLogger });
const serde = new AvroSerde(createSchemaRegistry(servers.SCHEMA_REGISTRY_URL), topics);
// Publishing only when the test asks; the challenger's traffic judged on 200 pages per arm against the margin 0.05.
const rules: PublishRules = {
  everySteps: 1e9, everyMs: 1e9, maxLoss: 1e4, gate: { ...DEFAULT_GATE, kind: 'none', margin: 0.05, minPages: 200, resamples: 300 },
};
let db: TestDatabase;
let trainer: OnlineTrainer;
let learner: Learner | null = null;
const slot = new ModelSlot(MODEL);
const challenger = new ModelSlot(MODEL);
const events: UserEvent[] = [];
let streams: ServingStreams;
let app: ReturnType<typeof createOpsServer>;

let learnerMetrics = createMetricsRegistry('learner');
const newLearner = (challengerShare: number) => new Learner({
  model: MODEL, trainer, kafka, serde, pool: db.pool, topics, logger: testLogger, metrics: (learnerMetrics = createMetricsRegistry('learner')), rules,
  // Retention keeps only the newest version (and the live one, and the challenger being measured).
  checkpointEverySteps: 1e9, checkpointEveryMs: 1e9, refillPerPartition: 0, maxRestores: 3, challengerShare, keepWeights: 1,
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

/** A sample of the learner's /metrics: `name` or `name{labels}`, the registry's service label added as exported. */
async function learnerSample(series: string): Promise<number> {
  const exported = series.endsWith('}') ? `${series.slice(0, -1)},service="learner"}` : `${series}{service="learner"}`;
  const line = (await learnerMetrics.metrics()).split('\n').find((l) => l.startsWith(`${exported} `));
  assert.ok(line, `${exported} exported`);
  return Number(line.split(' ').at(-1));
}

async function answer(userId: string): Promise<{ version: number; role: string }> {
  const res = await app.inject({ method: 'POST', url: '/v1/recommend', payload: { userId, sessionId: `s-${userId}`, scenario: 'entrance', k: 3 } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as { version: number; role: string };
}

/** The last publish: a snapshot judged right after a challenger is decided may be the next challenger. */
let last: PublishResult | null = null;

/** The challenger now: the last snapshot when it became one (judged right after a decision), else the next one. */
async function publishUntilChallenger(): Promise<number> {
  if (last?.challenger) return last.version;
  const r = (last = await learner!.publish());
  assert.deepEqual([r.status, r.challenger, r.decision.outcome], ['candidate', true, 'challenger'], `version ${r.version}: ${r.decision.reasons.join('; ')}`);
  return r.version;
}

/** Sends the pages the challenger and the live version chose, and waits for the learner to have read them. */
async function servePages(challenger: number, live: number, challengerOutcome: 'click' | 'leave', tag: string): Promise<void> {
  const now = Date.now();
  const ts = [
    ...servedPages({ prefix: `${tag}-c`, users: 30, pages: 10, modelVersion: challenger, outcome: challengerOutcome, eventTime: now }),
    ...servedPages({ prefix: `${tag}-l`, users: 30, pages: 10, modelVersion: live, outcome: 'skip', eventTime: now }),
  ];
  const seen = trainer.transitionsSeen;
  await produceTransitions(kafka, serde, prefix, ts);
  await eventually(async () => (trainer.transitionsSeen >= seen + ts.length ? true : undefined), 60_000, `the learner to read ${ts.length} served transitions`);
}

test('a challenger serves its share of users beside the live version, logged with its version, and goes live when its own traffic beats the live version', async () => {
  const first = (last = await learner!.publish());
  assert.equal(first.status, 'live', 'the first version has nothing to be compared with');
  await eventually(async () => (slot.current?.version === first.version ? true : undefined), 30_000, 'the first version installed on the node');

  const chosen = await publishUntilChallenger();
  const live = first.version;
  const decision = (await withSession(db.pool, (s) => getVersionSummary(s, MODEL, chosen)))!.decision!;
  assert.equal(decision.outcome, 'challenger');
  assert.ok(decision.reasons.some((r) => r.startsWith(`challenger: served to a share ${SHARE} of users beside live version ${live}`)), decision.reasons.join('; '));
  assert.equal(decision.numbers.challengerShare, SHARE);
  const outstanding = await withSession(db.pool, (s) => outstandingChallenger(s, MODEL));
  assert.deepEqual([outstanding?.version, outstanding?.live], [chosen, live]);
  assert.ok(Math.abs(outstanding!.createdAt.getTime() - Date.now()) < 60_000, `recorded ${outstanding!.createdAt.toISOString()}`);

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

  // Snapshots meanwhile are rejected, and retention keeps the challenger's weights however many come after it.
  for (let i = 0; i < 3; i++) {
    const meanwhile = (last = await learner!.publish());
    assert.equal(meanwhile.status, 'rejected');
    assert.equal(meanwhile.challenge?.outcome, 'measuring');
    assert.ok(meanwhile.decision.reasons.includes(`challenger version ${chosen} is still being measured`), meanwhile.decision.reasons.join('; '));
  }

  // The pages come back as transitions: the challenger's end in clicks (1 per page), the live version's in skips (0).
  await servePages(chosen, live, 'click', 'win');
  assert.equal(await learnerSample(METRICS.learner.challengerVersion.name), chosen);
  assert.ok(await learnerSample(`${METRICS.learner.challengerPages.name}{arm="challenger"}`) >= 300, 'the challenger\'s pages tallied');
  assert.ok(await learnerSample(`${METRICS.learner.challengerPages.name}{arm="live"}`) >= 300, 'the live version\'s pages tallied');

  // A learner restarted with the share measures the challenger again, from the transitions it reads again.
  await learner!.stop();
  learner = newLearner(SHARE);
  await learner.start();
  await eventually(async () => {
    const [c, l] = [await learnerSample(`${METRICS.learner.challengerPages.name}{arm="challenger"}`), await learnerSample(`${METRICS.learner.challengerPages.name}{arm="live"}`)];
    return c >= 300 && l >= 300 ? true : undefined;
  }, 60_000, 'the restarted learner to tally the pages again');
  assert.equal(await learnerSample(METRICS.learner.challengerVersion.name), chosen);
  const next = (last = await learner!.publish());
  assert.equal(next.challenge?.outcome, 'promoted', JSON.stringify(next.challenge));
  assert.equal(await learnerSample(`${METRICS.learner.challengers.name}{outcome="promoted"}`), 1);
  const row = (await withSession(db.pool, (s) => getVersionSummary(s, MODEL, chosen)))!;
  assert.equal(row.status, 'live');
  assert.equal(row.decision!.outcome, 'promoted');
  assert.ok(Math.abs(row.decision!.numbers.challengerDifference! - 1) < 1e-9, `difference ${row.decision!.numbers.challengerDifference}`);
  assert.ok(row.decision!.numbers.challengerPages! >= 200 && row.decision!.numbers.livePages! >= 200);
  assert.ok(row.decision!.reasons.some((r) => /own traffic, reward per page, challenger − live version \d+: 1\.0000 .*clears the margin 0\.05/.test(r)), row.decision!.reasons.join('; '));
  assert.equal(row.decision!.numbers.challengerShare, SHARE, 'the numbers of its start are kept');
  const [change] = await withSession(db.pool, (s) => listChanges(s, MODEL));
  assert.deepEqual([change!.action, change!.actor, change!.fromVersion, change!.toVersion], ['publish', 'learner', live, chosen]);
  await eventually(async () => (slot.current?.version === chosen ? true : undefined), 30_000, `version ${chosen} installed as the live version`);
  assert.equal((await answer(onChallenger[0]!.u)).role, 'live', 'a promoted challenger is the live version for everyone');
});

test('a challenger whose own traffic is worse is rejected and withdrawn; a learner started without a share rejects and withdraws the one it finds', async () => {
  const live = slot.current!.version;
  const worse = await publishUntilChallenger();
  await eventually(async () => (challenger.current?.version === worse ? true : undefined), 30_000, `challenger version ${worse} installed`);
  await servePages(worse, live, 'leave', 'lose');
  const next = (last = await learner!.publish());
  assert.equal(next.challenge?.outcome, 'rejected', JSON.stringify(next.challenge));
  const row = (await withSession(db.pool, (s) => getVersionSummary(s, MODEL, worse)))!;
  assert.equal(row.status, 'rejected');
  assert.ok(row.decision!.numbers.challengerDifferenceHigh! < 0, 'estimated worse');
  assert.ok(row.decision!.reasons.some((r) => /does not clear the margin/.test(r)), row.decision!.reasons.join('; '));
  assert.equal(slot.current!.version, live, 'the live version stays');
  // Withdrawn; the snapshot judged right after may be the next challenger.
  const after = next.challenger ? next.version : null;
  await eventually(async () => ((challenger.current?.version ?? null) === after ? true : undefined), 30_000, `the rejected challenger withdrawn from the node (challenger now: ${after})`);

  const left = await publishUntilChallenger();
  await eventually(async () => (challenger.current?.version === left ? true : undefined), 30_000, `challenger version ${left} installed`);
  await learner!.stop();
  learner = newLearner(0);
  await learner.start();
  const ended = (await withSession(db.pool, (s) => getVersionSummary(s, MODEL, left)))!;
  assert.equal(ended.status, 'rejected');
  assert.ok(ended.decision!.reasons.includes('challenger traffic ended: CHALLENGER_SHARE is 0'), ended.decision!.reasons.join('; '));
  assert.equal(await withSession(db.pool, (s) => outstandingChallenger(s, MODEL)), null);
  await eventually(async () => (challenger.current === null ? true : undefined), 30_000, 'the challenger withdrawn from the node');
});

test('a challenger an operator promotes by hand is live and only leaves challenger traffic; the learner goes on', async () => {
  await learner!.stop();
  learner = newLearner(SHARE);
  await learner.start();
  last = null;
  const chosen = await publishUntilChallenger();
  await withSession(db.pool, (s) => promote(s, MODEL, chosen, { actor: 'cli:test', reason: 'looks good to me' }));
  const next = (last = await learner.publish());
  assert.deepEqual(next.challenge, { version: chosen, outcome: 'withdrawn', status: 'live' });
  const row = (await withSession(db.pool, (s) => getVersionSummary(s, MODEL, chosen)))!;
  assert.equal(row.status, 'live', 'the operator\'s promotion stands');
  assert.equal(row.decision!.outcome, 'challenger', 'the learner recorded no decision over the operator\'s');
  const after = await learner.publish();
  assert.notEqual(after.challenge?.outcome, 'withdrawn', 'the learner goes on publishing');
});
