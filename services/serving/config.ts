/** The serving node's configuration (environment variables), validated once. */
import { hostname } from 'node:os';
import { DATABASE_ENV, env, KAFKA_ENV, loadConfig, SERVICE_ENV } from '../common/index.js';

export const SERVING_ENV = {
  ...KAFKA_ENV,
  ...DATABASE_ENV,
  ...SERVICE_ENV,
  HTTP_PORT: env.int({ min: 0, max: 65535, default: 8090 }),
  SERVING_NODE_ID: env.matching(/^[A-Za-z0-9._-]{1,100}$/, 'a node name (letters, digits, ".", "_", "-")', hostname()),
  MODEL_NAME: env.matching(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a model name (lower-case letters, digits, _ and -)', 'deepchain'),
  /** Candidates recalled when a request names none (paper footnote 2). */
  RECALL_SIZE: env.int({ min: 1, max: 100_000, default: 500 }),
  /** Recent history items whose nearest neighbours make the recalled candidates. */
  RECALL_SEEDS: env.int({ min: 1, max: 100, default: 5 }),
  /** ε of ε-greedy exploration per slot; 0 (the default) serves the plain top-k. */
  EXPLORATION_EPSILON: env.number({ min: 0, max: 1, default: 0 }),
  MAX_K: env.int({ min: 1, max: 1000, default: 100 }),
  MAX_CANDIDATES: env.int({ min: 1, max: 100_000, default: 5000 }),
  /** Items kept per user; the model reads its own N of them. */
  HISTORY_LENGTH: env.int({ min: 1, max: 1000, default: 50 }),
  HISTORY_USERS: env.int({ min: 1, max: 100_000_000, default: 1_000_000 }),
  /**
   * Longest a recommendation event waits for companions before its batch goes to Kafka. Every produce
   * request costs the node's one thread its socket writes and reads (measured here: ≈ 8% of the thread at
   * 500 requests/s with 5 ms batches, against 200 ms); the events' readers work in seconds.
   */
  EVENT_LINGER_MS: env.int({ min: 0, max: 10_000, default: 100 }),
};

export type ServingConfig = ReturnType<typeof loadServingConfig>;

export function loadServingConfig(source: NodeJS.ProcessEnv = process.env) {
  return loadConfig(SERVING_ENV, source);
}
