/** The serving node's public entry: its routes and I/O-free parts, for in-process use (the embedded demo). */
export { addServingRoutes, type ServingAppDeps } from './app.js';
export { requestState, UserHistories } from './history.js';
export { ModelSlot, type InstallOutcome, type LoadedVersion } from './model-slot.js';
export { NO_EXPLORATION, rankTopK, type Exploration, type RankedItem } from './ranking.js';
export { recallCandidates, recommend, type Recommendation, type RecommendOptions, type RecommendRequest } from './recommender.js';
