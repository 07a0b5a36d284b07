/**
 * The divergence watchdog on the real broker and Postgres: a Learner (loop.ts) runs in this process on
 * transitions from Kafka and checkpoints to Postgres; the test then makes its training diverge by writing
 * NaN into a network through the model's public `load`. It must go back to its last good checkpoint (and
 * count, log and audit that, not ready until it has saved a checkpoint again), give up instead of looping
 * when the divergence keeps coming back, and give up at once when there is no checkpoint to go back to.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import {
  AvroSerde, createKafka, createMetricsRegistry, createOpsServer, createSchemaRegistry, METRICS, migratePool, topicNames, withSession,
  type DeepChainError,
} from '../../services/common/index.js';
import { Learner } from '../../services/learner/loop.js';
import { OnlineTrainer, type TrainerOptions } from '../../services/learner/trainer.js';
import { DEFAULT_GATE } from '../../services/learner/validation.js';
import { firstNonFinite } from '../../services/learner/watchdog.js';
import { decodeWeights, selectBackend, type DeepChainModel } from '../../services/model/index.js';
import { listChanges } from '../../services/registry/index.js';
import { loadLatestCheckpoint } from '../../services/learner/checkpoints.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { eventually } from '../support/processes.js';
import { deleteTestTopics, produceTransitions, provisionTestTopics, servers, testLogger, uniquePrefix } from '../support/servers.js';
import { syntheticTransitions } from '../support/transitions.js';

const prefix = uniquePrefix('watchdog');
const topics = topicNames(prefix);
const kafka = createKafka({ brokers: servers.KAFKA_BROKERS, clientId: 'test-watchdog', logger: testLogger });
const serde = new AvroSerde(createSchemaRegistry(servers.SCHEMA_REGISTRY_URL), topics);
let db: TestDatabase;
const cleanup: (() => Promise<unknown>)[] = [];

const trainerOptions: TrainerOptions = {
  model: { scenarios: ['entrance', 'detail'], embeddingSize: 8, hiddenSize: 16, historyLength: 10 },
  replayCapacity: 20_000, batchSize: 32, trainStart: 64, holdoutEvery: 5, holdoutSize: 5000, embeddingRefreshSteps: 50, seed: 1,
};

/**
 * The trainer with two test controls, neither of which the product needs: `paused` holds training (as a
 * buffer below TRAIN_START does), so a restored state can be looked at before it trains on; `poisoned`
 * writes NaN into the critic before every step, a divergence that comes back however often it is restored.
 */
class ControlledTrainer extends OnlineTrainer {
  pauseAfterRestore = false;
  paused = false;
  poisoned = false;

  override get ready(): boolean {
    return !this.paused && super.ready;
  }

  override step() {
    if (this.poisoned) poison(this.model);
    return super.step();
  }

  override async restoreState(bytes: Uint8Array): Promise<void> {
    await super.restoreState(bytes);
    if (this.pauseAfterRestore) this.paused = true;
  }
}

const POISONED = 'critic.head.fc0.w';

/** NaN into one critic variable through the model's public load (variables a snapshot lacks keep their values). */
function poison(model: DeepChainModel): void {
  const v = model.networks.store.variables.get(POISONED)!;
  model.load({ config: model.config, tensors: [{ name: POISONED, shape: v.shape, values: new Float32Array(v.size).fill(NaN) }], vocabulary: null });
}

interface LogLine { level: number; msg: string; [field: string]: unknown }

