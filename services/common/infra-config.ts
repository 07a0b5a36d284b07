/** The environment variables every service shares; each service spreads the ones it needs into its spec. */
import { env } from './config.js';
import { DEFAULT_REWARDS, type Rewards } from './domain.js';
import { DeepChainError } from './errors.js';

export const KAFKA_ENV = {
  KAFKA_BROKERS: env.hostPorts(['127.0.0.1:9092']),
  SCHEMA_REGISTRY_URL: env.url(['http', 'https'], 'http://127.0.0.1:8081/apis/ccompat/v7'),
  /** Prepended to every topic name (topics.ts), so deployments and tests can share a broker. */
  TOPIC_PREFIX: env.matching(/^[A-Za-z0-9._-]{0,100}$/, 'letters, digits, ".", "_" or "-" (a topic-name prefix)', ''),
};
/**
 * Durability of the topics a process creates (provisionTopics): 1 and 1 on a single broker, 3 and 2 on a
 * production cluster (deploy/k8s/overlays/production sets them, beside the KafkaTopic resources).
 */
export const TOPIC_ENV = {
  TOPIC_REPLICATION_FACTOR: env.int({ min: 1, max: 32, default: 1 }),
  /** Replicas that must acknowledge a write with acks=all; at most TOPIC_REPLICATION_FACTOR. */
  TOPIC_MIN_INSYNC_REPLICAS: env.int({ min: 1, max: 32, default: 1 }),
};
export const DATABASE_ENV = {
  DATABASE_URL: env.url(['postgres', 'postgresql'], 'postgresql://postgres@127.0.0.1:5432/test'),
};
export const SERVICE_ENV = {
  LOG_LEVEL: env.oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
  HTTP_HOST: env.string('127.0.0.1'),
  HTTP_PORT: env.int({ min: 0, max: 65535, default: 0 }),
};

/**
 * Rewards per behaviour (paper §4.1: click 1, skip 0, leave −2): one setting for the sessionizer, which
 * writes them into every transition, and the learner, whose Eq. 1 uses them — so both read these same
 * variables (the names are the sessionizer's, where they were first declared). The learner refuses
 * transitions built with other rewards (services/learner/rewards.ts).
 */
export const REWARD_ENV = {
  SESSIONIZER_REWARD_CLICK: env.number({ default: DEFAULT_REWARDS.click }),
  SESSIONIZER_REWARD_SKIP: env.number({ default: DEFAULT_REWARDS.skip }),
  SESSIONIZER_REWARD_LEAVE: env.number({ default: DEFAULT_REWARDS.leave }),
  SESSIONIZER_REWARD_PURCHASE: env.number({ default: DEFAULT_REWARDS.purchase }),
};

/** N of the paper (§4.1) unless HISTORY_LENGTH says otherwise. */
export const DEFAULT_HISTORY_LENGTH = 50;

/**
 * N of the paper (§4.1), the history length: the sessionizer keeps the last N clicked or purchased items in
 * every transition's state, the learner's networks read N items, and a serving node keeps N items per user.
 * One setting for the three, so all read this same variable. The learner dead-letters a transition whose
 * state holds more than its N (built with a larger one: services/learner/intake.ts).
 */
export const HISTORY_ENV = {
  HISTORY_LENGTH: env.int({ min: 1, max: 1_000, default: DEFAULT_HISTORY_LENGTH }),
};

/** The variable of REWARD_ENV that sets each behaviour's reward, for messages that tell what to change. */
export const REWARD_VARIABLES: Readonly<Record<keyof Rewards, keyof typeof REWARD_ENV>> = Object.freeze({
  click: 'SESSIONIZER_REWARD_CLICK',
  skip: 'SESSIONIZER_REWARD_SKIP',
  leave: 'SESSIONIZER_REWARD_LEAVE',
  purchase: 'SESSIONIZER_REWARD_PURCHASE',
});

/** The four REWARD_ENV values as one frozen `Rewards`. */
export function rewardsOf(config: { readonly [K in keyof typeof REWARD_ENV]: number }): Rewards {
  return Object.freeze({
    click: config.SESSIONIZER_REWARD_CLICK,
    skip: config.SESSIONIZER_REWARD_SKIP,
    leave: config.SESSIONIZER_REWARD_LEAVE,
    purchase: config.SESSIONIZER_REWARD_PURCHASE,
  });
}

export interface TopicReplication {
  readonly replicationFactor: number;
  readonly minInsyncReplicas: number;
}

/** A single broker's settings, the defaults of TOPIC_ENV. */
export const SINGLE_NODE_REPLICATION: TopicReplication = Object.freeze({ replicationFactor: 1, minInsyncReplicas: 1 });

/** The two TOPIC_ENV values as one setting, checked against each other (a clear error naming both variables). */
export function topicReplication(config: { TOPIC_REPLICATION_FACTOR: number; TOPIC_MIN_INSYNC_REPLICAS: number }): TopicReplication {
  const { TOPIC_REPLICATION_FACTOR: replicationFactor, TOPIC_MIN_INSYNC_REPLICAS: minInsyncReplicas } = config;
  if (minInsyncReplicas > replicationFactor) {
    throw new DeepChainError(
      'CONFIG_INVALID',
      `TOPIC_MIN_INSYNC_REPLICAS is invalid: expected at most TOPIC_REPLICATION_FACTOR (${replicationFactor}), ` +
        `or no write with acks=all could ever succeed`,
    );
  }
  return Object.freeze({ replicationFactor, minInsyncReplicas });
}
