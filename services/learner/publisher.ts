/**
 * The publisher (DESIGN.md §4): at its due times it puts a snapshot of the trainer through the release gate
 * against the version served now — the operator's pinned one, else the live one, never the previous
 * candidate (validation.ts) — writes it to the registry as live or rejected with the gate's decision in one
 * transaction (a live one with its audit row), and only then
 * hands the version every node should run to `announce` — a message on the `models` topic in the learner
 * process, an in-process install in the embedded demo. No announcement without its registry row.
 *
 * With a challenger share, the off-policy gate screens and the challenger's own traffic promotes: a snapshot
 * the gate did not find worse than the live version (challengerEligible, or one it would promote) becomes the
 * challenger when none is being measured — recorded 'candidate', announced for serving nodes to answer that
 * share of users with it (serving/challenger.ts). From the transitions the learner reads (observe), the pages
 * it chose and those the live version chose meanwhile are tallied (challenge.ts); once each arm holds the
 * gate's minimum of pages, a lower bound of challenger − live above the margin makes it live, otherwise it is
 * rejected and withdrawn — as it is when the live version changes under it or it gathers too little traffic in
 * `challengeTimeoutMs`. Every snapshot meanwhile is recorded rejected, saying which challenger is measured.
 */
import type { SqlSession, Transition } from '../common/index.js';
import { deepChainFromWeights, type DeepChainModel } from '../model/index.js';
import {
  announcementOf, applyRetention, decideChallenger, DEFAULT_KEEP_WEIGHTS, effectiveVersion, getVersion, getVersionSummary, insertVersion,
  outstandingChallenger, type ModelAnnouncement, type SourceOffsets, type VersionDecision, type VersionStatus,
} from '../registry/index.js';
import { ChallengeTally, judgeChallenge } from './challenge.js';
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
  /** Ends challenger traffic on the serving side (a tombstone on `models`); required with a challenger share. */
  withdrawChallenger?: () => Promise<void>;
  /** How long a challenger may gather traffic before it is rejected undecided (CHALLENGER_MAX_MINUTES). */
  challengeTimeoutMs?: number;
}

/** What became of the challenger being measured at a publish. */
export type ChallengeResult =
  | { readonly version: number; readonly outcome: 'measuring'; readonly pages: { challenger: number; live: number } }
  | { readonly version: number; readonly outcome: 'promoted' | 'rejected'; readonly decision: VersionDecision }
  /** An operator decided it first (promoted it by hand): nothing recorded, its traffic ended. */
  | { readonly version: number; readonly outcome: 'withdrawn'; readonly status: VersionStatus };

const DEFAULT_CHALLENGE_TIMEOUT_MS = 60 * 60 * 1000;

export interface PublishResult {
  version: number;
  status: VersionStatus;
  at: number;
  trainSteps: number;
  verdict: Verdict;
  /** The decision recorded with the snapshot (the verdict's, changed where challenger traffic decides). */
  decision: VersionDecision;
  announced: boolean;
  /** The snapshot was announced as the challenger. */
  challenger: boolean;
  /** The challenger measured before this snapshot was judged, and what became of it; null when none. */
  challenge: ChallengeResult | null;
  /** Versions whose weights the retention policy removed after this publish. */
  pruned: number[];
}

export class Publisher {
  private last: { steps: number; at: number };
  private servedCache: { version: number; model: DeepChainModel; memo: ReorderingMemo } | null = null;
  private readonly clock: () => number;
  private readonly keepWeights: number;
  private readonly challengerShare: number;
  private readonly challengeTimeoutMs: number;
  /** The challenger being measured: its version, the live version it is set against, and the tally of both. */
  private challenge: { version: number; live: number; startedAt: number; tally: ChallengeTally } | null = null;

  constructor(private readonly deps: PublisherDeps) {
    this.clock = deps.clock ?? Date.now;
    const keep = deps.keepWeights ?? DEFAULT_KEEP_WEIGHTS;
    if (!Number.isSafeInteger(keep) || keep < 1) throw new Error(`publisher: keepWeights must be a positive integer, got ${keep}`);
    this.keepWeights = keep;
    const share = deps.challengerShare ?? 0;
    if (!(share >= 0 && share < 1)) throw new Error(`publisher: challengerShare must be in [0, 1), got ${share}`);
    this.challengerShare = share;
    if (share > 0 && !deps.withdrawChallenger) throw new Error('publisher: a challenger share needs withdrawChallenger');
    this.challengeTimeoutMs = deps.challengeTimeoutMs ?? DEFAULT_CHALLENGE_TIMEOUT_MS;
    this.last = { steps: 0, at: this.clock() };
  }

