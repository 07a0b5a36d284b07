/**
 * Builds a running gateway from its configuration: the Kafka client, the SDK's event producer, the
 * dead-letter sink and the HTTP app. main.ts and the integration tests both start it this way.
 */
import type { FastifyInstance } from 'fastify';
import { createKafka, createMetricsRegistry, type Logger } from '../common/index.js';
import { createEventProducer, type EventProducer } from '../sdk/index.js';
import { buildGatewayApp } from './app.js';
import type { GatewayConfig } from './config.js';
import { createKafkaDeadLetterSink, type KafkaDeadLetterSink } from './dead-letters.js';

export interface Gateway {
  app: FastifyInstance;
  events: EventProducer;
  deadLetters: KafkaDeadLetterSink;
  /** Stops taking requests, answers those in flight, flushes the producer, disconnects. */
  close(): Promise<void>;
}

export async function createGateway(config: GatewayConfig, logger: Logger): Promise<Gateway> {
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'deepchain-gateway', logger });
  const events = createEventProducer({
    kafka,
    schemaRegistryUrl: config.SCHEMA_REGISTRY_URL,
    topicPrefix: config.TOPIC_PREFIX,
    maxBufferedEvents: config.GATEWAY_BUFFER_EVENTS,
    batchSize: config.GATEWAY_KAFKA_BATCH_EVENTS,
    lingerMs: config.GATEWAY_LINGER_MS,
    onFull: 'block',
    blockTimeoutMs: config.GATEWAY_BLOCK_TIMEOUT_MS,
    ackTimeoutMs: config.GATEWAY_ACK_TIMEOUT_MS,
    logger,
  });
  const deadLetters = createKafkaDeadLetterSink({
    kafka,
    schemaRegistryUrl: config.SCHEMA_REGISTRY_URL,
    topicPrefix: config.TOPIC_PREFIX,
    ackTimeoutMs: config.GATEWAY_ACK_TIMEOUT_MS,
    logger,
  });
  const app = await buildGatewayApp({
    config,
    logger,
    metrics: createMetricsRegistry('gateway'),
    events,
    deadLetters,
    readiness: {
      kafka: async () => {
        if (!events.connected) throw new Error('event producer not connected');
      },
    },
  });
  // Connect now, but serve meanwhile: until Kafka answers, batches get 503 and /readyz says why.
  void Promise.all([events.connect(), deadLetters.connect()]).catch((err: unknown) =>
    logger.warn({ err: (err as Error).message }, 'Kafka not reachable yet; batches get 503 until it is'));
  return {
    app,
    events,
    deadLetters,
    async close() {
      await app.close();
      await events.close();
      await deadLetters.close();
    },
  };
}
