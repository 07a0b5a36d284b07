/**
 * The learner process's loop (DESIGN.md §4): transitions from Kafka into the trainer, training steps
 * without stopping, checkpoints to Postgres, and the publisher. Offsets live in the checkpoint, not in the
 * consumer group: after a crash the learner resumes from its last checkpoint and re-reads what followed,
 * reading some transitions before it first to refill the replay buffer. When training diverges, the
 * divergence watchdog (watchdog.ts) has it go back to its last good checkpoint, or stop.
 */
import type { EachBatchPayload, Kafka, Producer } from 'kafkajs';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import {
  createProducer, DeepChainError, KeptConsumer, METRICS, prom, transitionFromRecord, withRetry, withSession,
  type AvroSerde, type DeadLetterRecord, type Logger, type TopicNames, type Transition,
} from '../common/index.js';
import { announce, recordChange, withdrawChallenger, type SourceOffsets } from '../registry/index.js';
import { loadDeadLetterMarks, loadLatestCheckpoint, markDeadLettered, saveCheckpoint } from './checkpoints.js';
import { triage, type ReadRecord } from './intake.js';
import { startupRewardMismatch } from './rewards.js';
import type { OnlineTrainer } from './trainer.js';
import { Publisher, type PublishResult } from './publisher.js';
import type { PublishRules } from './validation.js';
import { decide, evolve, HEALTHY, nothingToRestore, notReadyReason, type Decision, type WatchdogRules, type WatchdogState } from './watchdog.js';

export interface LearnerDeps {
  model: string;
  trainer: OnlineTrainer;
  kafka: Kafka;
  serde: AvroSerde;
  pool: pg.Pool;
  topics: TopicNames;
  logger: Logger;
  metrics: Registry;
  rules: PublishRules;
  checkpointEverySteps: number;
  checkpointEveryMs: number;
  refillPerPartition: number;
  /** Registry retention (REGISTRY_KEEP_WEIGHTS); the publisher's default when absent. */
  keepWeights?: number;
  /** Share of users a challenger serves (CHALLENGER_SHARE); 0 or absent: none, the off-policy gate promotes. */
  challengerShare?: number;
  /** How long a challenger may gather traffic before it is rejected undecided (CHALLENGER_MAX_MINUTES). */
  challengeTimeoutMs?: number;
  /** Divergence watchdog: restores in a row before the learner gives up (WATCHDOG_MAX_RESTORES; the loss limit is rules.maxLoss). */
  maxRestores: number;
}

export class Learner {
  private consumer: KeptConsumer | null = null;
  private producer: Producer | null = null;
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  /** Next offset to read per partition of the transitions topic. */
  private readonly offsets = new Map<number, string>();
  /** Where this process started reading each partition (the refill window's start, or the beginning). */
  private readonly startOffsets = new Map<number, string>();
  /** Below these offsets, records are a refill of what the checkpoint already covers. */
  private readonly refillUntil = new Map<number, bigint>();
  /** Below these offsets, records were dead-lettered already (checkpoints.ts markDeadLettered): not again. */
  private letteredUntil = new Map<number, bigint>();
  private stepBase = 0;
  private lastCheckpoint = { steps: 0, at: Date.now() };
  private readonly publisher: Publisher;
  private readonly m;
  /** Set once the first fresh transitions read agreed with the learner's rewards (startupRewardMismatch). */
  private rewardsAgreed = false;
  private watchdog: WatchdogState = HEALTHY;
  /** Set from a divergence until its checkpoint is restored: no step is taken and no checkpoint saved meanwhile. */
  private pendingRestore: string | null = null;
  /** Set when the learner gave up (`failed`). */
  private gaveUp: string | null = null;
  private failWith: (err: DeepChainError) => void = () => undefined;
  /**
   * Settles only if the learner cannot go on: its rewards disagree with the first transitions it reads (it
   * has then stopped reading and trained on none of them), or its training kept diverging (watchdog.ts: it
   * has stopped training, and saved no diverged state). The process should exit with this error.
   */
  readonly failed: Promise<DeepChainError> = new Promise((resolve) => { this.failWith = resolve; });

