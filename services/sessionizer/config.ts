/** The sessionizer's environment variables, validated once at start into a frozen object. */
import { hostname } from 'node:os';
import {
  DEFAULT_SCENARIO_GRAPH, DeepChainError, env, HISTORY_ENV, KAFKA_ENV, loadConfig, REWARD_ENV, rewardsOf, SERVICE_ENV, TOPIC_ENV, topicReplication,
  type ConfigOf,
} from '../common/index.js';
import { DEFAULT_SETTINGS, type SessionizerSettings } from './state.js';

const D = DEFAULT_SETTINGS;

export const SESSIONIZER_ENV = {
  ...KAFKA_ENV,
  /** The sessionizer creates the product's topics that are missing at start (provisionTopics). */
  ...TOPIC_ENV,
  ...SERVICE_ENV,
  HTTP_PORT: env.int({ min: 0, max: 65535, default: 8082 }),
  /** Stable per process instance across restarts: it names the transactional id (zombie fencing). */
  SESSIONIZER_INSTANCE_ID: env.string(hostname()),
  SESSIONIZER_GROUP_ID: env.string('sessionizer'),
  /** N of the paper (§4.1): items kept in every transition's state; the learner and serving read the same variable. */
  ...HISTORY_ENV,
  SESSIONIZER_SESSION_TIMEOUT_MS: env.int({ min: 1, default: D.sessionTimeoutMs }),
  SESSIONIZER_GRACE_MS: env.int({ min: 0, default: D.graceMs }),
  SESSIONIZER_WAIT_WINDOW_MS: env.int({ min: 0, default: D.waitWindowMs }),
  SESSIONIZER_DEDUPE_WINDOW: env.int({ min: 1, max: 10_000, default: D.dedupeWindow }),
  /** A user with no event for this long is forgotten (history too): memory and restores follow active users. */
  SESSIONIZER_USER_RETENTION_MS: env.int({ min: 1, default: D.userRetentionMs }),
  /** Rewards per behaviour, written into every transition: the learner reads the same variables. */
  ...REWARD_ENV,
  /** How often idle sessions are closed and due buffered events applied when no events arrive. */
  SESSIONIZER_TICK_MS: env.int({ min: 10, default: 1_000 }),
  SESSIONIZER_TRANSACTION_TIMEOUT_MS: env.int({ min: 1_000, default: 30_000 }),
  /** Consumer-group session timeout: how soon a dead process's partitions move to another. */
  SESSIONIZER_KAFKA_SESSION_TIMEOUT_MS: env.int({ min: 3_000, default: 15_000 }),
  SESSIONIZER_MAX_BYTES_PER_PARTITION: env.int({ min: 1_024, default: 1024 * 1024 }),
  SESSIONIZER_MAX_BYTES: env.int({ min: 1_024, default: 10 * 1024 * 1024 }),
};

export type SessionizerConfig = ConfigOf<typeof SESSIONIZER_ENV>;

export function loadSessionizerConfig(source?: NodeJS.ProcessEnv): SessionizerConfig {
  if (loadConfig({ SESSIONIZER_HISTORY_LENGTH: env.string('') }, source).SESSIONIZER_HISTORY_LENGTH !== '') {
    // Read no more: a deployment still setting it would otherwise run with another N than it asks for.
    throw new DeepChainError('CONFIG_INVALID', 'SESSIONIZER_HISTORY_LENGTH is no longer read: set HISTORY_LENGTH, ' +
      'the one history length of the sessionizer, the learner and serving');
  }
  const config = loadConfig(SESSIONIZER_ENV, source);
  topicReplication(config); // the two replication variables must agree
  if (config.SESSIONIZER_USER_RETENTION_MS < config.SESSIONIZER_SESSION_TIMEOUT_MS) {
    // A user must not be forgotten while their session may still be open (fold.ts expiredAt).
    throw new DeepChainError('CONFIG_INVALID',
      `SESSIONIZER_USER_RETENTION_MS (${config.SESSIONIZER_USER_RETENTION_MS}) is shorter than SESSIONIZER_SESSION_TIMEOUT_MS ` +
      `(${config.SESSIONIZER_SESSION_TIMEOUT_MS}): set it to at least the session timeout`,
    );
  }
  return config;
}

export function settingsOf(config: SessionizerConfig): SessionizerSettings {
  return Object.freeze({
    ...DEFAULT_SETTINGS,
    historyLength: config.HISTORY_LENGTH,
    sessionTimeoutMs: config.SESSIONIZER_SESSION_TIMEOUT_MS,
    graceMs: config.SESSIONIZER_GRACE_MS,
    waitWindowMs: config.SESSIONIZER_WAIT_WINDOW_MS,
    dedupeWindow: config.SESSIONIZER_DEDUPE_WINDOW,
    userRetentionMs: config.SESSIONIZER_USER_RETENTION_MS,
    rewards: rewardsOf(config),
    graph: DEFAULT_SCENARIO_GRAPH,
  });
}
