/** NDCG@k, MAP, the 95% t-interval and the time split, against hand computations. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { averagePrecision, hitAt, ndcgAt, reciprocalRank, viewMetrics } from '../../services/eval/metrics.js';
import { mean, sampleSd, tInterval, tQuantile975 } from '../../services/eval/stats.js';
import { splitByTime } from '../../services/eval/split.js';
import type { PageView } from '../../services/eval/logged-session.js';

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} ≠ ${b}`);

test('NDCG@k by hand', () => {
  close(ndcgAt([true, false, false], 10)!, 1);
  // one relevant item at rank 3: (1/log2 4) / 1 = 0.5
  close(ndcgAt([false, false, true], 10)!, 0.5);
  // relevant at ranks 1 and 3: (1 + 0.5) / (1 + 1/log2 3)
  close(ndcgAt([true, false, true, false], 10)!, 1.5 / (1 + 1 / Math.log2(3)));
  // cut-off: relevant at rank 3 with k = 2 → 0
  close(ndcgAt([false, false, true], 2)!, 0);
  assert.equal(ndcgAt([false, false], 10), null);
});

test('reciprocal rank and HR@k by hand', () => {
  close(reciprocalRank([true, false])!, 1);
  // first relevant item at rank 4 → 1/4, whatever follows
  close(reciprocalRank([false, false, false, true, true])!, 0.25);
  assert.equal(reciprocalRank([false, false]), null);
  assert.equal(hitAt([false, false, true], 3), 1);
  assert.equal(hitAt([false, false, true], 2), 0);
  assert.equal(hitAt([false], 10), null);
  // one view, every metric: relevant at ranks 2 and 3, k = 2
  const m = viewMetrics([false, true, true], 2)!;
  close(m.ndcg, (1 / Math.log2(3)) / (1 + 1 / Math.log2(3)));
  close(m.map, (1 / 2 + 2 / 3) / 2);
  close(m.mrr, 0.5);
  assert.equal(m.hr, 1);
  assert.equal(viewMetrics([false, false], 2), null);
});

test('average precision by hand', () => {
  close(averagePrecision([true, false, false])!, 1);
  close(averagePrecision([false, true])!, 0.5);
  // ranks 1 and 3: (1/1 + 2/3) / 2
  close(averagePrecision([true, false, true])!, (1 + 2 / 3) / 2);
  assert.equal(averagePrecision([false]), null);
});

test('both metrics lie in [0, 1] and are 1 exactly for an ideal ranking', () => {
  fc.assert(
    fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 30 }), (rel) => {
      const n = ndcgAt(rel, 10);
      const ap = averagePrecision(rel);
      if (!rel.some(Boolean)) return n === null && ap === null;
      const ideal = [...rel].sort((a, b) => Number(b) - Number(a));
      return n! >= 0 && n! <= 1 + 1e-12 && ap! > 0 && ap! <= 1 + 1e-12 && Math.abs(ndcgAt(ideal, 10)! - 1) < 1e-12 && averagePrecision(ideal) === 1;
    }),
  );
});

test('t-interval: mean ± t(0.975, n−1)·s/√n', () => {
  const xs = [0.2, 0.4, 0.6];
  close(mean(xs), 0.4);
  close(sampleSd(xs), 0.2);
  const i = tInterval(xs);
  close(i.halfWidth, (4.303 * 0.2) / Math.sqrt(3));
  close(i.low, 0.4 - i.halfWidth);
  assert.equal(i.n, 3);
  assert.equal(tInterval([5]).halfWidth, 0);
  assert.equal(tQuantile975(1), 12.706);
  assert.equal(tQuantile975(100), 1.96);
  assert.throws(() => tQuantile975(0));
});

test('the time split keeps sessions whole and puts the earliest 80% of sessions first', () => {
  const views: PageView[] = [];
  for (let s = 0; s < 10; s++) {
    for (let k = 0; k < 2; k++) {
      views.push({ userId: `u${s % 3}`, sessionId: `s${s}`, time: 100 * (9 - s) + k * 500, step: k, scenario: 'entrance', history: [], context: null, items: [{ id: 'x', behaviour: 'click' }] });
    }
  }
  const split = splitByTime(views);
  assert.equal(split.trainSessions, 8);
  assert.equal(split.testSessions, 2);
  assert.equal(split.train.length + split.test.length, views.length);
  const trainIds = new Set(split.train.map((v) => v.sessionId));
  assert.ok(split.test.every((v) => !trainIds.has(v.sessionId)));
  assert.deepEqual([...new Set(split.test.map((v) => v.sessionId))].sort(), ['s0', 's1'], 'the two sessions that start last');
  assert.equal(split.cutoff, 800);
  assert.throws(() => splitByTime(views, 1));
});