/** A Learner as main.ts wires one, with a logger whose lines the test reads and its readiness on an ops server. */
async function startLearner(model: string, maxRestores: number, checkpointEvery: { steps: number; ms: number }) {
  const trainer = new ControlledTrainer(trainerOptions);
  const lines: LogLine[] = [];
  const logger = pino({ name: 'learner', level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  const metrics = createMetricsRegistry('learner');
  const learner = new Learner({
    model, trainer, kafka, serde, pool: db.pool, topics, logger, metrics,
    // No publishing within the test: the watchdog, not the release gate, is under test.
    rules: { everySteps: 1_000_000, everyMs: 3_600_000, maxLoss: 1e4, gate: DEFAULT_GATE },
    checkpointEverySteps: checkpointEvery.steps, checkpointEveryMs: checkpointEvery.ms, refillPerPartition: 1000, maxRestores,
  });
  const ops = createOpsServer({
    logger, metrics,
    readiness: {
      training: async () => {
        const why = learner.notReadyReason();
        if (why !== null) throw new Error(why);
      },
    },
  });
  await learner.start();
  cleanup.push(() => learner.stop(), () => ops.close());
  const divergences = async (outcome: 'restored' | 'gave_up') =>
    (await metrics.getSingleMetric(METRICS.learner.divergences.name)!.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
  const readyz = async () => {
    const res = await ops.inject('/readyz');
    return { status: res.statusCode, body: res.json() as { status: string; checks: Record<string, string> } };
  };
  return { trainer, learner, lines, divergences, readyz, ops };
}

const checkpoints = (model: string) =>
  db.pool.query<{ id: string; train_steps: number }>('SELECT id, train_steps FROM learner_checkpoints WHERE model = $1 ORDER BY id', [model]).then((r) => r.rows);
const changes = (model: string) => withSession(db.pool, (s) => listChanges(s, model));

/** Settles with the learner's `failed` error, or fails after `ms`. */
function failedWithin(learner: Learner, ms: number): Promise<DeepChainError> {
  return Promise.race([
    learner.failed,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the learner did not give up within ${ms} ms`)), ms).unref()),
  ]);
}

before(async () => {
  await selectBackend({ prefer: 'cpu' });
  db = await createTestDatabase();
  await migratePool(db.pool);
  await provisionTestTopics(kafka, prefix);
  await serde.registerAll();
  const ts = syntheticTransitions(400, 1);
  await produceTransitions(kafka, serde, prefix, ts);
});

after(async () => {
  for (const c of cleanup) await c().catch(() => undefined);
  await deleteTestTopics(kafka, prefix);
  await db.drop();
});

test('a learner whose weights turn NaN restores its last good checkpoint, counts, logs and audits it, and is not ready until it checkpoints again', async () => {
  const model = 'watchdog-restore';
  const { trainer, learner, lines, divergences, readyz } = await startLearner(model, 3, { steps: 10, ms: 1000 });
  await eventually(async () => ((await checkpoints(model)).length > 0 ? true : undefined), 90_000, 'a first checkpoint');
  assert.equal((await readyz()).status, 200);

  trainer.pauseAfterRestore = true;
  poison(trainer.model);
  await eventually(async () => (trainer.paused ? true : undefined), 30_000, `the restore\n${JSON.stringify(lines.slice(-5))}`);

  // Back to the newest checkpoint: every network as saved there, finite again.
  const saved = (await withSession(db.pool, (s) => loadLatestCheckpoint(s, model)))!;
  const savedTensors = new Map(decodeWeights(saved.state).tensors.map((t) => [t.name, t.values]));
  const now = trainer.model.snapshot({ items: false }).tensors;
  assert.equal(firstNonFinite(now), null);
  for (const t of now) assert.deepEqual(t.values, savedTensors.get(t.name), `${t.name} as in the checkpoint of step ${saved.trainSteps}`);
  assert.equal(learner.steps, saved.trainSteps, 'the step count goes back with the state');
  assert.ok(trainer.buffer.size >= trainerOptions.trainStart, 'the replay buffer keeps what it holds');

  assert.equal(await divergences('restored'), 1);
  assert.equal(await divergences('gave_up'), 0);
  const logged = lines.find((l) => l.msg === 'training diverged; restoring the last good checkpoint');
  assert.ok(logged, 'the divergence is logged');
  assert.equal(logged.level, 50, 'at error level');
  assert.match(String(logged.reason), /^training diverged: critic loss NaN \(limit 10000\)/);
  assert.ok('criticLoss' in logged && 'actorLoss' in logged && 'probabilityLoss' in logged, 'with the losses');
  const audit = await changes(model);
  assert.equal(audit.length, 1);
  assert.deepEqual({ ...audit[0]!, id: 0, at: null }, {
    id: 0, at: null, model, actor: 'learner', action: 'divergence', fromVersion: null, toVersion: null, reason: audit[0]!.reason,
  });
  assert.match(audit[0]!.reason, new RegExp(`^training diverged: critic loss NaN .*; restored the checkpoint of step ${saved.trainSteps} \\(restore 1 of at most 3 in a row\\)$`));

  const down = await readyz();
  assert.equal(down.status, 503);
  assert.match(down.body.checks.training!, /^recovering from divergence .*: training diverged: critic loss NaN/);

  // Training again: ready once a checkpoint trained since the restore is saved.
  const restoredFrom = (await checkpoints(model)).at(-1)!;
  trainer.paused = false;
  trainer.pauseAfterRestore = false;
  await eventually(async () => ((await readyz()).status === 200 ? true : undefined), 30_000, 'ready again');
  const newest = (await checkpoints(model)).at(-1)!;
  assert.ok(Number(newest.id) > Number(restoredFrom.id) && newest.train_steps > saved.trainSteps, 'a checkpoint trained since the restore');
  assert.ok(lines.some((l) => l.msg === 'trained again since the divergence: checkpoint saved, ready'));
  assert.equal(learner.notReadyReason(), null);
  assert.equal(await divergences('restored'), 1);
});

test('a divergence that keeps coming back gives up after WATCHDOG_MAX_RESTORES restores instead of looping', async () => {
  const model = 'watchdog-give-up';
  const { trainer, learner, lines, divergences, readyz } = await startLearner(model, 2, { steps: 10, ms: 1000 });
  await eventually(async () => ((await checkpoints(model)).length > 0 ? true : undefined), 90_000, 'a first checkpoint');
  trainer.poisoned = true;

  const err = await failedWithin(learner, 30_000);
  assert.equal(err.code, 'WEIGHTS_INVALID');
  assert.equal(err.retriable, false);
  assert.match(err.message, /^model weights rejected: training diverged: critic loss NaN .*after 2 restore\(s\) of the last good checkpoint with no checkpoint saved since \(WATCHDOG_MAX_RESTORES=2\)\. .*restart the learner/);
  assert.equal(await divergences('restored'), 2);
  assert.equal(await divergences('gave_up'), 1);
  assert.deepEqual(
    lines.filter((l) => l.level === 50).map((l) => l.msg),
    [...Array(2).fill('training diverged; restoring the last good checkpoint'), 'training diverged; the learner gives up'],
  );
  const audit = (await changes(model)).reverse();
  assert.deepEqual(audit.map((c) => [c.actor, c.action]), [['learner', 'divergence'], ['learner', 'divergence'], ['learner', 'divergence']]);
  assert.match(audit[2]!.reason, /^gave up: training diverged/);

  // Stopped: no more steps or checkpoints, and no diverged state was ever saved (decoding refuses NaN).
  const steps = learner.steps;
  const saved = await checkpoints(model);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(learner.steps, steps, 'training stopped');
  assert.deepEqual(await checkpoints(model), saved, 'no checkpoint saved since it gave up');
  const states = await db.pool.query<{ state: Buffer }>('SELECT state FROM learner_checkpoints WHERE model = $1', [model]);
  for (const r of states.rows) assert.equal(firstNonFinite(decodeWeights(new Uint8Array(r.state)).tensors), null);
  const down = await readyz();
  assert.equal(down.status, 503);
  assert.match(down.body.checks.training!, /^stopped: training diverged/);
  await assert.rejects(learner.checkpoint(), /the training state is not saved/, 'a final checkpoint at shutdown saves nothing either');
});

test('diverging before the first checkpoint gives up at once: there is nothing to restore', async () => {
  const model = 'watchdog-no-checkpoint';
  const { trainer, learner, divergences } = await startLearner(model, 3, { steps: 1_000_000, ms: 3_600_000 });
  await eventually(async () => (learner.steps > 0 ? true : undefined), 90_000, 'training to start');
  poison(trainer.model);
  const err = await failedWithin(learner, 30_000);
  assert.match(err.message, /^model weights rejected: training diverged: critic loss NaN .*before the first checkpoint: there is no good state to restore/);
  assert.equal(await divergences('restored'), 0);
  assert.equal(await divergences('gave_up'), 1);
  assert.deepEqual(await checkpoints(model), []);
  assert.equal((await changes(model)).length, 1);
});
