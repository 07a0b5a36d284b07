/**
 * The simulator's public entry (DESIGN.md §4): a seeded world of items and users with hidden vectors,
 * users walking the whole chain (entrance → detail → cart → order) driven by a serving node, their events
 * sent through the producer SDK like a real frontend's.
 */
export { DEFAULT_WORLD, similarity, World, type Item, type User, type WorldOptions } from './world.js';
export {
  affinity, clickProbability, contextItem, DEFAULT_WALK, leaveProbability, startWalk, walkPage,
  type Page, type PageResult, type WalkAction, type WalkOptions, type WalkState,
} from './user-walk.js';
export {
  httpRecommendClient, injectRecommendClient, readAnswer, RecommendError,
  type RecommendAnswer, type RecommendCall, type RecommendClient,
} from './recommend-client.js';
export { FALLBACK_MODEL, runSession, type SessionDeps, type SessionRecord } from './session.js';
export { DEFAULT_POPULATION, Population, type PopulationOptions } from './population.js';
export { fork, gaussian, pick, sample, seeded, type Random } from './random.js';