  /** Starts the due-time count from `steps` (after a restart, from the checkpoint's). */
  resetAt(steps: number): void {
    this.last = { steps, at: this.clock() };
  }

  due(steps: number): boolean {
    return this.deps.trainer.ready && publishDue(steps - this.last.steps, this.clock() - this.last.at, this.deps.rules);
  }

  /** The challenger being measured and the pages tallied for each arm; null when none. */
  get measuring(): { version: number; pages: { challenger: number; live: number } } | null {
    return this.challenge ? { version: this.challenge.version, pages: this.challenge.tally.pages() } : null;
  }

  /**
   * Transitions as the learner reads them, refills included: the challenger's and the live version's traffic.
   * Each offset is read once per process, so a restarted learner counts again what it reads again.
   */
  observe(transitions: readonly Transition[]): void {
    this.challenge?.tally.add(transitions);
  }

  /**
   * At start: a challenger an earlier run left is measured again, from the transitions this process reads
   * (those since it was recorded: the refill before the checkpoint's offsets and all after them); without a
   * challenger share it is rejected and withdrawn instead, so that its users go back to the live version.
   */
  async recoverChallenge(): Promise<{ version: number; outcome: 'measuring' | 'rejected' } | null> {
    const { model, withDb } = this.deps;
    const left = await withDb((db) => outstandingChallenger(db, model));
    if (!left) return null;
    if (this.challengerShare > 0 && left.live !== null) {
      const since = left.createdAt.getTime();
      this.challenge = { version: left.version, live: left.live, startedAt: since, tally: new ChallengeTally(left.version, left.live, since) };
      return { version: left.version, outcome: 'measuring' };
    }
    await this.endChallenge(left.version, left.live, false, [`challenger traffic ended: ${this.challengerShare > 0 ? 'no live version to set it against' : 'CHALLENGER_SHARE is 0'}`], {});
    return { version: left.version, outcome: 'rejected' };
  }

  async publish(steps: number, sourceOffsets: SourceOffsets): Promise<PublishResult> {
    const { trainer, model, rules, withDb } = this.deps;
    const challenge = this.challengerShare > 0 ? await this.settleChallenge() : null;
    const weights = trainer.publishableWeights();
    const served = await this.servedModel();
    const verdict = judgeSnapshot({ losses: trainer.lastLosses, candidate: trainer.model, served, heldOut: trainer.heldOut, rules });
    let status: 'live' | 'rejected' | 'candidate' = verdict.ok ? 'live' : 'rejected';
    let decision = verdict.decision;
    // With challenger traffic, only a challenger's own traffic promotes (beside a pinned version there is none).
    const contender = this.challengerShare > 0 && served !== null && !served.pinned && (verdict.ok || challengerEligible(verdict));
    const challenger = contender && this.challenge === null;
    if (challenger) {
      status = 'candidate';
      decision = {
        ...decision, outcome: 'challenger', numbers: { ...decision.numbers, challengerShare: this.challengerShare },
        reasons: [...decision.reasons, `challenger: served to a share ${this.challengerShare} of users beside live version ${served!.version}; goes live if its own traffic beats it`],
      };
    } else if (contender) {
      status = 'rejected';
      decision = { ...decision, outcome: 'rejected', reasons: [...decision.reasons, `challenger version ${this.challenge!.version} is still being measured`] };
    }
    const row = await withDb((db) =>
      insertVersion(db, {
        model, trainSteps: steps, transitionsSeen: trainer.transitionsSeen, sourceOffsets, metrics: verdict.metrics, weights, status, decision,
      }),
    );
    this.last = { steps, at: this.clock() };
    let announced = false;
    if (status === 'live') {
      announced = await this.announceEffective();
    } else if (challenger) {
      announced = await this.deps.announce(announcementOf({ ...row, weights }, false, this.clock(), { share: this.challengerShare }), weights);
      const now = this.clock();
      this.challenge = { version: row.version, live: served!.version, startedAt: now, tally: new ChallengeTally(row.version, served!.version, now) };
    }
    // Retention after the announcement, so the version nodes are told to load keeps its weights regardless.
    const pruned = await withDb((db) => applyRetention(db, model, this.keepWeights));
    return { version: row.version, status: row.status, at: this.clock(), trainSteps: steps, verdict, decision, announced, challenger, challenge, pruned };
  }

