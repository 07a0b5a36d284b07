import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DeepChainError } from '../../services/common/index.js';
import { Batcher, type BatcherOptions } from '../../services/sdk/index.js';

/** A sink whose calls stay pending until the test settles them. */
function controlledSink() {
  const calls: { items: number[]; resolve(): void; reject(err: Error): void }[] = [];
  const sink = (items: number[]) => new Promise<void>((resolve, reject) => { calls.push({ items, resolve, reject }); });
  return { calls, sink };
}

const tick = () => new Promise((r) => setImmediate(r));

function batcher(sink: (items: number[]) => Promise<void>, overrides: Partial<BatcherOptions<number>> = {}) {
  return new Batcher<number>({ capacity: 10, batchSize: 4, lingerMs: 60_000, maxInFlight: 1, onFull: 'reject', blockTimeoutMs: 60_000, sink, ...overrides });
}

test('a full batch goes at once; a smaller one waits for the linger time or a flush', async () => {
  const { calls, sink } = controlledSink();
  const b = batcher(sink);
  const done = [b.add([1, 2]), b.add([3, 4]), b.add([5])];
  await tick();
  assert.deepEqual(calls.map((c) => c.items), [[1, 2, 3, 4]], 'batchSize 4 reached: sent without lingering');
  calls[0]!.resolve();
  await Promise.all(done.slice(0, 2));
  await tick();
  assert.deepEqual(calls.map((c) => c.items), [[1, 2, 3, 4], [5]], 'what waited while the sink was busy goes when it is free');
  calls[1]!.resolve();
  await done[2];
  assert.equal(b.size, 0);
});

test('the linger timer sends a lone event', async () => {
  const sent: number[][] = [];
  const b = batcher(async (items) => { sent.push(items); }, { lingerMs: 1 });
  await b.add([7]);
  assert.deepEqual(sent, [[7]]);
});

test("onFull 'reject': a send that does not fit fails at once with a retriable BUFFER_FULL, and room comes back on acknowledgement", async () => {
  const { calls, sink } = controlledSink();
  const b = batcher(sink, { capacity: 5, batchSize: 5 });
  const first = b.add([1, 2, 3, 4]);
  await assert.rejects(b.add([5, 6]), (err: DeepChainError) => err.code === 'BUFFER_FULL' && err.retriable);
  const fits = b.add([5]);
  assert.equal(b.size, 5);
  await tick();
  calls[0]!.resolve();
  await Promise.all([first, fits]);
  assert.equal(b.size, 0);
  await assert.rejects(b.add([1, 2, 3, 4, 5, 6]), RangeError, 'a group larger than the whole buffer can never fit');
});

test("onFull 'block': a send waits for room, in arrival order, then fails with BUFFER_FULL after the block timeout", async () => {
  const { calls, sink } = controlledSink();
  const b = batcher(sink, { capacity: 4, batchSize: 4, onFull: 'block', blockTimeoutMs: 20 });
  const first = b.add([1, 2, 3, 4]);
  const waiting = b.add([5, 6]);
  assert.equal(b.blocked, 1);
  await tick();
  calls[0]!.resolve();
  await first;
  await tick();
  assert.equal(b.blocked, 0, 'admitted once room came back');
  assert.equal(b.size, 2);

  const b2 = batcher(controlledSink().sink, { capacity: 2, lingerMs: 0, onFull: 'block', blockTimeoutMs: 5 });
  void b2.add([1, 2]);
  await assert.rejects(b2.add([3]), (err: DeepChainError) => err.code === 'BUFFER_FULL' && /within 5 ms/.test(err.message));
  assert.equal(b2.size, 2, 'the refused event was never held');
  const flushed = b.flush();
  await tick();
  assert.deepEqual(calls[1]!.items, [5, 6]);
  calls[1]!.resolve();
  await Promise.all([waiting, flushed]);
});

test('the buffer never holds more than its capacity, whatever arrives and however the sink answers', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 20 }),
      fc.array(fc.record({ n: fc.integer({ min: 1, max: 8 }), fail: fc.boolean() }), { minLength: 1, maxLength: 40 }),
      fc.constantFrom<'reject' | 'block'>('reject', 'block'),
      async (capacity, sends, onFull) => {
        let peak = 0;
        let delivered = 0;
        const b: Batcher<number> = new Batcher<number>({
          capacity, batchSize: 3, lingerMs: 0, maxInFlight: 2, onFull, blockTimeoutMs: 50,
          sink: async (items) => {
            peak = Math.max(peak, b.size);
            await tick();
            if (items.includes(-1)) throw new Error('kafka says no');
            delivered += items.length;
          },
        });
        const outcomes = await Promise.allSettled(
          sends.map(({ n, fail }) => b.add(Array.from({ length: n }, (_, i) => (fail && i === 0 ? -1 : i)))),
        );
        assert.ok(peak <= capacity, `peak ${peak} ≤ capacity ${capacity}`);
        assert.equal(b.size, 0);
        // Every send either resolved (all its events delivered) or got a reason: none vanished. A send
        // fails with the sink's error when it shared a batch with a failing one.
        for (const [i, o] of outcomes.entries()) {
          if (o.status === 'fulfilled') assert.ok(!sends[i]!.fail);
          else {
            const err = o.reason as Error & { code?: string };
            assert.ok(err.message === 'kafka says no' || err.code === 'BUFFER_FULL' || err instanceof RangeError, String(err));
          }
        }
        assert.ok(delivered <= sends.reduce((s, x) => s + x.n, 0));
      },
    ),
    { numRuns: 60 },
  );
});

test('a failed batch rejects the sends it carried with the sink error and frees their room', async () => {
  const { calls, sink } = controlledSink();
  const b = batcher(sink);
  const sent = b.add([1, 2, 3, 4]);
  await tick();
  calls[0]!.reject(new DeepChainError('KAFKA_UNAVAILABLE', 'broker down'));
  await assert.rejects(sent, (err: DeepChainError) => err.code === 'KAFKA_UNAVAILABLE');
  assert.equal(b.size, 0);
});

test('flush sends at once and waits for what came before it; close flushes, then refuses new events', async () => {
  const sent: number[][] = [];
  const b = batcher(async (items) => { sent.push(items); });
  const a = b.add([1]);
  await b.flush();
  await a;
  assert.deepEqual(sent, [[1]], 'flush did not wait for the 60 s linger');
  const pending = [b.add([2]), b.add([3])];
  await b.close();
  await Promise.all(pending);
  assert.deepEqual(sent, [[1], [2, 3]]);
  await assert.rejects(b.add([4]), (err: DeepChainError) => err.code === 'PRODUCER_CLOSED' && !err.retriable);
});

test('close lets sends already blocked for room in before it resolves', async () => {
  const { calls, sink } = controlledSink();
  const b = batcher(sink, { capacity: 2, batchSize: 2, onFull: 'block' });
  const first = b.add([1, 2]);
  const blocked = b.add([3]);
  const closed = b.close();
  await tick();
  calls[0]!.resolve();
  await first;
  await tick();
  calls[1]!.resolve();
  await Promise.all([blocked, closed]);
  assert.deepEqual(calls.map((c) => c.items), [[1, 2], [3]]);
});
