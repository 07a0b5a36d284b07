/**
 * The sessionizer loop: events → fold (fold.ts) → transitions, changelog and dead letters, written with
 * the consumed offsets in one Kafka transaction per batch (pipeline.ts). State lives per partition in the
 * store (store.ts), restored from the changelog when partitions are assigned. A timer applies what the
 * watermark has passed and closes idle sessions for partitions that get no events: when a partition is
 * caught up (nothing left to read), its stream time follows the wall clock.
 */
import type { Admin, Batch, Kafka, Message } from 'kafkajs';
import { deadLetterOf, type Logger, type TopicNames, type Transition } from '../common/index.js';
import { encodePosition, encodeUserState } from './changelog-codec.js';
import { step, timerStep, type ClosedSession, type DeadLetterNote } from './fold.js';
import { SessionLedger, type SessionizerMetrics } from './metrics.js';
import { TransactionalPipeline, type Processor, type Work } from './pipeline.js';
import type { SessionizerSettings, UserState } from './state.js';
import { POSITION_KEY_BUFFER, StateStore, type PartitionState, type RestoreReport } from './store.js';
import type { WireCodec } from './wire.js';

export interface SessionizerOptions {
  kafka: Kafka;
  admin: Admin;
  wire: WireCodec;
  topics: TopicNames;
  settings: SessionizerSettings;
  logger: Logger;
  metrics: SessionizerMetrics;
  groupId: string;
  instanceId: string;
  tickMs: number;
  transactionTimeoutMs: number;
  sessionTimeoutMs: number;
  maxBytesPerPartition: number;
  maxBytes: number;
  onFatal: (err: Error) => void;
  /** Wall clock for the timer (tests may pass their own). */
  now?: () => number;
}

const SOURCE = 'sessionizer';

export class Sessionizer implements Processor {
  readonly pipeline: TransactionalPipeline;
  readonly store: StateStore;
  /** Transitions and ended sessions of committed work → the outcome metrics (reward per session, per scenario). */
  readonly ledger: SessionLedger;
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private readonly log: Logger;

  constructor(private readonly o: SessionizerOptions) {
    this.log = o.logger.child({ component: 'sessionizer' });
    this.ledger = new SessionLedger(o.metrics, o.settings.rewards);
    this.store = new StateStore({
      kafka: o.kafka, admin: o.admin, wire: o.wire, topic: o.topics.sessionizerState, logger: o.logger,
      groupIdPrefix: o.groupId, timeoutMs: 2 * o.transactionTimeoutMs + 30_000, settings: o.settings,
    });
    this.pipeline = new TransactionalPipeline({
      kafka: o.kafka,
      logger: o.logger,
      groupId: o.groupId,
      transactionalId: `${o.groupId}-${o.instanceId}`,
      inputTopic: o.topics.events,
      processor: this,
      transactionTimeoutMs: o.transactionTimeoutMs,
      sessionTimeoutMs: o.sessionTimeoutMs,
      maxBytesPerPartition: o.maxBytesPerPartition,
      maxBytes: o.maxBytes,
      onFatal: o.onFatal,
      onCommitted: () => o.metrics.transactions.inc({ result: 'committed' }),
    });
  }