  constructor(private readonly deps: LearnerDeps) {
    const registers = [deps.metrics];
    const M = METRICS.learner;
    this.m = {
      transitions: new prom.Counter({ name: M.transitions.name, help: 'Transitions read', labelNames: ['outcome'], registers }),
      steps: new prom.Counter({ name: M.steps.name, help: 'Training steps (Algorithm 1 lines 9-14)', registers }),
      loss: new prom.Gauge({ name: M.loss.name, help: 'Last training losses', labelNames: ['network'], registers }),
      versions: new prom.Counter({ name: M.versions.name, help: 'Snapshots judged by the publisher', labelNames: ['status'], registers }),
      buffer: new prom.Gauge({ name: M.replaySize.name, help: 'Transitions in the replay buffer', registers }),
      lag: new prom.Gauge({ name: M.consumerLag.name, help: 'Transitions not yet read per partition, as of the last batch read from it', labelNames: ['partition'], registers }),
      divergences: new prom.Counter({ name: M.divergences.name, help: 'Divergences met: the last good checkpoint restored, or the learner gave up', labelNames: ['outcome'], registers }),
      challengers: new prom.Counter({ name: M.challengers.name, help: 'Challengers decided by their own traffic', labelNames: ['outcome'], registers }),
    };
    const publisher = () => this.publisher;
    new prom.Gauge({
      name: M.challengerVersion.name, help: 'The challenger being measured (0 when none)', registers,
      collect() {
        this.set(publisher().measuring?.version ?? 0);
      },
    });
    new prom.Gauge({
      name: M.challengerPages.name, help: 'Pages tallied for the challenger being measured, by arm', labelNames: ['arm'], registers,
      collect() {
        const pages = publisher().measuring?.pages ?? { challenger: 0, live: 0 };
        this.set({ arm: 'challenger' }, pages.challenger);
        this.set({ arm: 'live' }, pages.live);
      },
    });
    // Exported at 0 from the start, so the first divergence is an increase() to the alert rules.
    for (const outcome of ['restored', 'gave_up']) this.m.divergences.inc({ outcome }, 0);
    for (const outcome of ['promoted', 'rejected']) this.m.challengers.inc({ outcome }, 0);
    this.publisher = new Publisher({
      model: deps.model, trainer: deps.trainer, rules: deps.rules, keepWeights: deps.keepWeights,
      challengerShare: deps.challengerShare, challengeTimeoutMs: deps.challengeTimeoutMs,
      withdrawChallenger: () => withdrawChallenger(this.producer!, deps.topics, deps.model),
      withDb: (fn) => withSession(deps.pool, fn),
      announce: async (a) => {
        await announce(this.producer!, deps.serde, deps.topics, a);
        return true;
      },
    });
  }

  /** Training steps since the model was first created (continues across restarts). */
  get steps(): number {
    return this.stepBase + this.deps.trainer.steps;
  }

  /**
   * Why the learner is not ready (its /readyz), or null: it diverged and has not yet saved a checkpoint
   * trained since it restored the last good one, or it gave up.
   */
  notReadyReason(): string | null {
    if (this.gaveUp !== null) return `stopped: ${this.gaveUp}`;
    if (this.pendingRestore !== null) return `diverged, restoring the last good checkpoint: ${this.pendingRestore}`;
    return notReadyReason(this.watchdog);
  }

  /**
   * Where to go on reading each partition: past what was ingested, or, where nothing fresh was yet, from
   * where this process started (the rest of a refill window is then skipped: those transitions are in the
   * checkpoint already).
   */
  private readPositions(): [number, string][] {
    return [...new Map([...this.startOffsets, ...this.offsets])];
  }

  sourceOffsets(): SourceOffsets {
    return { [this.deps.topics.transitions]: Object.fromEntries([...this.offsets].map(([p, o]) => [String(p), o])) };
  }

