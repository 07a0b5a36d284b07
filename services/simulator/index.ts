/**
 * The simulator's public entry (DESIGN.md §4): a seeded world of items and users with hidden vectors,
 * users walking the whole chain (entrance → detail → cart → order) driven by a serving node (the demo,
 * their events sent through the producer SDK like a real frontend's) or by an in-process page policy (the
 * online test), and oracle policies that read the hidden vectors.
 */
export { DEFAULT_WORLD, similarity, validateWorld, World, type Item, type User, type WorldOptions } from './world.js';
export {
  addToCartProbabilities, addToCartProbability, affinity, clickProbability, contextItem, DEFAULT_WALK, leaveProbability,
  logistic, pageAffinities, seenCounts, startWalk, validateWalk, walkPage, want,
  type Page, type PageResult, type WalkAction, type WalkOptions, type WalkState,
} from './user-walk.js';
export { rewardOf, SIMULATOR_REWARDS, validateRewards } from './rewards.js';
export {
  runSessions, walkSession,
  type PagePolicy, type PageRecord, type PageRequest, type RunSessionsOptions, type SessionOutcome, type WalkSessionOptions,
} from './walk-session.js';
export {
  estimate, ORACLE_NAMES, oraclePolicy, ORACLES, oracleSessions, runOracles,
  type Estimate, type OracleName, type OracleResult, type OracleSpec, type OracleSummary, type RunOraclesOptions,
} from './oracles.js';
export {
  httpRecommendClient, injectRecommendClient, readAnswer, RecommendError,
  type RecommendAnswer, type RecommendCall, type RecommendClient,
} from './recommend-client.js';
export { FALLBACK_MODEL, runSession, type SessionDeps, type SessionRecord } from './session.js';
export { DEFAULT_POPULATION, Population, type PopulationOptions } from './population.js';
export { fork, gaussian, pick, sample, seeded, type Random } from './random.js';
