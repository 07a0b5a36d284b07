/** The replay buffer (services/model/replay-buffer.ts): bounded ring of item indices, uniform sampling, memory. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ItemVocabulary, ReplayBuffer, resolveConfig, scenarioLayout, seededRandom, toReplayRecord, TransitionRejected } from '../../services/model/index.js';
import type { Transition } from '../../services/common/domain.js';

const record = (i: number, len = 3) => ({
  state: Array.from({ length: len }, (_, t) => i * 10 + t + 1),
  action: i + 1000,
  scenario: i % 2,
  behaviour: i % 3,
  reward: i / 10,
  nextScenario: i % 4 === 0 ? -1 : 1,
});

test('stores item indices, keeps the last N of a long state and right-pads a short one', () => {
  const b = new ReplayBuffer(4, 5);
  b.add(record(1, 7));
  b.add(record(2, 2));
  const batch = b.gather([0, 1]);
  assert.deepEqual([...batch.states.subarray(0, 5)], [13, 14, 15, 16, 17]);
  assert.deepEqual([...batch.states.subarray(5, 10)], [21, 22, 0, 0, 0]);
  assert.deepEqual([...batch.lengths], [5, 2]);
  assert.deepEqual([...batch.actions], [1001, 1002]);
  assert.deepEqual([...batch.nextScenarios], [1, 1]);
  assert.ok(Math.abs(batch.rewards[1]! - 0.2) < 1e-7);
});

test('capacity is a bound: the oldest transitions are overwritten', () => {
  const b = new ReplayBuffer(3, 4);
  for (let i = 0; i < 5; i++) b.add(record(i));
  assert.equal(b.size, 3);
  assert.equal(b.totalAdded, 5);
  assert.deepEqual([...b.gather([0, 1, 2]).actions], [1002, 1003, 1004]);
});

test('sampling is uniform over the held transitions', () => {
  const b = new ReplayBuffer(10, 2);
  for (let i = 0; i < 10; i++) b.add(record(i, 1));
  const counts = new Map<number, number>();
  const random = seededRandom(3);
  for (let k = 0; k < 200; k++) for (const a of b.sample(50, random).actions) counts.set(a, (counts.get(a) ?? 0) + 1);
  // 10 000 draws over 10 slots: each expected 1000; χ² with 9 d.o.f. stays under 27.9 with p = 0.999.
  let chi2 = 0;
  for (let i = 0; i < 10; i++) chi2 += ((counts.get(1000 + i) ?? 0) - 1000) ** 2 / 1000;
  assert.equal(counts.size, 10);
  assert.ok(chi2 < 27.9, `χ² = ${chi2}`);
});

test('1M transitions at N = 50 fit in 500 MB (typed-array bytes, allocated up front)', () => {
  const b = new ReplayBuffer(1_000_000, 50);
  assert.ok(b.byteLength <= 500 * 1024 * 1024, `${b.byteLength} bytes`);
  assert.equal(b.byteLength / 1_000_000, 217);
});

test('toReplayRecord maps ids to indices and rejects what the model cannot use, saying why', () => {
  const layout = scenarioLayout(resolveConfig({}));
  const vocab = new ItemVocabulary();
  const t: Transition = {
    userId: 'u', sessionId: 's', step: 0, scenario: 'entrance', state: ['a', 'b'], action: 'c', behaviour: 'click', reward: 1,
    nextState: ['a', 'b', 'c'], nextScenario: 'detail', terminal: false, eventTime: 0, modelVersion: null, propensity: null,
  };
  const r = toReplayRecord(t, vocab, layout, 50);
  assert.deepEqual(Array.from(r.state), [1, 2]);
  assert.equal(r.action, 3);
  assert.equal(r.scenario, 0);
  assert.equal(r.behaviour, 0);
  assert.equal(r.nextScenario, 1);
  assert.throws(() => toReplayRecord({ ...t, scenario: 'cart' }, vocab, layout, 50), (e: unknown) => e instanceof TransitionRejected && /cart/.test((e as Error).message));
  assert.throws(() => toReplayRecord({ ...t, nextState: ['a', 'b'] }, vocab, layout, 50), /nextState does not follow/);
  assert.throws(() => toReplayRecord({ ...t, behaviour: 'purchase' }, vocab, layout, 50), /not possible/);
  const leave = toReplayRecord({ ...t, behaviour: 'leave', reward: -2, terminal: true, nextScenario: null, nextState: [] }, vocab, layout, 50);
  assert.equal(leave.nextScenario, -1);
});

test('the logged propensity travels from the transition into the replay record and the minibatch (NaN when none was logged)', () => {
  const layout = scenarioLayout(resolveConfig({}));
  const vocab = new ItemVocabulary();
  const t: Transition = {
    userId: 'u', sessionId: 's', step: 0, scenario: 'entrance', state: ['a'], action: 'b', behaviour: 'skip', reward: 0,
    nextState: ['a'], nextScenario: 'entrance', terminal: false, eventTime: 0, modelVersion: 3, propensity: 0.25,
  };
  const b = new ReplayBuffer(4, 5);
  b.add(toReplayRecord(t, vocab, layout, 5));
  b.add(toReplayRecord({ ...t, propensity: null }, vocab, layout, 5));
  const batch = b.gather([0, 1]);
  assert.equal(batch.propensities[0], 0.25);
  assert.ok(Number.isNaN(batch.propensities[1]));
});
