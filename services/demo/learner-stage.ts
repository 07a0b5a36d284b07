/**
 * The learner and its publisher in process: transitions from the in-process log into the OnlineTrainer
 * (services/learner/trainer.ts), Algorithm 1 steps, and at the publisher's due times (validation.ts) a
 * snapshot judged against the live version, written to the registry (PGlite, registry/store.ts) as live or
 * rejected, and — when live and no version is pinned — installed on the in-process serving node, as an
 * announcement on `models` would have it installed (ModelSlot.install checks the checksum and warms up).
 * This mirrors `Learner.publish` of services/learner/loop.ts, minus Kafka.
 */
import type { Transition } from '../common/index.js';
import type { OnlineTrainer } from '../learner/trainer.js';
import { judgeSnapshot, offPolicyScore, publishDue, type PublishRules, type Verdict } from '../learner/validation.js';
import { deepChainFromWeights, type DeepChainModel, type TrainStepResult } from '../model/index.js';
import {
  announcementOf, effectiveVersion, getVersion, insertVersion, recordDeployment, type SourceOffsets, type VersionStatus,
} from '../registry/index.js';
import type { ModelSlot } from '../serving/model-slot.js';
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

export interface PublishedVersion {
  version: number;
  status: VersionStatus;
  at: number;
  trainSteps: number;
  verdict: Verdict;
  installed: boolean;
}

export class LearnerStage {
  readonly published: PublishedVersion[] = [];
  private lastPublish: { steps: number; at: number };
  private liveCache: { version: number; model: DeepChainModel } | null = null;
  private rejectedTransitions = 0;
  private readonly clock: () => number;

  constructor(private readonly deps: LearnerStageDeps) {
    this.clock = deps.clock ?? Date.now;
    this.lastPublish = { steps: 0, at: this.clock() };
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
    if (!this.deps.trainer.ready) return null;
    if (!publishDue(this.steps - this.lastPublish.steps, this.clock() - this.lastPublish.at, this.deps.rules)) return null;
    return this.publish();
  }

  async publish(): Promise<PublishedVersion> {
    const { trainer, model, db, slot, rules } = this.deps;
    const weights = trainer.publishableWeights();
    const candidate = offPolicyScore(trainer.model, trainer.heldOut);
    const live = await this.liveModel();
    const verdict = judgeSnapshot(trainer.lastLosses, candidate, live ? offPolicyScore(live, trainer.heldOut) : null, rules);
    const sourceOffsets: SourceOffsets = {
      [this.deps.transitions.topic.name]: Object.fromEntries(this.deps.transitions.positions().map((o, p) => [String(p), String(o)])),
    };
    const row = await db.run((s) =>
      insertVersion(s, {
        model, trainSteps: this.steps, transitionsSeen: trainer.transitionsSeen, sourceOffsets,
        metrics: verdict.metrics, weights, status: verdict.ok ? 'live' : 'rejected',
      }),
    );
    this.lastPublish = { steps: this.steps, at: this.clock() };
    let installed = false;
    if (verdict.ok) {
      // What a serving node does with the announcement of the effective version (pinned, else live).
      const stored = await db.run(async (s) => {
        const effective = await effectiveVersion(s, model);
        if (!effective) return null;
        const v = await getVersion(s, model, effective.version);
        return v ? { v, pinned: effective.pinned } : null;
      });
      if (stored) {
        const a = announcementOf(stored.v, stored.pinned, this.clock());
        const outcome = slot.install(a, stored.v.weights);
        if (outcome.status === 'installed') {
          installed = true;
          await db.run((s) => recordDeployment(s, this.deps.servingNode, model, a.version));
        }
      }
    }
    const published: PublishedVersion = {
      version: row.version, status: row.status, at: this.clock(), trainSteps: this.steps, verdict, installed,
    };
    this.published.push(published);
    return published;
  }

  /** The live version's actors, loaded once per version, for the off-policy comparison. */
  private async liveModel(): Promise<DeepChainModel | null> {
    const { db, model } = this.deps;
    const row = await db.run(async (s) => {
      const live = await effectiveVersion(s, model);
      if (!live) return null;
      if (this.liveCache?.version === live.version) return { version: live.version, weights: null };
      const v = await getVersion(s, model, live.version);
      return v ? { version: v.version, weights: v.weights } : null;
    });
    if (!row) return null;
    if (row.weights) {
      this.liveCache?.model.dispose();
      this.liveCache = { version: row.version, model: deepChainFromWeights(row.weights) };
    }
    return this.liveCache!.model;
  }

  dispose(): void {
    this.liveCache?.model.dispose();
    this.liveCache = null;
  }
}
