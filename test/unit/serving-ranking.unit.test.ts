import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { rankTopK, topK, type Exploration } from '../../services/serving/ranking.js';
import { requestState, UserHistories } from '../../services/serving/history.js';

test('the top-k is highest score first, every propensity 1 without exploration', () => {
  const scores = new Float32Array([1, 2, 3, -1]);
  const ranked = rankTopK(['w', 'x', 'y', 'z'], scores, 3);
  assert.deepEqual(ranked, [
    { itemId: 'y', score: 3, propensity: 1 },
    { itemId: 'x', score: 2, propensity: 1 },
    { itemId: 'w', score: 1, propensity: 1 },
  ]);
  assert.equal(rankTopK(['w'], new Float32Array([0]), 5).length, 1, 'k larger than the candidates');
});

test('with ε-greedy exploration, propensities are the probabilities of each pick', () => {
  const greedy02: Exploration = { policy: 'epsilon-greedy', epsilon: 0.2 };
  // random() = 0.99 → no exploration: the best item, with probability 1 − ε + ε/n.
  const greedy = rankTopK(['a', 'b', 'c', 'd'], new Float32Array([4, 3, 2, 1]), 1, greedy02, () => 0.99);
  assert.deepEqual(greedy.map((r) => r.itemId), ['a']);
  assert.ok(Math.abs(greedy[0]!.propensity - (0.8 + 0.2 / 4)) < 1e-12);
  // First random() < ε → explore; second picks index floor(0.6 · 4) = 2 → 'c', with probability ε/n.
  const draws = [0.1, 0.6];
  const explored = rankTopK(['a', 'b', 'c', 'd'], new Float32Array([4, 3, 2, 1]), 1, greedy02, () => draws.shift()!);
  assert.deepEqual(explored.map((r) => [r.itemId, r.propensity]), [['c', 0.2 / 4]]);
});

test('Plackett–Luce: each slot draws from a softmax of the remaining scores, and logs that probability', () => {
  const scores = new Float32Array([Math.log(4), Math.log(2), Math.log(1), Math.log(1)]); // weights 4, 2, 1, 1 at T = 1
  const pl: Exploration = { policy: 'plackett-luce', temperature: 1 };
  // u = 0.3 · 8 = 2.4 falls in a's share [0, 4); then u = 0.9 · 4 = 3.6 among b, c, d (2, 1, 1) falls in d's [3, 4).
  const draws = [0.3, 0.9];
  const ranked = rankTopK(['a', 'b', 'c', 'd'], scores, 2, pl, () => draws.shift()!);
  assert.deepEqual(ranked.map((r) => r.itemId), ['a', 'd']);
  assert.ok(Math.abs(ranked[0]!.propensity - 4 / 8) < 1e-9);
  assert.ok(Math.abs(ranked[1]!.propensity - 1 / 4) < 1e-9);
  // At T = 0.5 the weights square (16, 4, 1, 1): u = 0.9 · 22 = 19.8 falls in b's [16, 20).
  const sharper = rankTopK(['a', 'b', 'c', 'd'], scores, 1, { policy: 'plackett-luce', temperature: 0.5 }, () => 0.9);
  assert.deepEqual(sharper.map((r) => [r.itemId, Math.round(r.propensity * 22)]), [['b', 4]]);
});

test('Plackett–Luce: the logged propensities are the sampling frequencies', () => {
  const scores = new Float32Array([1, 0.5, 0, -0.5]);
  const pl: Exploration = { policy: 'plackett-luce', temperature: 0.5 };
  let random = 0x2545f491;
  const next = () => ((random = Math.imul(random ^ (random >>> 15), 0x2c1b3c6d) ^ 0x6b5) >>> 0) / 2 ** 32;
  const seen = new Map<string, { count: number; propensity: number }>();
  const n = 20_000;
  for (let r = 0; r < n; r++) {
    const [first] = rankTopK(['a', 'b', 'c', 'd'], scores, 1, pl, next);
    const s = seen.get(first!.itemId) ?? { count: 0, propensity: first!.propensity };
    s.count++;
    seen.set(first!.itemId, s);
  }
  for (const [id, s] of seen) assert.ok(Math.abs(s.count / n - s.propensity) < 0.015, `${id}: drawn ${s.count / n}, logged ${s.propensity}`);
});

test('property: every ranking is k distinct candidates with propensities in (0, 1]', () => {
  fc.assert(
    fc.property(
      fc.array(fc.float({ noNaN: true, min: -10, max: 10 }), { minLength: 1, maxLength: 40 }),
      fc.integer({ min: 1, max: 50 }),
      fc.oneof(
        fc.double({ min: 0, max: 1, noNaN: true }).map((epsilon): Exploration => ({ policy: 'epsilon-greedy', epsilon })),
        fc.double({ min: 1e-6, max: 100, noNaN: true }).map((temperature): Exploration => ({ policy: 'plackett-luce', temperature })),
      ),
      (scores, k, exploration) => {
        const ids = scores.map((_, i) => `i${i}`);
        const ranked = rankTopK(ids, new Float32Array(scores), k, exploration);
        assert.equal(ranked.length, Math.min(k, ids.length));
        assert.equal(new Set(ranked.map((r) => r.itemId)).size, ranked.length);
        for (const r of ranked) assert.ok(r.propensity > 0 && r.propensity <= 1);
      },
    ),
  );
});

test('histories keep the last N items of the sessionizer\'s newest next state and forget the least recent users', () => {
  const h = new UserHistories(3, 2);
  h.observe({ userId: 'u1', nextState: ['a'] });
  h.observe({ userId: 'u1', nextState: ['a', 'b', 'c', 'd'] });
  assert.deepEqual(h.get('u1'), ['b', 'c', 'd']);
  h.observe({ userId: 'u2', nextState: ['p'] });
  h.observe({ userId: 'u3', nextState: ['q'] });
  assert.equal(h.size, 2);
  assert.deepEqual(h.get('u1'), [], 'u1 was the least recently seen');
  assert.deepEqual(requestState(['a', 'b'], 'c', 2), ['b', 'c']);
  assert.deepEqual(requestState(['a', 'b'], 'b', 5), ['a', 'b'], 'the context item is already the last click');
});

test('property: the one-pass top-k equals sorting all candidates', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: -5, max: 5 }), { minLength: 0, maxLength: 60 }),
      fc.integer({ min: 1, max: 20 }),
      (values, k) => {
        const scores = new Float32Array(values);
        const sorted = Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]! || a - b).slice(0, k);
        assert.deepEqual(topK(scores, k), sorted);
      },
    ),
  );
});
