/**
 * Prometheus metrics: one registry per process, and the catalogue of every metric name the services
 * export (METRICS), declared here once. Services create their metrics with these names; the alert rules
 * and the Grafana dashboard under deploy/ are checked against this catalogue (test/unit/deploy-monitoring).
 */
import client from 'prom-client';

export const METRIC_PREFIX = 'deepchain_';

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricName<T extends MetricType = MetricType> {
  readonly type: T;
  /** The full name, prefix included; a histogram is exported as `<name>_bucket`, `_sum` and `_count`. */
  readonly name: string;
}

const metric = <T extends MetricType>(type: T, name: string): MetricName<T> => Object.freeze({ type, name: METRIC_PREFIX + name });

/** Every metric a service exports besides the default process metrics (createMetricsRegistry), by service. */
export const METRICS = Object.freeze({
  gateway: Object.freeze({
    requests: metric('counter', 'gateway_requests_total'),
    events: metric('counter', 'gateway_events_total'),
    requestSeconds: metric('histogram', 'gateway_request_duration_seconds'),
    bufferedEvents: metric('gauge', 'gateway_buffered_events'),
  }),
  sessionizer: Object.freeze({
    events: metric('counter', 'sessionizer_events_total'),
    transitions: metric('counter', 'sessionizer_transitions_total'),
    deadLetters: metric('counter', 'sessionizer_dead_letters_total'),
    transactions: metric('counter', 'sessionizer_transactions_total'),
    restores: metric('counter', 'sessionizer_changelog_restores_total'),
    users: metric('gauge', 'sessionizer_users'),
    /** Users forgotten after `SESSIONIZER_USER_RETENTION_MS` without an event (a tombstone in the changelog). */
    usersEvicted: metric('counter', 'sessionizer_users_evicted_total'),
    /** Seconds each restore of assigned partitions from the changelog took, and the records it read. */
    restoreSeconds: metric('histogram', 'sessionizer_changelog_restore_seconds'),
    restoreRecords: metric('counter', 'sessionizer_changelog_restore_records_total'),
    consumerLag: metric('gauge', 'sessionizer_consumer_lag'),
    /** Transitions committed, by `scenario` (the page) and `behaviour` (click, skip, leave, purchase). */
    behaviours: metric('counter', 'sessionizer_behaviours_total'),
    /** The reward the sessionizer gives each `behaviour` (its settings): reward per scenario is Σ behaviours × this. */
    behaviourReward: metric('gauge', 'sessionizer_behaviour_reward'),
    /** Sessions ended, by `outcome`: `counted` (every transition committed by this process), `partial`, `empty`. */
    sessions: metric('counter', 'sessionizer_sessions_total'),
    /** Reward per counted session (Σ of its transitions' rewards): `_count`, `_sum` and buckets. */
    sessionReward: metric('histogram', 'sessionizer_session_reward'),
    /** Σ reward² over counted sessions: with the histogram's count and sum, the variance of reward per session. */
    sessionRewardSquares: metric('counter', 'sessionizer_session_reward_squares_total'),
    /** Transitions of counted sessions by `behaviour`: per session, clicks, purchases, leaves and (summed) its length. */
    sessionBehaviours: metric('counter', 'sessionizer_session_behaviours_total'),
  }),
  learner: Object.freeze({
    transitions: metric('counter', 'learner_transitions_total'),
    steps: metric('counter', 'learner_train_steps_total'),
    loss: metric('gauge', 'learner_loss'),
    versions: metric('counter', 'learner_versions_total'),
    replaySize: metric('gauge', 'learner_replay_size'),
    consumerLag: metric('gauge', 'learner_consumer_lag'),
    /** Divergences the watchdog met, by outcome: `restored` (the last good checkpoint) or `gave_up` (the learner stopped). */
    divergences: metric('counter', 'learner_divergences_total'),
    /** The challenger being measured (services/learner/publisher.ts); 0 when none. */
    challengerVersion: metric('gauge', 'learner_challenger_version'),
    /** Pages tallied for the challenger being measured, by `arm`: `challenger`, `live` (challenge.ts). */
    challengerPages: metric('gauge', 'learner_challenger_pages'),
    /** Challengers decided, by `outcome`: `promoted`, `rejected`. */
    challengers: metric('counter', 'learner_challengers_total'),
  }),
  serving: Object.freeze({
    recommendSeconds: metric('histogram', 'serving_recommend_seconds'),
    requests: metric('counter', 'serving_requests_total'),
    modelVersion: metric('gauge', 'serving_model_version'),
    modelLoadedAt: metric('gauge', 'serving_model_loaded_timestamp_seconds'),
    /** The challenger version this node holds (services/serving/challenger.ts); 0 when none. */
    challengerVersion: metric('gauge', 'serving_challenger_version'),
    /** Requests answered by the challenger version. */
    challengerRequests: metric('counter', 'serving_challenger_requests_total'),
    /** Recommendation events waiting in the node's spill for Kafka (services/serving/event-spill.ts). */
    eventsSpilled: metric('gauge', 'serving_events_spilled'),
    /** Recommendation events dropped because the spill was full (EVENT_SPILL_EVENTS): never delivered. */
    eventsDropped: metric('counter', 'serving_events_dropped_total'),
    /** Users whose history the node holds (at most HISTORY_USERS; services/serving/history.ts). */
    historyUsers: metric('gauge', 'serving_history_users'),
    /** Users forgotten to keep within HISTORY_USERS (least recently seen first). */
    historyEvicted: metric('counter', 'serving_history_users_evicted_total'),
    /** Transitions read for histories, by `outcome`: `applied`, `undecodable` (skipped). */
    historyTransitions: metric('counter', 'serving_history_transitions_total'),
    /** Records of `transitions` still to read before the end seen at start: 0 once caught up (ready), −1 before start. */
    historyBehind: metric('gauge', 'serving_history_catchup_behind'),
  }),
});

export function createMetricsRegistry(service: string): client.Registry {
  const registry = new client.Registry();
  registry.setDefaultLabels({ service });
  client.collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return registry;
}

export { client as prom };
