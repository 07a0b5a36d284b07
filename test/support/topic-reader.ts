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
