/** The learner's configuration (environment variables), validated once. Model defaults are the model library's (the paper's, and the cloning term chosen on validation). */
import {
  DATABASE_ENV, env, HISTORY_ENV, KAFKA_ENV, loadConfig, REWARD_ENV, rewardsOf, SERVICE_ENV, SCENARIOS, type Scenario,
} from '../common/index.js';
import { DEFAULT_CONFIG } from '../model/index.js';
import { DEFAULT_KEEP_WEIGHTS } from '../registry/retention.js';
import { DEFAULT_GATE } from './validation.js';

export const LEARNER_ENV = {
  ...KAFKA_ENV,
  ...DATABASE_ENV,
  ...SERVICE_ENV,
  HTTP_PORT: env.int({ min: 0, max: 65535, default: 8083 }),
  MODEL_NAME: env.matching(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a model name (lower-case letters, digits, _ and -)', 'deepchain'),
  LEARNER_SCENARIOS: env.matching(
    new RegExp(`^(${SCENARIOS.join('|')})(,(${SCENARIOS.join('|')}))*$`),
    `a comma-separated list of scenarios (${SCENARIOS.join(', ')})`,
    SCENARIOS.join(','),
  ),
  BACKEND: env.oneOf(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const, 'auto'),
  EMBEDDING_SIZE: env.int({ min: 1, max: 1024, default: 20 }),
  HIDDEN_SIZE: env.int({ min: 1, max: 4096, default: 64 }),
  /** N: the sessionizer's variable, so both read one setting (transitions with longer states are dead-lettered). */
  ...HISTORY_ENV,
  GAMMA: env.number({ min: 0, max: 1, default: 0.95 }),
  TAU: env.number({ min: 0, max: 1, default: 0.01 }),
  TARGET: env.oneOf(['graph', 'literal', 'model-free'] as const, 'graph'),
  /** r_b of Eq. 1: the sessionizer's variables, so both sides read one setting (transitions built otherwise are refused). */
  ...REWARD_ENV,
  /** Weight of the actors' behaviour-cloning term (beyond the paper; 0 = the paper's Eq. 4 alone). */
  CLONING: env.number({ min: 0, max: 1000, default: DEFAULT_CONFIG.cloning }),
  BATCH_SIZE: env.int({ min: 1, max: 65536, default: 64 }),
  REPLAY_CAPACITY: env.int({ min: 1, max: 100_000_000, default: 1_000_000 }),
  TRAIN_START: env.int({ min: 1, max: 100_000_000, default: 256 }),
  HOLDOUT_EVERY: env.int({ min: 2, max: 1_000_000, default: 20 }),
  /** Most recent held-out transitions kept: the release gate's data (about 4,000 pages of 5 items). */
  HOLDOUT_SIZE: env.int({ min: 1, max: 1_000_000, default: 20_000 }),
  EMBEDDING_REFRESH_STEPS: env.int({ min: 1, max: 1_000_000, default: 50 }),
  /** Transitions per partition read again after a restart to refill the replay buffer. */
  REFILL_PER_PARTITION: env.int({ min: 0, max: 100_000_000, default: 125_000 }),
  CHECKPOINT_EVERY_STEPS: env.int({ min: 1, max: 100_000_000, default: 1000 }),
  CHECKPOINT_EVERY_S: env.number({ min: 0.1, max: 86_400, default: 60 }),
  PUBLISH_EVERY_STEPS: env.int({ min: 1, max: 100_000_000, default: 500 }),
  PUBLISH_EVERY_S: env.number({ min: 0.1, max: 86_400, default: 5 }),
  /** Also the divergence watchdog's loss limit: a step's critic or probability loss above it restores the last good checkpoint. */
  PUBLISH_MAX_LOSS: env.number({ min: 0, default: 1e4 }),
  /** The release gate (validation.ts): 'off-policy' compares each snapshot with the served version; 'none' promotes every finite one. */
  RELEASE_GATE: env.oneOf(['off-policy', 'none'] as const, DEFAULT_GATE.kind),
  GATE_ESTIMATOR: env.oneOf(['snips', 'ips'] as const, DEFAULT_GATE.estimator),
  /** Reward per page the 95% lower bound of (candidate − served) must reach: 0 = better with 95% confidence. */
  GATE_MARGIN: env.number({ min: -10, max: 10, default: DEFAULT_GATE.margin }),
  /**
   * Bound on one importance weight. An item explored into a page has a tiny propensity (ε/500 at the
   * serving defaults, a weight of 10,000); unclipped, a handful of them would decide every comparison.
   */
  GATE_CLIP: env.number({ min: 1, max: 1e9, default: DEFAULT_GATE.clip }),
  /** Below these the gate answers "not enough data" and the snapshot is not promoted. */
  GATE_MIN_PAGES: env.int({ min: 1, max: 100_000_000, default: DEFAULT_GATE.minPages }),
  GATE_MIN_ESS: env.number({ min: 0, max: 1e9, default: DEFAULT_GATE.minEffectiveSampleSize }),
  GATE_RESAMPLES: env.int({ min: 1, max: 100_000, default: DEFAULT_GATE.resamples }),
  /**
   * Challenger traffic (publisher.ts): the share of users serving nodes answer with the challenger, a snapshot
   * the off-policy gate did not find worse than the live version; it goes live only if its own traffic beats
   * the live version's. 0 = none: the off-policy gate promotes.
   */
  CHALLENGER_SHARE: env.number({ min: 0, max: 0.5, default: 0 }),
  /** How long a challenger may gather the gate's minimum of pages (GATE_MIN_PAGES per arm) before it is rejected undecided. */
  CHALLENGER_MAX_MINUTES: env.number({ min: 1, max: 7 * 24 * 60, default: 60 }),
  /** Registry retention: the newest versions that keep their weights (live, pinned and reported ones always do). */
  REGISTRY_KEEP_WEIGHTS: env.int({ min: 1, max: 1_000_000, default: DEFAULT_KEEP_WEIGHTS }),
  /** Divergence watchdog: restores of the last good checkpoint in a row (no checkpoint saved in between) before the learner gives up and exits. */
  WATCHDOG_MAX_RESTORES: env.int({ min: 0, max: 1000, default: 3 }),
  SEED: env.int({ min: 0, max: 2 ** 31 - 1, default: 1 }),
};

export type LearnerConfig = ReturnType<typeof loadLearnerConfig>;

export function loadLearnerConfig(source: NodeJS.ProcessEnv = process.env) {
  const c = loadConfig(LEARNER_ENV, source);
  return { ...c, scenarios: c.LEARNER_SCENARIOS.split(',') as Scenario[], rewards: rewardsOf(c) };
}
