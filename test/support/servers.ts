/**
 * Where integration tests find the real servers (the ones test/run.sh starts), and a unique topic prefix
 * per test so tests sharing a broker never read each other's records.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import {
  createLogger, createProducer, DATABASE_ENV, env, KAFKA_ENV, loadConfig, provisionTopics, topicNames, type AvroSerde, type Transition,
} from '../../services/common/index.js';

export const servers = loadConfig({
  ...KAFKA_ENV,
  ...DATABASE_ENV,
  TEST_LOG_LEVEL: env.oneOf(['error', 'warn', 'info', 'debug'] as const, 'warn'),
});
export const testLogger = createLogger('test', servers.TEST_LOG_LEVEL);

export function uniquePrefix(name: string): string {
  return `test-${name}-${randomUUID().slice(0, 8)}.`;
}

/** Creates the product's topics under `prefix` on the real broker. */
export async function provisionTestTopics(kafka: Kafka, prefix: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await provisionTopics(admin, prefix);
  } finally {
    await admin.disconnect();
  }
}

/** Deletes the product's topics under `prefix` (those that exist). */
export async function deleteTestTopics(kafka: Kafka, prefix: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: Object.values(topicNames(prefix)) }).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

/** Writes `transitions` to the prefix's `transitions` topic (Avro, keyed by user), as a sessionizer would. */
export async function produceTransitions(kafka: Kafka, serde: AvroSerde, prefix: string, transitions: readonly Transition[]): Promise<void> {
  const producer = createProducer(kafka);
  await producer.connect();
  try {
    await producer.send({
      topic: topicNames(prefix).transitions,
      messages: await Promise.all(transitions.map(async (t) => ({ key: t.userId, value: await serde.encode('transitions', t) }))),
    });
  } finally {
    await producer.disconnect();
  }
}
