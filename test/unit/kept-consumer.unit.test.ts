/**
 * Consumers stay running (services/common/kept-consumer.ts; the serving node's, the learner's): one kafkajs gives up on is
 * replaced, and one kafkajs restarts itself is sent back to where the caller had read to instead of the
 * beginning. A stand-in Kafka client (test/support/fake-kafka.ts): no broker.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { KeptConsumer } from '../../services/common/index.js';
import { fakeKafka } from '../support/fake-kafka.js';
import { eventually } from '../support/processes.js';

test('a consumer kafkajs restarts is sent back to the read positions; one it gives up on is replaced and resumes there', async () => {
  const { made, kafka } = fakeKafka();
  const logLines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void logLines.push((JSON.parse(s) as { msg: string }).msg) });
  const next = new Map([[0, 5n], [1, 0n]]);
  const at = () => [...next].map(([partition, offset]) => ({ topic: 't', partition, offset: offset.toString() }));
  let n = 0;
  const kept = new KeptConsumer({
    name: 'test', logger, resume: at, backoff: { initialMs: 10, maxMs: 10 },
    create: () => kafka.consumer({ groupId: `g-${n++}` }),
    run: async (c) => {
      await c.connect();
      await c.subscribe({ topic: 't', fromBeginning: true });
      await c.run({ eachBatch: async () => undefined });
      for (const p of at()) c.seek(p);
    },
  });
  await kept.start();
  assert.deepEqual(made[0]!.seeks, [{ topic: 't', partition: 0, offset: '5' }, { topic: 't', partition: 1, offset: '0' }]);

  // Read on; kafkajs restarts the consumer and it rejoins with no committed offsets.
  next.set(0, 40n);
  next.set(1, 7n);
  made[0]!.join();
  assert.equal(made[0]!.seeks.length, 2, 'a join without a restart before it seeks nothing');
  made[0]!.crash(true);
  made[0]!.join();
  assert.deepEqual(made[0]!.seeks.slice(2), [{ topic: 't', partition: 0, offset: '40' }, { topic: 't', partition: 1, offset: '7' }]);
  assert.equal(made.length, 1, 'kafkajs restarts it: no replacement');

  // kafkajs gives up on it: a new consumer, a group of its own, going on from the same positions.
  next.set(0, 41n);
  made[0]!.crash(false);
  await eventually(async () => (made.length === 2 && made[1]!.running ? true : undefined), 5_000, 'a replacement running');
  assert.ok(made[0]!.disconnected);
  assert.notEqual(made[1]!.groupId, made[0]!.groupId);
  assert.deepEqual(made[1]!.seeks, [{ topic: 't', partition: 0, offset: '41' }, { topic: 't', partition: 1, offset: '7' }]);
  assert.ok(logLines.includes('test consumer running again'));

  await kept.stop();
  made[1]!.crash(false);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(made.length, 2, 'nothing replaced after stop');
});
