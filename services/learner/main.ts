/** The learner process: wires configuration, clients, the ops server and the loop (loop.ts). */
import {
  AvroSerde, createKafka, createLogger, createMetricsRegistry, createOpsServer, createPool, createSchemaRegistry,
  DeepChainError, migratePool, topicNames,
} from '../common/index.js';
import { selectBackend } from '../model/index.js';
import { loadLearnerConfig } from './config.js';
import { Learner } from './loop.js';
import { OnlineTrainer } from './trainer.js';

let config;
try {
  config = loadLearnerConfig();
} catch (err) {
  console.error(`learner: ${(err as DeepChainError).message}`);
  process.exit(1);
}
const logger = createLogger('learner', config.LOG_LEVEL);
const metrics = createMetricsRegistry('learner');
await selectBackend({ prefer: config.BACKEND, onLog: (msg, fields) => logger.info(fields, msg) });

const topics = topicNames(config.TOPIC_PREFIX);
const pool = createPool(config.DATABASE_URL, 5, (err) => logger.warn({ err: err.message }, 'idle Postgres connection lost'));
await migratePool(pool);
const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `learner-${config.MODEL_NAME}`, logger });
const serde = new AvroSerde(createSchemaRegistry(config.SCHEMA_REGISTRY_URL), topics);
await serde.registerAll(['transitions', 'models', 'deadLetters']);

const trainer = new OnlineTrainer({
  model: {
    scenarios: config.scenarios, embeddingSize: config.EMBEDDING_SIZE, hiddenSize: config.HIDDEN_SIZE,
    historyLength: config.HISTORY_LENGTH, gamma: config.GAMMA, tau: config.TAU, target: config.TARGET, cloning: config.CLONING,
    rewards: config.rewards,
  },
  replayCapacity: config.REPLAY_CAPACITY, batchSize: config.BATCH_SIZE, trainStart: config.TRAIN_START,
  holdoutEvery: config.HOLDOUT_EVERY, holdoutSize: config.HOLDOUT_SIZE,
  embeddingRefreshSteps: config.EMBEDDING_REFRESH_STEPS, seed: config.SEED,
});
const learner = new Learner({
  model: config.MODEL_NAME, trainer, kafka, serde, pool, topics, logger, metrics,
  rules: {
    everySteps: config.PUBLISH_EVERY_STEPS, everyMs: config.PUBLISH_EVERY_S * 1000,
    maxLoss: config.PUBLISH_MAX_LOSS,
    gate: {
      kind: config.RELEASE_GATE, estimator: config.GATE_ESTIMATOR, margin: config.GATE_MARGIN, clip: config.GATE_CLIP,
      minPages: config.GATE_MIN_PAGES, minEffectiveSampleSize: config.GATE_MIN_ESS, resamples: config.GATE_RESAMPLES,
    },
  },
  checkpointEverySteps: config.CHECKPOINT_EVERY_STEPS, checkpointEveryMs: config.CHECKPOINT_EVERY_S * 1000,
  refillPerPartition: config.REFILL_PER_PARTITION, keepWeights: config.REGISTRY_KEEP_WEIGHTS, challengerShare: config.CHALLENGER_SHARE,
  challengeTimeoutMs: config.CHALLENGER_MAX_MINUTES * 60_000,
  maxRestores: config.WATCHDOG_MAX_RESTORES,
});

const ops = createOpsServer({
  logger, metrics,
  readiness: {
    database: async () => void (await pool.query('SELECT 1')),
    // Not ready from a divergence until a checkpoint trained since the restore is saved (watchdog.ts).
    training: async () => {
      const why = learner.notReadyReason();
      if (why !== null) throw new Error(why);
    },
  },
});
await ops.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
let stopping = false;
// Rewards that disagree with the transitions' (learner/rewards.ts): stop before training, no checkpoint, exit 1.
// Training that keeps diverging (learner/watchdog.ts): stop, no diverged checkpoint, exit 1.
void learner.failed.then(async (err) => {
  if (stopping) return;
  stopping = true;
  logger.fatal({ err: err.message }, 'learner cannot go on');
  console.error(`learner: ${err.message}`);
  await learner.stop().catch(() => undefined);
  await ops.close();
  await pool.end();
  process.exit(1);
});
await learner.start();
logger.info({ model: config.MODEL_NAME, steps: learner.steps, rewards: config.rewards }, 'learner started');

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: last checkpoint, then exit');
    await learner.stop();
    await learner.checkpoint()
      .then((r) => r === 'saved' || logger.error({ nonFinite: r.nonFinite }, 'final checkpoint not saved: the training state diverged'))
      .catch((err) => logger.error({ err }, 'final checkpoint failed'));
    await ops.close();
    await pool.end();
    process.exit(0);
  });
}
