import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { UserEvent } from '../../services/common/index.js';
import { MemoryTopic } from '../../services/demo/memory-log.js';
import { memoryLogProducer } from '../../services/demo/memory-producer.js';
import { leave } from '../../services/sdk/index.js';

test('a key always lands in the same partition, so one key\'s records keep their order', () => {
  const topic = new MemoryTopic<number>('t', 4);
  const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  for (let i = 0; i < 40; i++) topic.append(keys[i % keys.length]!, i);
  const g = topic.subscribe('g');
  const records = g.poll();
  assert.equal(records.length, 40);
  assert.ok(new Set(keys.map((k) => topic.partitionOf(k))).size > 1, 'keys spread over partitions');
  for (const k of keys) {
    const mine = records.filter((r) => r.key === k);
    assert.ok(mine.every((r) => r.partition === topic.partitionOf(k)));
    assert.deepEqual(mine.map((r) => r.value), [...mine.map((r) => r.value)].sort((x, y) => x - y));
  }
  for (let p = 0; p < 4; p++) {
    const offsets = records.filter((r) => r.partition === p).map((r) => r.offset);
    assert.deepEqual(offsets, offsets.map((_, i) => i), 'offsets count from 0 in each partition');
  }
});

test('each group reads everything once at its own pace; poll honours max; lag counts what is left', () => {
  const topic = new MemoryTopic<string>('t', 2);
  const a = topic.subscribe('a');
  const b = topic.subscribe('b');
  for (let i = 0; i < 10; i++) topic.append(`k${i}`, `v${i}`);
  assert.equal(a.poll(3).length, 3);
  assert.equal(a.lag, 7);
  assert.equal(a.poll().length, 7);
  assert.equal(a.poll().length, 0);
  assert.equal(b.lag, 10);
  assert.equal(b.poll().length, 10);
  assert.throws(() => topic.subscribe('a'), /already subscribed/);
  assert.throws(() => topic.poll('nobody'), /not subscribed/);
});

test('trim drops only what every group has read; offsets keep counting', () => {
  const topic = new MemoryTopic<number>('t', 1);
  const fast = topic.subscribe('fast');
  const slow = topic.subscribe('slow');
  for (let i = 0; i < 6; i++) topic.append('k', i);
  fast.poll();
  slow.poll(2);
  assert.equal(topic.trim(), 2);
  assert.equal(topic.size, 4);
  assert.deepEqual(slow.poll().map((r) => [r.offset, r.value]), [[2, 2], [3, 3], [4, 4], [5, 5]]);
  assert.equal(topic.trim(), 4);
  topic.append('k', 6);
  assert.deepEqual(fast.poll().map((r) => r.offset), [6]);
  assert.equal(topic.end(0), 7);
});

test('the SDK producer interface over the log: events keyed by user, refused after close', async () => {
  const topic = new MemoryTopic<UserEvent>('events', 3);
  const producer = memoryLogProducer(topic);
  const g = topic.subscribe('g');
  await producer.sendAll([leave({ userId: 'u1', sessionId: 's', scenario: 'entrance' }), leave({ userId: 'u2', sessionId: 's', scenario: 'detail' })]);
  const got = g.poll();
  assert.deepEqual(got.map((r) => [r.key, r.partition]), [['u1', topic.partitionOf('u1')], ['u2', topic.partitionOf('u2')]].sort((x, y) => (x[1] as number) - (y[1] as number)));
  await assert.rejects(producer.send(leave({ userId: '', sessionId: 's', scenario: 'entrance' })), /empty user/);
  await producer.close();
  await assert.rejects(producer.send(leave({ userId: 'u1', sessionId: 's', scenario: 'entrance' })), /producer closed/);
});