  async start(): Promise<void> {
    const { deps } = this;
    const checkpoint = await withSession(deps.pool, (db) => loadLatestCheckpoint(db, deps.model));
    if (checkpoint) {
      await deps.trainer.restoreState(checkpoint.state);
      this.stepBase = checkpoint.trainSteps;
      deps.trainer.restoreCounters(checkpoint.transitionsSeen);
      for (const [p, o] of Object.entries(checkpoint.sourceOffsets[deps.topics.transitions] ?? {})) {
        this.offsets.set(Number(p), o);
        this.refillUntil.set(Number(p), BigInt(o));
      }
      deps.logger.info({ steps: checkpoint.trainSteps, offsets: checkpoint.sourceOffsets }, 'resumed from checkpoint');
    }
    this.letteredUntil = await withSession(deps.pool, (db) => loadDeadLetterMarks(db, deps.model));
    this.lastCheckpoint = { steps: this.steps, at: Date.now() };
    this.publisher.resetAt(this.steps);

    this.producer = createProducer(deps.kafka);
    await this.producer.connect();
    // A challenger an earlier run left: measured again, or, without a share, rejected and withdrawn.
    const left = await this.publisher.recoverChallenge();
    if (left) deps.logger.info({ version: left.version, share: deps.challengerShare ?? 0 }, left.outcome === 'measuring' ? 'measuring the challenger again' : 'challenger rejected and withdrawn');
    const admin = deps.kafka.admin();
    await admin.connect();
    const low = await admin.fetchTopicOffsets(deps.topics.transitions);
    await admin.disconnect();

    // Where to read from: a refill window before the checkpoint's offsets, or the beginning.
    for (const p of low) {
      const resume = this.refillUntil.get(p.partition);
      const start = resume === undefined ? BigInt(p.low) : resume - BigInt(deps.refillPerPartition);
      const offset = start < BigInt(p.low) ? BigInt(p.low) : start;
      this.startOffsets.set(p.partition, offset.toString());
    }
    // The group commits no offsets (they live in the checkpoint): a consumer kafkajs restarts after a crash
    // (the broker restarted, say), or one that replaces a consumer kafkajs gave up on, is sent to where this
    // process has read to, not to the beginning.
    const topic = deps.topics.transitions;
    const positions = (at: Iterable<[number, string]>) => [...at].map(([partition, offset]) => ({ topic, partition, offset }));
    let first = true;
    this.consumer = new KeptConsumer({
      name: 'transitions', logger: deps.logger,
      create: () => deps.kafka.consumer({ groupId: `${topic}.learner-${deps.model}`, readUncommitted: false, maxBytes: 8 * 1024 * 1024 }),
      run: async (consumer) => {
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({ autoCommit: false, eachBatch: (payload) => this.onBatch(payload) });
        for (const p of positions(first ? this.startOffsets : this.readPositions())) consumer.seek(p);
        first = false;
      },
      resume: () => positions(this.readPositions()),
    });
    this.running = true;
    await this.consumer.start();
    this.loopDone = this.trainLoop();
  }

