/**
 * A transactional consume → transform → produce loop over kafkajs (exactly once, DESIGN.md §4): per
 * fetched batch, the processor's output records and the consumed offsets go into one transaction
 * (`sendOffsets`), committed or aborted together; in-memory state follows only a committed transaction.
 * The sessionizer (loop.ts) and the benchmark's bare pass-through both run on it, so they share client,
 * transaction and batch settings.
 *
 * Failure handling. A transaction that fails is aborted (or its outcome is unknown: the commit may have
 * reached the broker), so the producer is rebuilt with the same transactional id (which fences and aborts
 * whatever it left open), the processor is told to forget every partition (it restores them from their
 * changelog, which says exactly which offset they reflect), and the batch is fetched again. A producer
 * fenced by another process with the same transactional id is a zombie: the loop stops and reports it.
 *
 * Fencing across processes. Each process has its own transactional id, so a process that takes over a
 * partition does not fence the previous owner, and kafkajs's TxnOffsetCommit carries no group generation
 * (KIP-447), so the broker does not either. What keeps output exactly-once: the state, the transitions and
 * the consumed offsets are committed atomically; a new owner restores the state up to the changelog's high
 * watermark, waiting for any transaction still open there; and a transaction commits only if its records
 * reached the log while this process was certainly still a group member (within half a session timeout of a
 * successful heartbeat, no rebalance seen), so they are below the high watermark any new owner restores to.
 * A process that was dropped from the group (a long pause) therefore aborts instead of writing duplicates.
 */
import { CompressionTypes, type Batch, type Consumer, type Kafka, type Message, type Producer, type RecordMetadata } from 'kafkajs';
import { createProducer, type Logger } from '../common/index.js';

export interface TopicMessages {
  topic: string;
  messages: Message[];
}

export interface Work {
  messages: TopicMessages[];
  /** Consumed offsets to commit with the output, as the next offset to read per input partition. */
  offsets: { partition: number; offset: string }[];
  /** Makes in-memory state current; called only after the transaction committed. */
  committed(metadata: RecordMetadata[]): void;
}

export interface Processor {
  /** A (re)join assigned these input partitions; whatever was held for others is dropped by the processor. */
  assigned(partitions: readonly number[]): void;
  /** Forget every partition's in-memory state (after a transaction failed): it will be restored. */
  reset(): void;
  /** Work for one fetched batch, or null when there is nothing to write. `heartbeat` keeps the membership alive. */
  process(batch: Batch, heartbeat: () => Promise<void>): Promise<Work | null>;
}

export interface PipelineOptions {
  kafka: Kafka;
  logger: Logger;
  groupId: string;
  transactionalId: string;
  inputTopic: string;
  processor: Processor;
  transactionTimeoutMs: number;
  sessionTimeoutMs: number;
  maxBytesPerPartition: number;
  maxBytes: number;
  /**
   * The most records of one topic that one produce request of a transaction carries (default MAX_RECORDS_PER_SEND):
   * a batch's output goes out in as many sends as that takes, in order, within the same transaction.
   */
  maxRecordsPerSend?: number;
  /** Compression of the produced record batches (default none: see `compression` below). */
  compression?: CompressionTypes;
  /** Called with the error when the loop cannot go on (a zombie producer); the process should exit. */
  onFatal: (err: Error) => void;
  onCommitted?: (info: { partition: number | null; records: number; inputs: number }) => void;
}

/**
 * Why sends are split: kafkajs groups a send's records by partition by copying the partition's array for every
 * record (producer/groupMessagesPerPartition.js: `[...current, message]`), quadratic in one send's records per
 * topic-partition, and a batch's output goes to one partition per topic (the bench's pass-through: ~9,400
 * records per transaction, ~44 million element copies, ~100 ms of CPU and as much garbage). A send carries at
 * most this many records of each topic, which bounds that to n × this / 2 copies, for one more produce round
 * trip (acks = all) per this many records. Sends of at most 1,000 records in all sped the pass-through up
 * but not the sessionizer (its ~3,700 transitions and ~1,900 changelog records per transaction paid more in
 * round trips than they saved); at 4,000 per topic the sessionizer's usual transaction is one send, as before,
 * and the pass-through's three (README, sessionizer bench).
 */
export const MAX_RECORDS_PER_SEND = 4_000;

/**
 * `messages` cut, in order, into sends of at most `max` records of each topic (every topic's next slice
 * goes into the same send, so a send costs one produce request whatever the number of topics).
 */
