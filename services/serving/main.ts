/** The serving node: wires configuration, clients, the model slot, its streams and the HTTP API. */
import {
  AvroSerde, createKafka, createLogger, createMetricsRegistry, createOpsServer, createPool, createSchemaRegistry,
  DeepChainError, topicNames,
} from '../common/index.js';
import { selectBackend } from '../model/index.js';
import { createEventProducer } from '../sdk/index.js';
import { addServingRoutes } from './app.js';
import { loadServingConfig } from './config.js';
import { EventSpill } from './event-spill.js';
import { UserHistories } from './history.js';
import { ModelSlot } from './model-slot.js';
import { ServingStreams } from './streams.js';

let config;
try {
  config = loadServingConfig();
} catch (err) {
  console.error(`serving: ${(err as DeepChainError).message}`);
  process.exit(1);
}
const logger = createLogger('serving', config.LOG_LEVEL).child({ node: config.SERVING_NODE_ID });
const metrics = createMetricsRegistry('serving');
// Serving runs the actors in plain typed-array loops; the backend only holds the loaded variables.
await selectBackend({ prefer: 'cpu', onLog: (msg, fields) => logger.info(fields, msg) });

const topics = topicNames(config.TOPIC_PREFIX);
const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `serving-${config.SERVING_NODE_ID}`, logger });
const pool = createPool(config.DATABASE_URL, 2, (err) => logger.warn({ err: err.message }, 'idle Postgres connection lost'));
const serde = new AvroSerde(createSchemaRegistry(config.SCHEMA_REGISTRY_URL), topics);
const slot = new ModelSlot(config.MODEL_NAME);
const challenger = new ModelSlot(config.MODEL_NAME);
const histories = new UserHistories(config.HISTORY_LENGTH, config.HISTORY_USERS);
// The spill holds the events while Kafka is away and hands the producer one batch at a time, in order.
const events = createEventProducer({
  kafka, schemaRegistryUrl: config.SCHEMA_REGISTRY_URL, topicPrefix: config.TOPIC_PREFIX, lingerMs: config.EVENT_LINGER_MS, logger,
});
const spill = new EventSpill({ capacity: config.EVENT_SPILL_EVENTS, deliver: (batch) => events.sendAll(batch), logger, metrics });
const streams = new ServingStreams({
  nodeId: config.SERVING_NODE_ID, kafka, serde, pool, topics, slot, challenger, histories, historyLookbackMs: config.historyLookbackMs, logger, metrics,
});

const app = createOpsServer({
  logger, metrics,
  readiness: {
    model: async () => {
      if (!slot.current) throw new Error('no model version loaded yet');
    },
    // Until the node has read `transitions` up to the end it saw at start, histories are behind the learner's.
    histories: () => streams.historiesReady(),
  },
});
addServingRoutes(app, {
  slot, challenger, histories, metrics, maxK: config.MAX_K, maxCandidates: config.MAX_CANDIDATES,
  options: { recallSize: config.RECALL_SIZE, recallSeeds: config.RECALL_SEEDS, exploration: config.exploration },
  logEvent: (event) => void spill.offer(event),
});
await app.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
await streams.start();
logger.info({ port: config.HTTP_PORT }, 'serving node started');

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    logger.info({ signal }, 'stopping');
    await app.close();
    await streams.stop();
    await spill.close(10_000);
    await events.close();
    await pool.end();
    process.exit(0);
  });
}
