/**
 * Reads changelog partitions from their beginning to their end, read_committed, for the state store.
 *
 * "The end" is the high watermark at the start of the restore, not the last stable offset: if a
 * transaction is still open on the partition (a previous owner was killed mid-transaction), the restore
 * waits until it is committed or aborted (the killed process restarting with its transactional id aborts
 * it, or the transaction timeout does). So a restore never misses a transaction whose offsets may already
 * count as committed, and never sees one that was aborted.
 *
 * kafkajs cannot assign partitions by hand, so the reader is a consumer in a group of its own that pauses
 * the partitions it does not need; kafkajs filters aborted records and transaction markers and reports
 * their offsets only through the END_BATCH_PROCESS instrumentation event, which is what tells the reader
 * it has reached the end.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from '../common/index.js';

export interface RestoreOptions {
  kafka: Kafka;
  admin: Admin;
  topic: string;
  partitions: readonly number[];
  groupIdPrefix: string;
  logger: Logger;
  /** Called for every committed record, in offset order per partition. */
  onRecords: (partition: number, messages: KafkaMessage[]) => Promise<void> | void;
  /** Keeps the caller's consumer-group membership alive while this runs. */
  heartbeat?: () => Promise<void>;
  /** Longest wait for the end (an open transaction resolves within the transaction timeout). */
  timeoutMs: number;
}

export async function restoreChangelog(options: RestoreOptions): Promise<{ records: number }> {
  const { kafka, admin, topic, partitions, logger, onRecords, heartbeat, timeoutMs } = options;
  const offsets = await admin.fetchTopicOffsets(topic);
  const target = new Map<number, bigint>();
  for (const p of partitions) {
    const o = offsets.find((x) => x.partition === p);
    if (!o) throw new Error(`changelog ${topic} has no partition ${p}`);
    if (BigInt(o.high) > BigInt(o.low)) target.set(p, BigInt(o.high));
  }
  if (target.size === 0) return { records: 0 };
  logger.info({ topic, targets: Object.fromEntries([...target].map(([p, t]) => [p, String(t)])) }, 'restoring changelog');

  const consumer = kafka.consumer({
    groupId: `${options.groupIdPrefix}-restore-${randomUUID()}`,
    readUncommitted: false,
    maxBytesPerPartition: 8 * 1024 * 1024,
    maxWaitTimeInMs: 250,
  });
  const done = new Set<number>();
  let records = 0;
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => { finish = resolve; });
  const reached = (partition: number, lastOffset: string) => {
    const t = target.get(partition);
    if (t !== undefined && !done.has(partition) && BigInt(lastOffset) + 1n >= t) {
      done.add(partition);
      consumer.pause([{ topic, partitions: [partition] }]);
      if (done.size === target.size) finish();
    }
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => reached(payload.partition, payload.lastOffset));
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const t = target.get(batch.partition);
        if (t === undefined || done.has(batch.partition)) {
          consumer.pause([{ topic, partitions: [batch.partition] }]);
          return;
        }
        const messages = batch.messages.filter((m) => BigInt(m.offset) < t);
        records += messages.length;
        await onRecords(batch.partition, messages);
      },
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const outcome = await Promise.race([finished.then(() => 'done' as const), sleep(1_000).then(() => 'wait' as const)]);
      if (outcome === 'done') break;
      if (Date.now() > deadline) {
        const missing = [...target.keys()].filter((p) => !done.has(p));
        throw new Error(`restore of ${topic} partitions ${missing.join(',')} did not reach the end within ${timeoutMs} ms`);
      }
      logger.info({ topic, done: [...done], records }, 'restore still running');
      await heartbeat?.();
    }
    logger.info({ topic, partitions, records }, 'changelog restored');
    return { records };
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