export function chunkSends(messages: readonly TopicMessages[], max: number): TopicMessages[][] {
  const sends: TopicMessages[][] = [];
  for (let i = 0; ; i += max) {
    const send: TopicMessages[] = [];
    for (const { topic, messages: records } of messages) {
      if (i >= records.length) continue;
      send.push({ topic, messages: i === 0 && records.length <= max ? records : records.slice(i, i + max) });
    }
    if (send.length === 0) return sends;
    sends.push(send);
  }
}

export class TransactionalPipeline {
  readonly consumer: Consumer;
  private producer: Producer;
  private chain: Promise<unknown> = Promise.resolve();
  /** Bumped when a rebalance begins or completes: work outside a batch aborts if it changed. */
  private generation = 0;
  private assignment: number[] = [];
  /** Local time of the latest successful heartbeat of the current membership (0: none since the last join). */
  private lastHeartbeat = 0;
  private heartbeatFn: (() => Promise<void>) | null = null;
  private stopped = false;
  private readonly log: Logger;
  /** Where the time goes (ms): the processor's own work, and kafkajs's transaction calls. */
  readonly stats = { batches: 0, processMs: 0, beginAndSendMs: 0, offsetsAndCommitMs: 0 };
  /** The most records of a topic per produce request (options.maxRecordsPerSend; settable, for the benchmark's comparisons). */
  maxRecordsPerSend: number;
  /** Record batch compression (options.compression; settable, for the benchmark's comparisons). */
  compression: CompressionTypes;

