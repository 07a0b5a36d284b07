/** The one place Kafka clients are made: kafkajs, logging through pino. */
import { Kafka, logLevel, Partitioners, type KafkaConfig, type LogEntry, type Producer, type ProducerConfig } from 'kafkajs';
import type { Logger } from './log.js';

export interface KafkaClientOptions {
  brokers: readonly string[];
  clientId: string;
  logger: Logger;
}

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

export function createKafka(options: KafkaClientOptions, extra: Partial<KafkaConfig> = {}): Kafka {
  const log = options.logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    logLevel: logLevel.WARN,
    logCreator: () => ({ level, log: entry }: LogEntry) => {
      const { message, ...rest } = entry;
      log[LEVELS[level] ?? 'info']({ namespace: entry.namespace, ...rest }, message);
    },
    ...extra,
  });
}

/**
 * Producers are idempotent (no duplicates on retry) and partition by murmur2 of the key, as Java clients
 * do, so a user's records land in the same partition whichever client wrote them.
 */
export function createProducer(kafka: Kafka, config: ProducerConfig = {}): Producer {
  return kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 5,
    ...config,
  });
}