  /** Announces the version every node should run (pinned ones are announced by the operator's command). */
  private async announceEffective(): Promise<boolean> {
    const { model, withDb } = this.deps;
    // A version that cleared the gate against a pinned one is recorded live; the pin still decides what is served.
    const effective = await withDb(async (db) => {
      const e = await effectiveVersion(db, model);
      return e && !e.pinned ? getVersion(db, model, e.version) : null;
    });
    return effective ? this.deps.announce(announcementOf(effective, false, this.clock()), effective.weights) : false;
  }

  /** Decides the challenger being measured, when its traffic allows, its time is up or the live version changed under it. */
  private async settleChallenge(): Promise<ChallengeResult | null> {
    const c = this.challenge;
    if (!c) return null;
    const { model, rules, withDb } = this.deps;
    const effective = await withDb((db) => effectiveVersion(db, model));
    if (!effective || effective.pinned || effective.version !== c.live) {
      const now = effective ? `${effective.pinned ? 'pinned' : 'live'} version ${effective.version}` : 'no version';
      return this.endChallenge(c.version, c.live, false, [`challenger withdrawn undecided: the served version changed to ${now} (an operator) while it was measured`], {});
    }
    const g = rules.gate;
    const j = judgeChallenge(c.tally, { minPages: g.minPages, margin: g.margin, resamples: g.resamples, seed: c.version });
    if (j.status === 'insufficient') {
      if (this.clock() - c.startedAt < this.challengeTimeoutMs) return { version: c.version, outcome: 'measuring', pages: j.pages };
      return this.endChallenge(c.version, c.live, false, [
        `challenger withdrawn undecided: ${j.pages.challenger} of its pages and ${j.pages.live} of live version ${c.live}'s in ${Math.round(this.challengeTimeoutMs / 60_000)} min, ${g.minPages} needed each`,
      ], { challengerPages: j.pages.challenger, livePages: j.pages.live });
    }
    const d = j.difference;
    const summary = `own traffic, reward per page, challenger − live version ${c.live}: ${d.estimate.toFixed(4)} [${d.low.toFixed(4)}, ${d.high.toFixed(4)}] on ${j.pages.challenger} pages of ${j.users.challenger} users against ${j.pages.live} pages of ${j.users.live} users`;
    return this.endChallenge(c.version, c.live, j.promote, [`${summary}; lower bound ${j.promote ? 'clears' : 'does not clear'} the margin ${g.margin}`], {
      challengerDifference: d.estimate, challengerDifferenceLow: d.low, challengerDifferenceHigh: d.high,
      challengerPages: j.pages.challenger, livePages: j.pages.live, challengerUsers: j.users.challenger, liveUsers: j.users.live,
    });
  }

  /**
   * Records a challenger's end (its earlier reasons and numbers kept), then makes it live or withdraws it. One
   * an operator already promoted by hand is only withdrawn from challenger traffic.
   */
  private async endChallenge(version: number, live: number | null, promote: boolean, reasons: string[], numbers: Record<string, number>): Promise<ChallengeResult> {
    const { model, withDb } = this.deps;
    const ended = await withDb(async (db): Promise<{ decision: VersionDecision } | { status: VersionStatus }> => {
      const before = await getVersionSummary(db, model, version);
      const d: VersionDecision = {
        outcome: promote ? 'promoted' : 'rejected', baselineVersion: live, baselinePinned: false,
        reasons: [...(before?.decision?.reasons ?? []), ...reasons], numbers: { ...(before?.decision?.numbers ?? {}), ...numbers },
      };
      return (await decideChallenger(db, model, version, d)) ? { decision: d } : { status: before?.status ?? 'retired' };
    });
    this.challenge = null;
    if ('status' in ended) {
      await this.deps.withdrawChallenger?.();
      return { version, outcome: 'withdrawn', status: ended.status };
    }
    if (promote) await this.announceEffective();
    else await this.deps.withdrawChallenger?.();
    return { version, outcome: promote ? 'promoted' : 'rejected', decision: ended.decision };
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