  /**
   * Decodes a batch, dead-letters what the learner cannot use (intake.ts), and only once Kafka has
   * acknowledged those letters ingests the rest and moves the partition's offset past the batch — in one
   * synchronous step, so a checkpoint holds both or neither. A crash in between re-reads the batch; letters
   * below the partition's dead-letter mark (saved once Kafka took them) are not written again, so a letter is
   * written twice only after a crash between Kafka's acknowledgement and that mark, never lost. Until the
   * first fresh transitions agree with the learner's rewards, a disagreement stops the learner instead
   * (`failed`); later ones are dead-lettered.
   */
  private async onBatch({ batch, heartbeat, isRunning }: EachBatchPayload): Promise<void> {
    const { serde, topics, trainer, logger } = this.deps;
    if (!this.running) return; // stopped, or refused to start: the batch is read again by whoever resumes
    const until = this.refillUntil.get(batch.partition);
    const read: ReadRecord[] = [];
    for (const message of batch.messages) {
      if (!isRunning()) break;
      let decoded: ReadRecord['decoded'];
      try {
        if (!message.value) throw new Error('record has no value');
        const value = message.value;
        // A registry that does not answer is retried (the error says so) before the record counts as undecodable.
        decoded = { transition: transitionFromRecord(await withRetry(() => serde.decode<Transition>(value))) };
      } catch (err) {
        decoded = { error: (err as Error).message };
      }
      const refill = until !== undefined && BigInt(message.offset) < until;
      read.push({ offset: message.offset, key: message.key, value: message.value, decoded, refill });
    }
    if (read.length === 0) return;
    if (!this.rewardsAgreed) {
      const fresh = read.flatMap((r) => (!r.refill && 'transition' in r.decoded ? [r.decoded.transition] : []));
      const mismatch = startupRewardMismatch(trainer.model.config.rewards, fresh);
      if (mismatch !== null) {
        // Refuse to start: nothing of this batch is trained on, dead-lettered or moves an offset.
        this.running = false;
        this.failWith(new DeepChainError('CONFIG_INVALID', mismatch));
        return;
      }
      if (fresh.length > 0) this.rewardsAgreed = true;
    }
    const intake = triage(
      { topic: topics.transitions, partition: batch.partition }, read, (t) => trainer.rejectionOf(t), Date.now(), trainer.model.config.historyLength,
    );
    // Letters of records below the mark were written before a restart: the records are counted again, not lettered.
    const mark = this.letteredUntil.get(batch.partition) ?? -1n;
    const letters = intake.letters.filter((l) => l.sourceOffset === null || BigInt(l.sourceOffset) >= mark);
    if (letters.length > 0) {
      for (const l of letters) logger.warn({ topic: l.sourceTopic, partition: l.sourcePartition, offset: l.sourceOffset, reason: l.reason }, 'transition dead-lettered');
      if (!(await this.writeDeadLetters(letters, isRunning, heartbeat))) return; // stopping: the batch is read again
      await this.markLettered(batch.partition, BigInt(read[read.length - 1]!.offset) + 1n);
    }
    this.m.transitions.inc({ outcome: 'undecodable' }, intake.undecodable);
    this.m.transitions.inc({ outcome: 'rejected' }, intake.rejected);
    for (const [list, refilling] of [[intake.refill, true], [intake.fresh, false]] as const) {
      if (list.length === 0) continue;
      const r = trainer.ingest(list, refilling);
      this.publisher.observe(list);
      this.m.transitions.inc({ outcome: refilling ? 'refill' : 'accepted' }, r.accepted);
      this.m.transitions.inc({ outcome: 'held_out' }, r.heldOut);
      this.m.transitions.inc({ outcome: 'rejected' }, r.rejected.length);
      // Fresh transitions were judged by the same check a moment ago (rejectionOf), so none is rejected here.
      if (!refilling && r.rejected.length > 0) logger.error({ partition: batch.partition, rejected: r.rejected.map((x) => x.reason) }, 'transitions rejected after triage');
    }
    const last = BigInt(read[read.length - 1]!.offset);
    if (until === undefined || last >= until) this.offsets.set(batch.partition, (last + 1n).toString());
    this.m.buffer.set(trainer.buffer.size);
    this.m.lag.set({ partition: String(batch.partition) }, Number(batch.offsetLag()));
    await heartbeat();
  }

  /**
   * Records that this partition's letters are written up to `nextOffset`. Should Postgres not answer, the
   * letters stay written and only a restart before the next mark would write them again: logged, not retried.
   */
  private async markLettered(partition: number, nextOffset: bigint): Promise<void> {
    const { pool, model, logger } = this.deps;
    try {
      await withSession(pool, (db) => markDeadLettered(db, model, partition, nextOffset));
      this.letteredUntil.set(partition, nextOffset);
    } catch (err) {
      logger.warn({ partition, nextOffset: nextOffset.toString(), err: (err as Error).message }, 'dead-letter mark not saved; a restart may write these letters again');
    }
  }