  constructor(private readonly options: PipelineOptions) {
    const { kafka, groupId, sessionTimeoutMs, maxBytesPerPartition, maxBytes } = options;
    this.log = options.logger.child({ component: 'pipeline' });
    this.maxRecordsPerSend = options.maxRecordsPerSend ?? MAX_RECORDS_PER_SEND;
    this.compression = options.compression ?? CompressionTypes.None;
    this.consumer = kafka.consumer({
      groupId,
      readUncommitted: false,
      sessionTimeout: sessionTimeoutMs,
      heartbeatInterval: Math.max(300, Math.floor(sessionTimeoutMs / 10)),
      rebalanceTimeout: Math.max(sessionTimeoutMs, 30_000),
      maxBytesPerPartition,
      maxBytes,
      maxWaitTimeInMs: 100,
      retry: { retries: 10 },
    });
    this.producer = this.newProducer();
    this.consumer.on(this.consumer.events.HEARTBEAT, () => { this.lastHeartbeat = Date.now(); });
    this.consumer.on(this.consumer.events.REBALANCING, () => { this.generation++; this.lastHeartbeat = 0; });
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      this.generation++;
      this.lastHeartbeat = Date.now(); // a completed join and sync refresh the session as a heartbeat does
      this.assignment = [...(payload.memberAssignment[options.inputTopic] ?? [])].sort((a, b) => a - b);
      this.log.info({ partitions: this.assignment }, 'partitions assigned');
      options.processor.assigned(this.assignment);
    });
    this.consumer.on(this.consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart && !this.stopped) options.onFatal(payload.error);
    });
  }

  get assignedPartitions(): readonly number[] {
    return this.assignment;
  }

  private newProducer(): Producer {
    return createProducer(this.options.kafka, {
      transactionalId: this.options.transactionalId,
      maxInFlightRequests: 1,
      idempotent: true,
      transactionTimeout: this.options.transactionTimeoutMs,
    });
  }

  async start(): Promise<void> {
    await this.producer.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.options.inputTopic], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch, heartbeat, resolveOffset, isStale, isRunning }) => {
        await this.runExclusive(async () => {
          this.heartbeatFn = heartbeat;
          if (!isRunning() || isStale()) return;
          // A batch fetched before a rebalance, for a partition that is no longer ours: leave it to its owner.
          if (!this.assignment.includes(batch.partition)) return;
          this.log.debug({ partition: batch.partition, first: batch.firstOffset(), n: batch.messages.length }, 'batch');
          let work: Work | null;
          const t0 = performance.now();
          try {
            work = await this.options.processor.process(batch, heartbeat);
            this.stats.batches++;
            this.stats.processMs += performance.now() - t0;
          } catch (err) {
            // Nothing was written: forget the state, read the batch again after a pause. kafkajs's own
            // errors (a rebalance under way) go back to kafkajs, which rejoins the group.
            this.options.processor.reset();
            this.consumer.seek({ topic: this.options.inputTopic, partition: batch.partition, offset: batch.firstOffset()! });
            if ((err as Error).name?.startsWith('KafkaJS')) throw err;
            this.log.warn({ err: (err as Error).message, partition: batch.partition }, 'batch failed before its transaction; retrying');
            await new Promise((r) => setTimeout(r, 500));
            return;
          }
          if (work === null) {
            resolveOffset(batch.lastOffset());
            return;
          }
          if (!isRunning() || isStale()) return;
          const ok = await this.commit(work, batch.partition);
          if (ok) resolveOffset(batch.lastOffset());
          else this.consumer.seek({ topic: this.options.inputTopic, partition: batch.partition, offset: batch.firstOffset()! });
        });
        if (!this.stopped) await heartbeat().catch(() => undefined);
      },
    });
  }

  /**
   * Runs `fn` alone (no batch and no other work in between), for work outside batches such as timers.
   * `produce` commits `work` only if no rebalance began since `fn` started and until the records were
   * written: a partition that moves later waits, in its new owner's restore, for this transaction.
   */
  runExclusive<T>(fn: (commit: (work: Work) => Promise<boolean>) => Promise<T>): Promise<T> {
    const run = this.chain.then(async () => {
      const generation = this.generation;
      return fn((work) => this.commit(work, null, () => this.generation === generation));
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * True while this process is certainly still a member of the group that owns its partitions: within half
   * a session timeout of a successful heartbeat (the coordinator cannot have given them to another process
   * before a whole session timeout without heartbeats, nor while this member has not rejoined).
   */
  private member(): boolean {
    return Date.now() < this.lastHeartbeat + this.options.sessionTimeoutMs / 2;
  }

  private async commit(work: Work, partition: number | null, stillOwner: () => boolean = () => true): Promise<boolean> {
    const records = work.messages.reduce((n, t) => n + t.messages.length, 0);
    if (records === 0 && work.offsets.length === 0) {
      work.committed([]);
      return true;
    }
    if (!this.member()) await this.heartbeatFn?.().catch(() => undefined);
    if (!this.member()) {
      this.log.info({ partition }, 'no recent heartbeat: not writing until the membership is confirmed');
      return false;
    }
    let tx;
    try {
      this.log.debug({ partition, records }, 'transaction begins');
      const t0 = performance.now();
      tx = await this.producer.transaction();
      const metadata: RecordMetadata[] = [];
      for (const topicMessages of chunkSends(work.messages, this.maxRecordsPerSend)) {
        metadata.push(...(await tx.sendBatch({ topicMessages, compression: this.compression })));
      }
      const t1 = performance.now();
      this.stats.beginAndSendMs += t1 - t0;
      if (work.offsets.length > 0) {
        await tx.sendOffsets({
          consumerGroupId: this.options.groupId,
          topics: [{ topic: this.options.inputTopic, partitions: work.offsets }],
        });
      }
      // The records are in the log now. If this process was still a member when they got there, a new
      // owner of these partitions restores only after this transaction ends; otherwise it may not, so abort.
      if (!stillOwner() || !this.member()) {
        await tx.abort();
        this.log.info({ partition }, 'aborted work that may overlap a rebalance');
        return false;
      }
      await tx.commit();
      this.stats.offsetsAndCommitMs += performance.now() - t1;
      this.log.debug({ partition, records }, 'transaction committed');
      work.committed(metadata);
      this.options.onCommitted?.({ partition, records, inputs: work.offsets.length });
      return true;
    } catch (err) {
      const e = err as Error & { type?: string; cause?: { type?: string } };
      const type = e.type ?? e.cause?.type;
      if (type === 'PRODUCER_FENCED' || type === 'INVALID_PRODUCER_EPOCH' || type === 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED') {
        this.options.onFatal(new Error(`transactional producer ${this.options.transactionalId} fenced: another process uses this id`, { cause: err }));
        return false;
      }
      this.log.warn({ err: e.message, type, partition }, 'transaction failed: rebuilding the producer and restoring state');
      await this.rebuildProducer();
      this.options.processor.reset();
      return false;
    }
  }

  /** A fresh producer with the same transactional id: initialising it aborts whatever the old one left open. */
  private async rebuildProducer(): Promise<void> {
    const old = this.producer;
    await old.disconnect().catch(() => undefined);
    this.producer = this.newProducer();
    for (let attempt = 1; ; attempt++) {
      try {
        await this.producer.connect();
        return;
      } catch (err) {
        if (this.stopped) return;
        this.log.warn({ err: (err as Error).message, attempt }, 'producer reconnect failed, retrying');
        await new Promise((r) => setTimeout(r, Math.min(5_000, 200 * attempt)));
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.consumer.disconnect().catch(() => undefined);
    await this.chain;
    await this.producer.disconnect().catch(() => undefined);
  }
}
