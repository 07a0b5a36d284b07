/** The learner's configuration (environment variables), validated once. Model defaults are the model library's (the paper's, and the cloning term chosen on validation). */
import {
  DATABASE_ENV, env, KAFKA_ENV, loadConfig, REWARD_ENV, rewardsOf, SERVICE_ENV, SCENARIOS, type Scenario,
} from '../common/index.js';
import { DEFAULT_CONFIG } from '../model/index.js';
import { DEFAULT_KEEP_WEIGHTS } from '../registry/retention.js';

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
  HISTORY_LENGTH: env.int({ min: 1, max: 1000, default: 50 }),
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
  HOLDOUT_SIZE: env.int({ min: 1, max: 1_000_000, default: 5000 }),
  EMBEDDING_REFRESH_STEPS: env.int({ min: 1, max: 1_000_000, default: 50 }),
  /** Transitions per partition read again after a restart to refill the replay buffer. */
  REFILL_PER_PARTITION: env.int({ min: 0, max: 100_000_000, default: 125_000 }),
  CHECKPOINT_EVERY_STEPS: env.int({ min: 1, max: 100_000_000, default: 1000 }),
  CHECKPOINT_EVERY_S: env.number({ min: 0.1, max: 86_400, default: 60 }),
  PUBLISH_EVERY_STEPS: env.int({ min: 1, max: 100_000_000, default: 500 }),
  PUBLISH_EVERY_S: env.number({ min: 0.1, max: 86_400, default: 5 }),
  PUBLISH_MAX_LOSS: env.number({ min: 0, default: 1e4 }),
  PUBLISH_TOLERANCE: env.number({ min: 0, max: 1, default: 0.05 }),
  /** Registry retention: the newest versions that keep their weights (live, pinned and reported ones always do). */
  REGISTRY_KEEP_WEIGHTS: env.int({ min: 1, max: 1_000_000, default: DEFAULT_KEEP_WEIGHTS }),
  SEED: env.int({ min: 0, max: 2 ** 31 - 1, default: 1 }),
};

export type LearnerConfig = ReturnType<typeof loadLearnerConfig>;

export function loadLearnerConfig(source: NodeJS.ProcessEnv = process.env) {
  const c = loadConfig(LEARNER_ENV, source);
  return { ...c, scenarios: c.LEARNER_SCENARIOS.split(',') as Scenario[], rewards: rewardsOf(c) };
}
