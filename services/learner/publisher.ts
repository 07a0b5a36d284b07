/**
 * The publisher (DESIGN.md §4): at its due times it puts a snapshot of the trainer through the release gate
 * against the version served now — the operator's pinned one, else the live one, never the previous
 * candidate (validation.ts) — writes it to the registry as live or rejected with the gate's decision in one
 * transaction (a live one with its audit row), and only then
 * hands the version every node should run to `announce` — a message on the `models` topic in the learner
 * process, an in-process install in the embedded demo. No announcement without its registry row.
 *
 * With a challenger share, a rejected snapshot the gate did not find worse than the served version
 * (challengerEligible) is announced as the challenger: serving nodes answer that share of users with it
 * (serving/challenger.ts), so the newest candidate gets traffic of its own, logged with its version.
 */
import type { SqlSession } from '../common/index.js';
import { deepChainFromWeights, type DeepChainModel } from '../model/index.js';
import {
  announcementOf, applyRetention, DEFAULT_KEEP_WEIGHTS, effectiveVersion, getVersion, insertVersion, type ModelAnnouncement,
  type SourceOffsets, type VersionStatus,
} from '../registry/index.js';
import type { OnlineTrainer } from './trainer.js';
import {
  challengerEligible, judgeSnapshot, publishDue, type GateInput, type PublishRules, type ReorderingMemo, type Verdict,
} from './validation.js';

export interface PublisherDeps {
  model: string;
  trainer: OnlineTrainer;
  rules: PublishRules;
  /** Runs `fn` on one registry connection (transactions need one). */
  withDb: <T>(fn: (db: SqlSession) => Promise<T>) => Promise<T>;
  /** Delivers an announcement to the serving side; resolves true when it was delivered. */
  announce: (announcement: ModelAnnouncement, weights: Uint8Array) => Promise<boolean>;
  clock?: () => number;
  /** Retention: the newest versions that keep their weights (REGISTRY_KEEP_WEIGHTS; default DEFAULT_KEEP_WEIGHTS). */
  keepWeights?: number;
  /** Share of users a challenger serves (CHALLENGER_SHARE); 0, the default, announces none. */
  challengerShare?: number;
}

export interface PublishResult {
  version: number;
  status: VersionStatus;
  at: number;
  trainSteps: number;
  verdict: Verdict;
  announced: boolean;
  /** The snapshot was announced as the challenger. */
  challenger: boolean;
  /** Versions whose weights the retention policy removed after this publish. */
  pruned: number[];
}

export class Publisher {
  private last: { steps: number; at: number };
  private servedCache: { version: number; model: DeepChainModel; memo: ReorderingMemo } | null = null;
  private readonly clock: () => number;
  private readonly keepWeights: number;
  private readonly challengerShare: number;

  constructor(private readonly deps: PublisherDeps) {
    this.clock = deps.clock ?? Date.now;
    const keep = deps.keepWeights ?? DEFAULT_KEEP_WEIGHTS;
    if (!Number.isSafeInteger(keep) || keep < 1) throw new Error(`publisher: keepWeights must be a positive integer, got ${keep}`);
    this.keepWeights = keep;
    const share = deps.challengerShare ?? 0;
    if (!(share >= 0 && share < 1)) throw new Error(`publisher: challengerShare must be in [0, 1), got ${share}`);
    this.challengerShare = share;
    this.last = { steps: 0, at: this.clock() };
  }

  /** Starts the due-time count from `steps` (after a restart, from the checkpoint's). */
  resetAt(steps: number): void {
    this.last = { steps, at: this.clock() };
  }

  due(steps: number): boolean {
    return this.deps.trainer.ready && publishDue(steps - this.last.steps, this.clock() - this.last.at, this.deps.rules);
  }

  async publish(steps: number, sourceOffsets: SourceOffsets): Promise<PublishResult> {
    const { trainer, model, rules, withDb } = this.deps;
    const weights = trainer.publishableWeights();
    const served = await this.servedModel();
    const verdict = judgeSnapshot({ losses: trainer.lastLosses, candidate: trainer.model, served, heldOut: trainer.heldOut, rules });
    // Not beside a pinned version: a pin holds every user on it.
    const challenger = this.challengerShare > 0 && served !== null && !served.pinned && challengerEligible(verdict);
    if (challenger) {
      verdict.decision.reasons.push(`challenger: served to a share ${this.challengerShare} of users beside live version ${served!.version} until a newer candidate or a promotion`);
      verdict.decision.numbers.challengerShare = this.challengerShare;
    }
    const row = await withDb((db) =>
      insertVersion(db, {
        model, trainSteps: steps, transitionsSeen: trainer.transitionsSeen, sourceOffsets,
        metrics: verdict.metrics, weights, status: verdict.ok ? 'live' : 'rejected', decision: verdict.decision,
      }),
    );
    this.last = { steps, at: this.clock() };
    let announced = false;
    if (verdict.ok) {
      // A version that cleared the gate against a pinned one is recorded live; the pin still decides what is served.
      const effective = await withDb(async (db) => {
        const e = await effectiveVersion(db, model);
        return e && !e.pinned ? getVersion(db, model, e.version) : null;
      });
      if (effective) announced = await this.deps.announce(announcementOf(effective, false, this.clock()), effective.weights);
    } else if (challenger) {
      announced = await this.deps.announce(announcementOf({ ...row, weights }, false, this.clock(), { share: this.challengerShare }), weights);
    }
    // Retention after the announcement, so the version nodes are told to load keeps its weights regardless.
    const pruned = await withDb((db) => applyRetention(db, model, this.keepWeights));
    return { version: row.version, status: row.status, at: this.clock(), trainSteps: steps, verdict, announced, challenger, pruned };
  }

  /** The version served now (pinned, else live) with its actors and π memo, loaded once per version, for the gate. */
  private async servedModel(): Promise<GateInput['served']> {
    const { model, withDb } = this.deps;
    const row = await withDb(async (db) => {
      const served = await effectiveVersion(db, model);
      if (!served) return null;
      if (this.servedCache?.version === served.version) return { ...served, weights: null };
      const v = await getVersion(db, model, served.version);
      return v ? { ...served, weights: v.weights } : null;
    });
    if (!row) return null;
    if (row.weights) {
      this.servedCache?.model.dispose();
      this.servedCache = { version: row.version, model: deepChainFromWeights(row.weights), memo: new Map() };
    }
    return { version: row.version, pinned: row.pinned, model: this.servedCache!.model, memo: this.servedCache!.memo };
  }

  dispose(): void {
    this.servedCache?.model.dispose();
    this.servedCache = null;
  }
}
