/**
 * Public entry point of the DeepChain model library (issue 8): what the learner, the serving nodes and the
 * evaluation import. Nothing else in services/model is imported from outside it.
 */
export { selectBackend, type BackendChoice, type SelectedBackend } from './backend.js';
export {
  DEFAULT_CONFIG,
  PAPER_SCENARIOS,
  ModelConfigError,
  resolveConfig,
  scenarioLayout,
  type DeepChainConfig,
  type DeepChainConfigInput,
  type ScenarioLayout,
  type TargetMode,
} from './config.js';
export { createDeepChain, deepChainFromWeights, DeepChainModel, ITEM_EMBEDDINGS } from './deepchain.js';
export { flopMeter } from './flops.js';
export { seededRandom } from './params.js';
export { protoAction, rankByScore, scoreCandidates } from './inference.js';
export { centredVectors, Item2Vec, type Item2VecOptions } from './item2vec.js';
export {
  comparePolicies,
  estimatePolicyValue,
  OFF_POLICY_DEFAULTS,
  type DirectModel,
  type Estimator,
  type InsufficientData,
  type LoggedPage,
  type OffPolicyInterval,
  type OffPolicyOptions,
  type PerPosition,
  type PolicyComparison,
  type PolicyValue,
  type LoggedItem,
  type TargetPolicy,
} from './off-policy.js';
export { CosineIndex } from './recall.js';
export { nextStateOf, ReplayBuffer, toReplayRecord, TransitionRejected, type ReplayBatch, type ReplayRecord } from './replay-buffer.js';
export { eq1Slots, eq1Target, eq1TargetTensor, type Eq1Slots, type LoggedStep } from './target.js';
export type { TrainStepResult } from './train-step.js';
export { ItemVocabulary, PAD_INDEX } from './vocabulary.js';
export { decodeWeights, encodeWeights, WeightsFormatError, type NamedTensor, type WeightsSnapshot } from './weights-format.js';
