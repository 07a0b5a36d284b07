/**
 * The sessionizer process: events → transitions, exactly once (DESIGN.md §4). Only wiring: config, clients,
 * ops server, the loop, shutdown.
 */
import {
  createKafka, createLogger, createMetricsRegistry, createOpsServer, createSchemaRegistry, provisionTopics, topicNames, topicReplication,
  withRetry,
} from '../common/index.js';
import { loadSessionizerConfig, settingsOf } from './config.js';
import { Sessionizer } from './loop.js';
import { createSessionizerMetrics } from './metrics.js';
import { WireCodec } from './wire.js';

const config = loadSessionizerConfig();
const logger = createLogger('sessionizer', config.LOG_LEVEL);
const registry = createMetricsRegistry('sessionizer');
const topics = topicNames(config.TOPIC_PREFIX);
const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: `sessionizer-${config.SESSIONIZER_INSTANCE_ID}`, logger });
const admin = kafka.admin();
const wire = new WireCodec(createSchemaRegistry(config.SCHEMA_REGISTRY_URL), topics);

let shuttingDown = false;
const fatal = (err: Error) => {
  logger.fatal({ err }, 'sessionizer cannot go on');
  process.exit(1);
};

await admin.connect();
await provisionTopics(admin, config.TOPIC_PREFIX, topicReplication(config));
await withRetry(() => wire.register(), { attempts: 10 });

const sessionizer = new Sessionizer({
  kafka, admin, wire, topics, logger,
  settings: settingsOf(config),
  metrics: createSessionizerMetrics(registry),
  groupId: `${config.TOPIC_PREFIX}${config.SESSIONIZER_GROUP_ID}`,
  instanceId: config.SESSIONIZER_INSTANCE_ID,
  tickMs: config.SESSIONIZER_TICK_MS,
  transactionTimeoutMs: config.SESSIONIZER_TRANSACTION_TIMEOUT_MS,
  sessionTimeoutMs: config.SESSIONIZER_KAFKA_SESSION_TIMEOUT_MS,
  maxBytesPerPartition: config.SESSIONIZER_MAX_BYTES_PER_PARTITION,
  maxBytes: config.SESSIONIZER_MAX_BYTES,
  onFatal: fatal,
});

const ops = createOpsServer({
  logger,
  metrics: registry,
  readiness: {
    kafka: async () => {
      if (!sessionizer.ready) throw new Error('no partitions assigned yet');
    },
  },
});
await ops.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
await sessionizer.start();
logger.info({ topics, instance: config.SESSIONIZER_INSTANCE_ID }, 'sessionizer started');

const shutdown = async (signal: string) => {
  if (shuttingDown) return;
  shuttingDown = true;
  logger.info({ signal }, 'shutting down');
  await sessionizer.stop();
  await ops.close();
  await admin.disconnect().catch(() => undefined);
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
