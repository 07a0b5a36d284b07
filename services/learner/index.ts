/** The learner's public entry: its I/O-free parts, for in-process use (the embedded demo, evaluation). */
export { isHeldOutUser, OnlineTrainer, type IngestResult, type TrainerOptions } from './trainer.js';
export { judgeSnapshot, offPolicyScore, publishDue, type OffPolicyScore, type PublishRules, type Verdict } from './validation.js';
export { Publisher, type PublisherDeps, type PublishResult } from './publisher.js';
