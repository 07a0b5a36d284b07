/**
 * The serving node's event spill (services/serving/event-spill.ts) with an injected delivery that can be
 * made to fail like an unreachable Kafka: nothing that fits the bound is lost or reordered, what does not
 * fit is dropped and counted, and `offer` never waits.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger, createMetricsRegistry, type UserEvent } from '../../services/common/index.js';
import { recommendation } from '../../services/sdk/index.js';
import { EventSpill } from '../../services/serving/event-spill.js';

const logger = createLogger('test', 'silent');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const event = (i: number): UserEvent => recommendation({
  userId: `u${i % 3}`, sessionId: 's', scenario: 'entrance', requestId: `r${i}`, items: ['a'], propensities: [1], model: 'm', modelVersion: 1,
});
const ids = (events: readonly UserEvent[]) => events.map((e) => (e as { requestId: string }).requestId);

/** A sink that acknowledges while `up`, and fails (after `failAfterMs`) while not. */
function flakySink() {
  const delivered: UserEvent[] = [];
  const s = {
    up: true,
    attempts: 0,
    delivered,
    deliver: async (batch: UserEvent[]) => {
      s.attempts++;
      await sleep(2);
      if (!s.up) throw new Error('KAFKA_UNAVAILABLE: connection refused');
      delivered.push(...batch);
    },
  };
  return s;
}

test('events are delivered in order, in batches of at most batchSize', async () => {
  const sink = flakySink();
  const batches: number[] = [];
  const spill = new EventSpill({ capacity: 100, batchSize: 7, logger, deliver: (b) => { batches.push(b.length); return sink.deliver(b); } });
  for (let i = 0; i < 50; i++) assert.equal(spill.offer(event(i)), true);
  await spill.drained();
  assert.deepEqual(ids(sink.delivered), ids(Array.from({ length: 50 }, (_, i) => event(i))));
  assert.ok(Math.max(...batches) <= 7);
  assert.equal(spill.size, 0);
  assert.equal(spill.dropped, 0);
});

test('while delivery fails the spill holds up to its bound, drops and counts the rest, and delivers all it held in order once it works again', async () => {
  const sink = flakySink();
  const metrics = createMetricsRegistry('serving-test');
  const spill = new EventSpill({ capacity: 40, batchSize: 10, logger, metrics, deliver: sink.deliver, retry: { initialMs: 5, maxMs: 20 } });
  for (let i = 0; i < 10; i++) spill.offer(event(i));
  await spill.drained();
  sink.up = false;
  const accepted: number[] = [];
  const started = process.hrtime.bigint();
  for (let i = 10; i < 100; i++) if (spill.offer(event(i))) accepted.push(i);
  const offerMs = Number(process.hrtime.bigint() - started) / 1e6;
  assert.ok(offerMs < 50, `offer never waits (90 offers took ${offerMs} ms)`);
  assert.deepEqual(accepted, Array.from({ length: 40 }, (_, i) => 10 + i), 'the first 40 held, the rest dropped');
  assert.equal(spill.size, 40);
  assert.equal(spill.dropped, 50);
  await sleep(100);
  assert.ok(sink.attempts > 3, 'kept retrying');
  assert.equal(spill.size, 40, 'nothing given up while failing');
  const text = await metrics.metrics();
  assert.match(text, /deepchain_serving_events_dropped_total\{[^}]*\} 50/);
  assert.match(text, /deepchain_serving_events_spilled\{[^}]*\} 40/);

  sink.up = true;
  await spill.drained();
  const expected = [...Array.from({ length: 10 }, (_, i) => i), ...accepted].map((i) => `r${i}`);
  assert.deepEqual([...new Set(ids(sink.delivered))], expected, 'every held event delivered, in order');
  assert.equal(spill.offer(event(100)), true, 'room again');
  await spill.drained();
});

test('a delivery that throws synchronously is retried like one that rejects', async () => {
  let calls = 0;
  const delivered: UserEvent[] = [];
  const spill = new EventSpill({
    capacity: 5, logger, retry: { initialMs: 1, maxMs: 1 },
    deliver: (b) => {
      if (++calls < 3) throw new Error('boom');
      delivered.push(...b);
      return Promise.resolve();
    },
  });
  spill.offer(event(1));
  await spill.drained();
  assert.equal(calls, 3);
  assert.deepEqual(ids(delivered), ['r1']);
});

test('close waits for what is held, then reports what could not be delivered; later offers are dropped and counted', async () => {
  const sink = flakySink();
  const spill = new EventSpill({ capacity: 10, logger, deliver: sink.deliver, retry: { initialMs: 5, maxMs: 5 } });
  for (let i = 0; i < 3; i++) spill.offer(event(i));
  assert.equal(await spill.close(1_000), 0);
  assert.equal(sink.delivered.length, 3);
  assert.equal(spill.offer(event(4)), false);
  assert.equal(spill.dropped, 1);

  const down = flakySink();
  down.up = false;
  const stuck = new EventSpill({ capacity: 10, logger, deliver: down.deliver, retry: { initialMs: 5, maxMs: 5 } });
  stuck.offer(event(1));
  stuck.offer(event(2));
  assert.equal(await stuck.close(30), 2);
  // An attempt still in flight when close gave up fails afterwards: it must not start retrying again.
  const attempts = down.attempts;
  await sleep(50);
  assert.ok(down.attempts <= attempts + 1, `no retries after close (${down.attempts - attempts} more)`);
});

test('capacity and batchSize must be positive integers', () => {
  assert.throws(() => new EventSpill({ capacity: 0, logger, deliver: async () => undefined }), RangeError);
  assert.throws(() => new EventSpill({ capacity: 5, batchSize: 1.5, logger, deliver: async () => undefined }), RangeError);
});
