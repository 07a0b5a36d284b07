/** The environment variables every service shares; each service spreads the ones it needs into its spec. */
import { env } from './config.js';

export const KAFKA_ENV = {
  KAFKA_BROKERS: env.hostPorts(['127.0.0.1:9092']),
  SCHEMA_REGISTRY_URL: env.url(['http', 'https'], 'http://127.0.0.1:8081/apis/ccompat/v7'),
  /** Prepended to every topic name (topics.ts), so deployments and tests can share a broker. */
  TOPIC_PREFIX: env.matching(/^[A-Za-z0-9._-]{0,100}$/, 'letters, digits, ".", "_" or "-" (a topic-name prefix)', ''),
};
export const DATABASE_ENV = {
  DATABASE_URL: env.url(['postgres', 'postgresql'], 'postgresql://postgres@127.0.0.1:5432/test'),
};
export const SERVICE_ENV = {
  LOG_LEVEL: env.oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
  HTTP_HOST: env.string('127.0.0.1'),
  HTTP_PORT: env.int({ min: 0, max: 65535, default: 0 }),
};