  async start(): Promise<void> {
    await this.pipeline.start();
    this.timer = setInterval(() => void this.tick(), this.o.tickMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.pipeline.stop();
  }

  /** True once the group has assigned partitions to this process at least once. */
  get ready(): boolean {
    return this.store.everAssigned;
  }

  assigned(partitions: readonly number[]): void {
    this.store.assign(partitions);
    this.ledger.held(partitions);
  }

  reset(): void {
    this.o.metrics.transactions.inc({ result: 'failed' });
    this.store.forgetAll();
  }

  async process(batch: Batch, heartbeat: () => Promise<void>): Promise<Work | null> {
    const { wire, settings, topics, metrics } = this.o;
    const partition = batch.partition;
    const ps = await this.store.ensureRestored(partition, heartbeat, (r) => this.restored(r));
    const skipBelow = ps.nextOffset === null ? -1 : Number(ps.nextOffset);
    await wire.prepare(batch.messages.map((m) => m.value));

    const changed = new Map<string, UserState>();
    const transitions: Message[] = [];
    const emitted: Transition[] = [];
    const closed: ClosedSession[] = [];
    const deadLetters: Message[] = [];
    let clock = ps.streamTime;
    let accepted = 0;
    let duplicates = 0;
    for (const m of batch.messages) {
      if (Number(m.offset) < skipBelow) continue; // already reflected in the restored state
      let event;
      try {
        event = wire.decodeEvent(m.value);
      } catch (err) {
        deadLetters.push(this.deadLetter((err as Error).message, partition, m.offset, m.key, m.value));
        continue;
      }
      const key = m.key?.toString();
      if (key !== undefined && key !== event.userId) {
        const reason = `record key '${key}' is not the event's userId '${event.userId}': its state would be split across partitions`;
        deadLetters.push(this.deadLetter(reason, partition, m.offset, m.key, m.value));
        continue;
      }
      if (event.eventTime > clock) clock = event.eventTime;
      const before = changed.get(event.userId) ?? ps.get(event.userId);
      const r = step(before, event, clock, settings, m.offset);
      if (r.duplicate) { duplicates++; continue; }
      if (r.state !== before) changed.set(event.userId, r.state);
      accepted++;
      for (const t of r.transitions) transitions.push(this.transitionMessage(t, partition));
      emitted.push(...r.transitions);
      closed.push(...r.closed);
      for (const d of r.deadLetters) deadLetters.push(this.noteToDeadLetter(d, partition, m.offset === d.source ? m.value : null));
    }
    metrics.events.inc({ outcome: 'accepted' }, accepted);
    if (duplicates > 0) metrics.events.inc({ outcome: 'duplicate' }, duplicates);
    if (deadLetters.length > 0) metrics.events.inc({ outcome: 'dead_letter' }, deadLetters.length);

    const nextOffset = String(Math.max(Number(batch.lastOffset()) + 1, skipBelow));
    const changelog: Message[] = [];
    for (const [userId, state] of changed) changelog.push({ key: userId, value: encodeUserState(wire, state), partition });
    changelog.push({ key: POSITION_KEY_BUFFER, value: encodePosition(wire, { nextOffset, streamTime: clock }), partition });
    return {
      messages: [
        { topic: topics.transitions, messages: transitions },
        { topic: topics.sessionizerState, messages: changelog },
        { topic: topics.deadLetters, messages: deadLetters },
      ].filter((t) => t.messages.length > 0),
      offsets: [{ partition, offset: nextOffset }],
      committed: () => {
        for (const [userId, state] of changed) ps.put(userId, state);
        ps.streamTime = clock;
        ps.nextOffset = nextOffset;
        metrics.transitions.inc(transitions.length);
        this.ledger.committed(partition, emitted, closed);
        this.countDeadLetters(deadLetters.length);
        metrics.users.set(this.store.userCount());
      },
    };
  }

  /**
   * The timer: for each restored partition, applies buffered events the watermark has passed, closes idle
   * sessions and forgets users idle past the retention (a changelog tombstone each), visiting only the users
   * due (PartitionState.dueUsers), in one transaction (no offsets). A caught-up partition's stream time moves to the wall
   * clock, so sessions close even when no events arrive.
   */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const ends = new Map((await this.o.admin.fetchTopicOffsets(this.o.topics.events)).map((o) => [o.partition, BigInt(o.high)]));
      await this.pipeline.runExclusive(async (commit) => {
        // Partitions with no new events get no batch: restore them here, or their sessions would never close.
        await this.store.restoreAssigned(async () => undefined, (r) => this.restored(r));
        const wall = (this.o.now ?? Date.now)();
        const updates: {
          ps: PartitionState; clock: number; changed: Map<string, UserState>; forgotten: string[]; emitted: Transition[]; closed: ClosedSession[];
        }[] = [];
        const transitions: Message[] = [];
        const deadLetters: Message[] = [];
        const changelog: Message[] = [];
        this.o.metrics.consumerLag.reset(); // only the partitions this process holds now
        for (const ps of this.store.restoredPartitions()) {
          const end = ends.get(ps.partition);
          if (end !== undefined && ps.nextOffset !== null) {
            const lag = end - BigInt(ps.nextOffset);
            this.o.metrics.consumerLag.set({ partition: String(ps.partition) }, Number(lag > 0n ? lag : 0n));
          }
          const caughtUp = ps.nextOffset !== null && end !== undefined && BigInt(ps.nextOffset) >= end;
          const clock = caughtUp ? Math.max(ps.streamTime, wall) : ps.streamTime;
          const changed = new Map<string, UserState>();
          const forgotten: string[] = [];
          const emitted: Transition[] = [];
          const closed: ClosedSession[] = [];
          for (const [userId, state] of ps.dueUsers(clock)) {
            const r = timerStep(state, clock, this.o.settings);
            if (r.state === null) forgotten.push(userId);
            else changed.set(userId, r.state);
            emitted.push(...r.transitions);
            closed.push(...r.closed);
            for (const t of r.transitions) transitions.push(this.transitionMessage(t, ps.partition));
            for (const d of r.deadLetters) deadLetters.push(this.noteToDeadLetter(d, ps.partition, null));
          }
          if ((changed.size === 0 && forgotten.length === 0) || ps.nextOffset === null) continue;
          for (const [userId, state] of changed) changelog.push({ key: userId, value: encodeUserState(this.o.wire, state), partition: ps.partition });
          for (const userId of forgotten) changelog.push({ key: userId, value: null, partition: ps.partition });
          changelog.push({ key: POSITION_KEY_BUFFER, value: encodePosition(this.o.wire, { nextOffset: ps.nextOffset, streamTime: clock }), partition: ps.partition });
          updates.push({ ps, clock, changed, forgotten, emitted, closed });
        }
        if (updates.length === 0) return;
        await commit({
          messages: [
            { topic: this.o.topics.transitions, messages: transitions },
            { topic: this.o.topics.sessionizerState, messages: changelog },
            { topic: this.o.topics.deadLetters, messages: deadLetters },
          ].filter((t) => t.messages.length > 0),
          offsets: [],
          committed: () => {
            let forgottenUsers = 0;
            for (const { ps, clock, changed, forgotten, emitted, closed } of updates) {
              for (const [userId, state] of changed) ps.put(userId, state);
              for (const userId of forgotten) ps.forget(userId);
              forgottenUsers += forgotten.length;
              ps.streamTime = clock;
              this.ledger.committed(ps.partition, emitted, closed);
            }
            this.o.metrics.transitions.inc(transitions.length);
            this.o.metrics.usersEvicted.inc(forgottenUsers);
            this.o.metrics.users.set(this.store.userCount());
            this.countDeadLetters(deadLetters.length);
          },
        });
      });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'timer tick failed; the next one retries');
    } finally {
      this.ticking = false;
    }
  }

  private restored({ records, seconds }: RestoreReport): void {
    this.o.metrics.restores.inc();
    this.o.metrics.restoreRecords.inc(records);
    this.o.metrics.restoreSeconds.observe(seconds);
  }

  /** Transitions go to the partition of the user's events (same key, same partition count). */
  private transitionMessage(t: Transition, partition: number): Message {
    return { key: t.userId, value: this.o.wire.encodeTransition(t), partition };
  }

  /** The original bytes when the event is the record in hand, else the event re-encoded (it was buffered). */
  private noteToDeadLetter(d: DeadLetterNote, partition: number, original: Buffer | null): Message {
    const value = original ?? this.o.wire.encodeEvent(d.event);
    return this.deadLetter(d.reason, partition, d.source, Buffer.from(d.event.userId), value);
  }

  private deadLetter(reason: string, partition: number, offset: string | null, key: Buffer | string | null | undefined, value: Buffer | string | null | undefined): Message {
    const from = { topic: this.o.topics.events, partition, offset, key, value };
    return { key: key ?? null, value: this.o.wire.encodeDeadLetter(deadLetterOf(SOURCE, reason, from, (this.o.now ?? Date.now)())) };
  }

  private countDeadLetters(n: number): void {
    if (n > 0) this.o.metrics.deadLetters.inc(n);
  }
}
