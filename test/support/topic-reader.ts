/** Reading a whole topic back in the chaos commands, to compare what the services wrote with a reference. */
import type { Kafka, KafkaMessage } from 'kafkajs';

/** Every record of `topic` up to its end offsets now, partition by partition, read by a group of its own. */
export async function readToEnd(kafka: Kafka, topic: string, groupId: string): Promise<KafkaMessage[][]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const byPartition: KafkaMessage[][] = ends.map(() => []);
  let remaining = ends.filter((o) => BigInt(o.high) > 0n).length;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, maxBytesPerPartition: 8 * 1024 * 1024 });
  let resolve!: () => void;
  const done = new Promise<void>((r) => { resolve = r; });
  if (remaining === 0) resolve();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const list = byPartition[batch.partition]!;
      const end = BigInt(ends.find((o) => o.partition === batch.partition)!.high);
      const wasDone = list.length > 0 && BigInt(list.at(-1)!.offset) + 1n >= end;
      list.push(...batch.messages.filter((m) => BigInt(m.offset) < end));
      if (!wasDone && BigInt(batch.lastOffset()) + 1n >= end && --remaining === 0) resolve();
    },
  });
  await done;
  await consumer.disconnect();
  return byPartition;
}

/**
 * Waits until `count()` has reached `expected` and stayed put for 6 s (the services' timers have closed the
 * last sessions), or until `timeoutMs` has passed; reports each new count through `progress`.
 */
export async function waitUntilQuiet(
  count: () => number, expected: number, timeoutMs: number, progress: (msg: string, extra?: object) => void,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 2_000));
    const n = count();
    if (n !== last) { last = n; quietSince = Date.now(); progress('waiting', { transitions: last }); }
    if (n >= expected && Date.now() - quietSince > 6_000) return;
  }
}
