/**
 * The learner's `transitions` consumer stays running (services/common/kept-consumer.ts): one kafkajs gives up
 * on (a crash it does not retry, as `Failed to find group coordinator` after the broker comes back) is
 * replaced, and the replacement reads on from where the learner had read to, not from the beginning (the
 * learner commits no offsets). A stand-in Kafka client and Postgres pool: no servers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type pg from 'pg';
import { pino } from 'pino';
import { createMetricsRegistry, topicNames, type AvroSerde } from '../../services/common/index.js';
import { Learner } from '../../services/learner/loop.js';
import { DEFAULT_GATE } from '../../services/learner/validation.js';
import { selectBackend } from '../../services/model/index.js';
import { fakeKafka } from '../support/fake-kafka.js';
import { eventually } from '../support/processes.js';
import { gateTrainer } from '../support/transitions.js';

/** A registry with nothing in it: no checkpoint, no dead-letter marks, no challenger. */
const emptyPool = { connect: async () => ({ query: async () => ({ rows: [] }), release: () => undefined }) } as unknown as pg.Pool;

test('a transitions consumer kafkajs gives up on is replaced, and the new one reads on from the learner\'s positions', async () => {
  await selectBackend({ prefer: 'cpu' });
  const { made, kafka } = fakeKafka(2);
  const logLines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void logLines.push((JSON.parse(s) as { msg: string }).msg) });
  const topics = topicNames('unit.');
  const learner = new Learner({
    model: 'unit', trainer: gateTrainer(), kafka, serde: {} as AvroSerde, pool: emptyPool, topics, logger, metrics: createMetricsRegistry('learner'),
    rules: { everySteps: 1e9, everyMs: 1e9, maxLoss: 1e4, gate: DEFAULT_GATE },
    checkpointEverySteps: 1e9, checkpointEveryMs: 1e9, refillPerPartition: 0, maxRestores: 3,
  });
  await learner.start();
  assert.equal(made.length, 1);
  assert.deepEqual(made[0]!.subscribed, { topic: topics.transitions, fromBeginning: true });
  assert.deepEqual(made[0]!.seeks.map((p) => [p.partition, p.offset]), [[0, '0'], [1, '0']], 'a first start with no checkpoint reads from the beginning');

  // The learner has read partition 0 up to offset 17 (what onBatch records once a batch is ingested).
  (learner as unknown as { offsets: Map<number, string> }).offsets.set(0, '17');
  made[0]!.crash(false);
  await eventually(async () => (made.length === 2 && made[1]!.running ? true : undefined), 10_000, 'a replacement transitions consumer running');
  assert.ok(made[0]!.disconnected, 'the consumer kafkajs gave up on is disconnected');
  assert.deepEqual(made[1]!.seeks.map((p) => [p.partition, p.offset]), [[0, '17'], [1, '0']], 'the replacement reads on from the learner\'s positions');
  assert.ok(logLines.includes('transitions consumer running again'));

  // One kafkajs restarts itself rejoins with no committed offsets: sent back to the learner's positions too.
  (learner as unknown as { offsets: Map<number, string> }).offsets.set(1, '4');
  made[1]!.crash(true);
  made[1]!.join();
  assert.deepEqual(made[1]!.seeks.slice(2).map((p) => [p.partition, p.offset]), [[0, '17'], [1, '4']]);
  assert.equal(made.length, 2, 'kafkajs restarts that one itself: no replacement');

  await learner.stop();
  made[1]!.crash(false);
  await new Promise((r) => setTimeout(r, 1_500));
  assert.equal(made.length, 2, 'nothing replaced after stop');
});
