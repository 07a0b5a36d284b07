/**
 * The learner and its publisher in process: transitions from the in-process log into the OnlineTrainer
 * (services/learner/trainer.ts), Algorithm 1 steps, and at the publisher's due times (validation.ts) a
 * snapshot judged against the live version, written to the registry (PGlite, registry/store.ts) as live or
 * rejected, and — when live and no version is pinned — installed on the in-process serving node, as an
 * announcement on `models` would have it installed (ModelSlot.install checks the checksum and warms up).
 * The publishing itself is the learner's Publisher (services/learner/publisher.ts).
 */
import type { Transition } from '../common/index.js';
import { Publisher, type OnlineTrainer, type PublishResult, type PublishRules } from '../learner/index.js';
import type { TrainStepResult } from '../model/index.js';
import { recordDeployment, type SourceOffsets } from '../registry/index.js';
import type { ModelSlot } from '../serving/index.js';
import type { EmbeddedDatabase } from './database.js';
import type { Consumer } from './memory-log.js';

export interface LearnerStageDeps {
  model: string;
  trainer: OnlineTrainer;
  transitions: Consumer<Transition>;
  db: EmbeddedDatabase;
  slot: ModelSlot;
  servingNode: string;
  rules: PublishRules;
  clock?: () => number;
}

export type PublishedVersion = PublishResult & { installed: boolean };

export class LearnerStage {
  readonly published: PublishedVersion[] = [];
  private readonly publisher: Publisher;
  private rejectedTransitions = 0;

  constructor(private readonly deps: LearnerStageDeps) {
    this.publisher = new Publisher({
      model: deps.model, trainer: deps.trainer, rules: deps.rules, clock: deps.clock,
      withDb: (fn) => deps.db.run(fn),
      // What a serving node does with an announcement on `models`: verify, warm up, swap, record.
      announce: async (a, weights) => {
        const outcome = deps.slot.install(a, weights);
        if (outcome.status !== 'installed') return false;
        await deps.db.run((s) => recordDeployment(s, deps.servingNode, deps.model, a.version));
        return true;
      },
    });
  }

  get steps(): number {
    return this.deps.trainer.steps;
  }

  get losses(): TrainStepResult | null {
    return this.deps.trainer.lastLosses;
  }

  get rejected(): number {
    return this.rejectedTransitions;
  }

  /** Moves waiting transitions into the trainer (replay buffer, held-out window, item2vec). */
  ingest(): number {
    const records = this.deps.transitions.poll();
    if (records.length === 0) return 0;
    const r = this.deps.trainer.ingest(records.map((x) => x.value));
    this.rejectedTransitions += r.rejected.length;
    return records.length;
  }

  /** One Algorithm 1 step when the buffer holds enough; false when it does not yet. */
  trainStep(): boolean {
    if (!this.deps.trainer.ready) return false;
    this.deps.trainer.step();
    return true;
  }

  /** Publishes when the rules say a snapshot is due. */
  async maybePublish(): Promise<PublishedVersion | null> {
    return this.publisher.due(this.steps) ? this.publish() : null;
  }

  async publish(): Promise<PublishedVersion> {
    const sourceOffsets: SourceOffsets = {
      [this.deps.transitions.topic.name]: Object.fromEntries(this.deps.transitions.positions().map((o, p) => [String(p), String(o)])),
    };
    const result = await this.publisher.publish(this.steps, sourceOffsets);
    const published = { ...result, installed: result.announced };
    this.published.push(published);
    return published;
  }

  dispose(): void {
    this.publisher.dispose();
  }
}
