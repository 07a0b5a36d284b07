/** The learner's public entry: its I/O-free parts, for in-process use (the embedded demo, evaluation). */
export { isHeldOutUser, OnlineTrainer, type IngestResult, type TrainerOptions } from './trainer.js';
export { DEFAULT_GATE, judgeSnapshot, loggedPages, publishDue, reorderingProbabilities, type GateRules, type PublishRules, type Verdict } from './validation.js';
export { Publisher, type PublisherDeps, type PublishResult } from './publisher.js';