  /**
   * Produces the letters (acks from all in-sync replicas), retrying while Kafka is away: the batch's offsets
   * must not move past a letter Kafka has not taken. False when the learner stops first.
   */
  private async writeDeadLetters(letters: readonly DeadLetterRecord[], isRunning: () => boolean, heartbeat: () => Promise<void>): Promise<boolean> {
    const { serde, topics, logger } = this.deps;
    const messages = await Promise.all(letters.map(async (l) => ({ key: l.key, value: await serde.encode('deadLetters', l) })));
    try {
      await withRetry(async () => {
        if (!isRunning() || !this.running) throw new Error('stopping');
        try {
          await this.producer!.send({ topic: topics.deadLetters, acks: -1, messages });
        } catch (err) {
          await heartbeat().catch(() => undefined);
          throw new DeepChainError('KAFKA_UNAVAILABLE', `dead letters: ${(err as Error).message}`, { cause: err });
        }
      }, {
        attempts: Number.POSITIVE_INFINITY,
        onRetry: (err, attempt) => logger.warn({ err: (err as Error).message, attempt }, 'writing dead letters failed; retrying'),
      });
      return true;
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'dead letters not written; the batch will be read again');
      return false;
    }
  }

  /**
   * Trains without stopping; between steps it yields so that batches, checkpoints and publishing interleave.
   * Every step's losses, and every state about to be checkpointed, go past the divergence watchdog first.
   */
  private async trainLoop(): Promise<void> {
    const { trainer } = this.deps;
    while (this.running) {
      if (this.pendingRestore !== null) {
        await this.restore(this.pendingRestore);
        continue;
      }
      if (trainer.ready) {
        const losses = trainer.step();
        this.m.steps.inc();
        this.m.loss.set({ network: 'critic' }, losses.criticLoss);
        this.m.loss.set({ network: 'actor' }, losses.actorLoss);
        this.m.loss.set({ network: 'probability' }, losses.probabilityLoss);
        const decision = decide(this.watchdog, { kind: 'step', losses }, this.watchdogRules);
        if (decision.action !== 'ok') {
          await this.diverged(decision);
          continue;
        }
      }
      try {
        const saved = await this.maybeCheckpoint();
        if (saved !== null && saved !== 'saved') {
          const decision = decide(this.watchdog, { kind: 'checkpoint', nonFinite: saved.nonFinite }, this.watchdogRules);
          if (decision.action !== 'ok') {
            await this.diverged(decision);
            continue;
          }
        }
        await this.maybePublish();
      } catch (err) {
        // Postgres or Kafka away: keep training, try again at the next due time.
        this.deps.logger.error({ err }, 'checkpoint or publish failed; training goes on');
        this.lastCheckpoint.at = Date.now();
        this.publisher.resetAt(this.steps);
      }
      await new Promise((resolve) => setImmediate(resolve));
      if (!trainer.ready) await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** checkpoint() when one is due; null when none is. */
  private async maybeCheckpoint(): Promise<Awaited<ReturnType<Learner['checkpoint']>> | null> {
    const since = this.steps - this.lastCheckpoint.steps;
    if (since === 0 || (since < this.deps.checkpointEverySteps && Date.now() - this.lastCheckpoint.at < this.deps.checkpointEveryMs)) return null;
    return this.checkpoint();
  }

  /**
   * Saves the training state to Postgres — unless it diverged: a state holding a value that is not finite
   * is never saved (it resolves with where that value is instead), nor one that awaits its restore or that
   * the learner gave up on (an error). A checkpoint saved after a restore ends the divergence episode: the
   * learner is ready again.
   */
  async checkpoint(): Promise<'saved' | { nonFinite: string }> {
    const { trainer, model, logger } = this.deps;
    const diverged = this.pendingRestore ?? this.gaveUp;
    if (diverged !== null) throw new DeepChainError('WEIGHTS_INVALID', `the training state is not saved: ${diverged}`);
    const checked = await trainer.finiteCheckpointState();
    if (!('state' in checked)) return checked;
    await withSession(this.deps.pool, (db) =>
      saveCheckpoint(db, {
        model, trainSteps: this.steps, transitionsSeen: trainer.transitionsSeen, sourceOffsets: this.sourceOffsets(),
        counters: {}, state: checked.state,
      }),
    );
    this.lastCheckpoint = { steps: this.steps, at: Date.now() };
    if (this.watchdog.recovering !== null) logger.info({ steps: this.steps }, 'trained again since the divergence: checkpoint saved, ready');
    this.watchdog = evolve(this.watchdog, { kind: 'checkpoint saved' });
    return 'saved';
  }

  private get watchdogRules(): WatchdogRules {
    return { maxLoss: this.deps.rules.maxLoss, maxRestores: this.deps.maxRestores };
  }

  /** Acts on the watchdog's decision: the restore is left to trainLoop's next turn. */
  private async diverged(decision: Exclude<Decision, { action: 'ok' }>): Promise<void> {
    if (decision.action === 'give up') return this.giveUp(decision.reason);
    this.deps.logger.error({ reason: decision.reason, ...this.divergenceFields() }, 'training diverged; restoring the last good checkpoint');
    this.pendingRestore = decision.reason;
  }

  /** What a divergence's log line carries besides its reason: where training was and its last losses. */
  private divergenceFields() {
    const losses = this.deps.trainer.lastLosses;
    return {
      steps: this.steps, restoresInARow: this.watchdog.restoresInARow,
      criticLoss: losses?.criticLoss, actorLoss: losses?.actorLoss, probabilityLoss: losses?.probabilityLoss,
    };
  }

  /**
   * Loads the newest checkpoint into the trainer, as a restart would: the model, optimisers and item2vec
   * go back to it and the step count with them (versions published since keep theirs), while the replay
   * buffer, the held-out window, the offsets read and the transitions counted stay (those transitions were
   * read; reading them again would count them twice). With Postgres away it tries again a second later,
   * still not training. No checkpoint at all (diverged before the first): it gives up.
   */
  private async restore(reason: string): Promise<void> {
    const { trainer, model, pool, logger } = this.deps;
    let checkpoint;
    try {
      checkpoint = await withSession(pool, (db) => loadLatestCheckpoint(db, model));
    } catch (err) {
      logger.error({ err }, 'loading the last good checkpoint failed; trying again');
      await new Promise((resolve) => setTimeout(resolve, 1000));
      return;
    }
    if (!checkpoint) return this.giveUp(nothingToRestore(reason));
    try {
      await trainer.restoreState(checkpoint.state);
    } catch (err) {
      return this.giveUp(`${reason}; the last good checkpoint (step ${checkpoint.trainSteps}) could not be restored: ${(err as Error).message}`);
    }
    this.pendingRestore = null;
    this.stepBase = checkpoint.trainSteps - trainer.steps;
    this.lastCheckpoint = { steps: this.steps, at: Date.now() };
    this.publisher.resetAt(this.steps);
    this.watchdog = evolve(this.watchdog, { kind: 'restored', reason });
    this.m.divergences.inc({ outcome: 'restored' });
    logger.warn({ steps: checkpoint.trainSteps, restoresInARow: this.watchdog.restoresInARow }, 'restored the last good checkpoint; not ready until a checkpoint trained since is saved');
    await this.audit(`${reason}; restored the checkpoint of step ${checkpoint.trainSteps} (restore ${this.watchdog.restoresInARow} of at most ${this.deps.maxRestores} in a row)`);
  }

  /** Stops the learner for good: no more steps or checkpoints; `failed` settles and the process exits. */
  private async giveUp(reason: string): Promise<void> {
    this.running = false;
    this.pendingRestore = null;
    this.gaveUp = reason;
    this.m.divergences.inc({ outcome: 'gave_up' });
    this.deps.logger.error({ reason, ...this.divergenceFields() }, 'training diverged; the learner gives up');
    await this.audit(`gave up: ${reason}`);
    this.failWith(new DeepChainError('WEIGHTS_INVALID', reason));
  }

  /** The registry's audit row of a divergence (changes.ts); a failure to write it is logged, not retried. */
  private async audit(reason: string): Promise<void> {
    const { model, pool, logger } = this.deps;
    try {
      await withSession(pool, (db) => recordChange(db, { model, actor: 'learner', action: 'divergence', fromVersion: null, toVersion: null, reason }));
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'divergence not recorded in the registry audit trail');
    }
  }

  private async maybePublish(): Promise<void> {
    if (this.publisher.due(this.steps)) await this.publish();
  }

  /** Validates a snapshot, writes it to the registry (live or rejected), then announces it (publisher.ts). */
  async publish(): Promise<PublishResult> {
    const result = await this.publisher.publish(this.steps, this.sourceOffsets());
    this.m.versions.inc({ status: result.status });
    const c = result.challenge;
    if (c?.outcome === 'withdrawn') this.deps.logger.info({ version: c.version, status: c.status }, 'challenger withdrawn: an operator decided it first');
    else if (c && c.outcome !== 'measuring') {
      this.m.challengers.inc({ outcome: c.outcome });
      this.deps.logger.info({ version: c.version, outcome: c.outcome, reasons: c.decision.reasons }, `challenger ${c.outcome}`);
    }
    if (result.challenger) this.deps.logger.info({ version: result.version, reasons: result.decision.reasons }, 'snapshot announced as the challenger');
    else if (result.status === 'rejected') this.deps.logger.warn({ version: result.version, reasons: result.decision.reasons }, 'snapshot rejected');
    if (result.pruned.length) this.deps.logger.info({ versions: result.pruned }, 'registry retention pruned weights');
    return result;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loopDone;
    await this.consumer?.stop();
    await this.producer?.disconnect();
    this.publisher.dispose();
  }
}
