/**
 * Users' histories from the `transitions` topic (read_committed: the sessionizer writes it in
 * transactions, exactly once), so a serving node acts on the state the learner trains on (history.ts).
 * The topic is keyed by user id, so one user's transitions come in the sessionizer's order.
 *
 * At start the node notes each partition's end and reads from the start of its window — the whole retained
 * topic, or with HISTORY_LOOKBACK_HOURS the first offsets written within that many hours — and is ready
 * (`readiness`, the /readyz check `histories`) once it has read up to those ends (catch-up.ts). A user with
 * no transition in the window starts empty, as one evicted by HISTORY_USERS does, until their next one.
 * Each start reads under a group of its own and commits nothing, so nodes scale out without sharing offsets.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type { Registry } from 'prom-client';
import {
  KeptConsumer, METRICS, prom, transitionFromRecord, withRetry, type AvroSerde, type Logger, type Transition,
} from '../common/index.js';
import { CatchUp, type PartitionRange } from './catch-up.js';
import type { UserHistories } from './history.js';

export interface HistoryStreamDeps {
  kafka: Kafka;
  serde: AvroSerde;
  /** The `transitions` topic's name. */
  topic: string;
  histories: UserHistories;
  logger: Logger;
  /** Names the consumer group (with a random suffix per start). */
  nodeId: string;
  /** Read only transitions written this recently at start; null: the whole retained topic. */
  lookbackMs: number | null;
  metrics?: Registry;
  now?: () => number;
}

export class HistoryStream {
  private consumer: KeptConsumer | null = null;
  private catchUp: CatchUp | null = null;
  private readonly now: () => number;
  private readonly m;
  private reported = false;

  constructor(private readonly deps: HistoryStreamDeps) {
    this.now = deps.now ?? Date.now;
    const registers = deps.metrics ? [deps.metrics] : [];
    const M = METRICS.serving;
    const behind = () => (this.catchUp === null ? -1 : this.catchUp.behind);
    this.m = {
      transitions: new prom.Counter({
        name: M.historyTransitions.name, help: 'Transitions read for users\' histories, by outcome (applied, undecodable)',
        labelNames: ['outcome'], registers,
      }),
      evicted: new prom.Counter({ name: M.historyEvicted.name, help: 'Users forgotten to keep within HISTORY_USERS', registers }),
    };
    new prom.Gauge({
      name: M.historyUsers.name, help: 'Users whose history this node holds (at most HISTORY_USERS)', registers,
      collect() {
        this.set(deps.histories.size);
      },
    });
    new prom.Gauge({
      name: M.historyBehind.name, help: 'Records of transitions still to read before the end seen at start (0 once caught up, -1 before start)', registers,
      collect() {
        this.set(behind());
      },
    });
  }

  async start(): Promise<void> {
    const { kafka, topic, logger, lookbackMs } = this.deps;
    const startedAt = this.now();
    const admin = kafka.admin();
    await admin.connect();
    let ranges: PartitionRange[];
    try {
      const ends = await admin.fetchTopicOffsets(topic);
      const starts = lookbackMs === null ? null : await admin.fetchTopicOffsetsByTimestamp(topic, startedAt - lookbackMs);
      ranges = ends.map((e) => {
        const low = BigInt(e.low);
        const windowStart = starts?.find((s) => s.partition === e.partition)?.offset;
        const from = windowStart === undefined ? low : BigInt(windowStart) > low ? BigInt(windowStart) : low;
        return { partition: e.partition, from, to: BigInt(e.high) };
      });
    } finally {
      await admin.disconnect();
    }
    const catchUp = new CatchUp(ranges, startedAt);
    this.catchUp = catchUp;
    logger.info({ topic, records: catchUp.total, lookbackMs }, 'reading users\' histories from transitions');
    // Where each partition resumes: a replacement consumer (kept-consumer.ts) goes on from what was read.
    const next = new Map(ranges.map((r) => [r.partition, r.from]));
    this.consumer = new KeptConsumer({
      name: 'users\' histories',
      logger,
      resume: () => [...next].map(([partition, offset]) => ({ topic, partition, offset: offset.toString() })),
      create: () => {
        const consumer = kafka.consumer({
          groupId: `serving-history-${this.deps.nodeId}-${randomUUID().slice(0, 8)}`, readUncommitted: false, maxBytes: 16 * 1024 * 1024,
        });
        // Fired after every batch, also one of only control records (transaction markers) or aborted records.
        consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
          next.set(payload.partition, BigInt(payload.lastOffset) + 1n);
          catchUp.advance(payload.partition, BigInt(payload.lastOffset) + 1n, this.now());
          if (catchUp.caughtUp && !this.reported) {
            this.reported = true;
            logger.info({ records: catchUp.total, ms: catchUp.tookMs, users: this.deps.histories.size }, 'users\' histories caught up');
          }
        });
        return consumer;
      },
      run: async (consumer) => {
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({ autoCommit: false, eachBatch: async ({ batch, heartbeat }) => this.onBatch(batch.partition, batch.messages, heartbeat) });
        for (const [partition, offset] of next) consumer.seek({ topic, partition, offset: offset.toString() });
      },
    });
    await this.consumer.start();
    if (catchUp.caughtUp) {
      this.reported = true;
      logger.info({ records: 0 }, 'users\' histories caught up (nothing to read)');
    }
  }

  private async onBatch(partition: number, messages: { offset: string; value: Buffer | null }[], heartbeat: () => Promise<void>): Promise<void> {
    const { serde, histories, logger, topic } = this.deps;
    const evictedBefore = histories.evicted;
    let applied = 0;
    let undecodable = 0;
    for (const message of messages) {
      try {
        if (!message.value) throw new Error('record has no value');
        const value = message.value;
        // A registry that does not answer is retried (the error says so) before the record counts as undecodable.
        const record = await withRetry(() => serde.decode<Transition>(value));
        // Decoded with its writer's schema: a record of another schema the registry holds decodes too.
        const missing = (['userId', 'nextState'] as const).filter((f) =>
          f === 'userId' ? typeof record?.userId !== 'string' : !(Array.isArray(record?.nextState) && record.nextState.every((x) => typeof x === 'string')));
        if (missing.length > 0) throw new Error(`not a transition record (written with another schema?): ${missing.join(', ')} missing or of the wrong type`);
        histories.observe(transitionFromRecord(record));
        applied++;
      } catch (err) {
        undecodable++;
        logger.warn({ topic, partition, offset: message.offset, reason: (err as Error).message }, 'transition skipped for history');
      }
    }
    this.m.transitions.inc({ outcome: 'applied' }, applied);
    if (undecodable > 0) this.m.transitions.inc({ outcome: 'undecodable' }, undecodable);
    if (histories.evicted > evictedBefore) this.m.evicted.inc(histories.evicted - evictedBefore);
    await heartbeat();
  }

  /** The /readyz check: throws, saying how far behind, until the node has read up to the end seen at start. */
  async readiness(): Promise<void> {
    if (this.catchUp === null) throw new Error('not reading transitions yet');
    if (!this.catchUp.caughtUp) throw new Error(this.catchUp.describe());
  }

  /** The start-up catch-up: records to read, how many are left, and how long it took (null while it runs). */
  progress(): { total: number; behind: number; tookMs: number | null } | null {
    const c = this.catchUp;
    return c === null ? null : { total: c.total, behind: c.behind, tookMs: c.tookMs };
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
  }
}
