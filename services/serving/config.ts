/** The serving node's configuration (environment variables), validated once. */
import { hostname } from 'node:os';
import { DATABASE_ENV, env, HISTORY_ENV, KAFKA_ENV, loadConfig, SERVICE_ENV } from '../common/index.js';
import type { Exploration } from './ranking.js';

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
  /**
   * Exploration (ranking.ts), on by default so that the logged propensities let the release gate and
   * off-policy evaluation see beyond the served version's own choices: 'epsilon-greedy' replaces a slot's
   * pick by a random recalled candidate with probability EXPLORATION_EPSILON (0 = the plain top-k);
   * 'plackett-luce' samples each slot from a softmax of the scores at EXPLORATION_TEMPERATURE.
   */
  EXPLORATION: env.oneOf(['epsilon-greedy', 'plackett-luce'] as const, 'epsilon-greedy'),
  EXPLORATION_EPSILON: env.number({ min: 0, max: 1, default: 0.05 }),
  /** In units of the score a_t · e_k; near 0 is greedy, large is uniform. */
  EXPLORATION_TEMPERATURE: env.number({ min: 1e-6, max: 1e6, default: 0.1 }),
  MAX_K: env.int({ min: 1, max: 1000, default: 100 }),
  MAX_CANDIDATES: env.int({ min: 1, max: 100_000, default: 5000 }),
  /** N: items kept per user (the model reads its own N of them); the sessionizer and the learner read the same variable. */
  ...HISTORY_ENV,
  /**
   * Users whose history a node holds: past it the least recently seen user (oldest newest transition) is
   * forgotten and gets an empty history until their next transition, which brings the sessionizer's whole
   * history for them back (history.ts). Memory measured here: about 0.5 KB per user at 10 items of 10-character ids, 2.1 KB at 50.
   */
  HISTORY_USERS: env.int({ min: 1, max: 100_000_000, default: 1_000_000 }),
  /**
   * How far back a starting node reads `transitions` for histories, in hours; 0 reads the whole retained
   * topic (7 days). Start-up reads every transition in the window (measured here ≈ 25,000–40,000 a second on two
   * cores), so the window bounds it; users with no transition in it start empty, as evicted ones do, until
   * their next transition. README "Serving: users' histories".
   */
  HISTORY_LOOKBACK_HOURS: env.int({ min: 0, max: 100_000, default: 24 }),
  /**
   * Longest a recommendation event waits for companions before its batch goes to Kafka. Every produce
   * request costs the node's one thread its socket writes and reads (measured here: ≈ 8% of the thread at
   * 500 requests/s with 5 ms batches, against 200 ms); the events' readers work in seconds.
   */
  EVENT_LINGER_MS: env.int({ min: 0, max: 10_000, default: 100 }),
  /**
   * Most recommendation events held while Kafka is slow or away (event-spill.ts): a minute of outage at
   * 500 requests/s. Requests are answered at once regardless; events beyond the bound are dropped and
   * counted (deepchain_serving_events_dropped_total). Memory measured here: about 1.9 KB per held event
   * at k = 10 (≈ 56 MB at the default), 3.3 KB at k = 100 (≈ 100 MB).
   */
  EVENT_SPILL_EVENTS: env.int({ min: 1, max: 10_000_000, default: 30_000 }),
};

export type ServingConfig = ReturnType<typeof loadServingConfig>;

export function loadServingConfig(source: NodeJS.ProcessEnv = process.env) {
  const c = loadConfig(SERVING_ENV, source);
  const exploration: Exploration = c.EXPLORATION === 'plackett-luce'
    ? { policy: 'plackett-luce', temperature: c.EXPLORATION_TEMPERATURE }
    : { policy: 'epsilon-greedy', epsilon: c.EXPLORATION_EPSILON };
  const historyLookbackMs = c.HISTORY_LOOKBACK_HOURS === 0 ? null : c.HISTORY_LOOKBACK_HOURS * 3_600_000;
  return { ...c, exploration, historyLookbackMs };
}
