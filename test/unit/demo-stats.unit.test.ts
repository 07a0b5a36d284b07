import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deciles, differenceInterval, meanInterval, rollingMean, round, summariseRewards, Z95 } from '../../services/demo/stats.js';

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} ≠ ${b}`);

test('mean ± 1.96·sd/√n, with the sample standard deviation', () => {
  const i = meanInterval([1, 2, 3, 4, 5]);
  close(i.mean, 3);
  close(i.sd, Math.sqrt(2.5));
  close(i.high - i.mean, (Z95 * Math.sqrt(2.5)) / Math.sqrt(5));
  close(i.mean - i.low, i.high - i.mean);
  assert.deepEqual(meanInterval([7]), { n: 1, mean: 7, sd: 0, low: 7, high: 7 });
  assert.ok(Number.isNaN(meanInterval([]).mean));
});

test('deciles are the first and the last tenth, at least one value each', () => {
  const xs = Array.from({ length: 95 }, (_, i) => i);
  const d = deciles(xs);
  assert.deepEqual(d.first, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(d.last, [86, 87, 88, 89, 90, 91, 92, 93, 94]);
  assert.deepEqual(deciles([1, 2, 3]), { first: [1], last: [3] });
  assert.deepEqual(deciles([]), { first: [], last: [] });
});

test('the difference of two means has the Welch interval', () => {
  const a = meanInterval([0, 1, 2, 3]);
  const b = meanInterval([5, 7, 9, 11]);
  const d = differenceInterval(a, b);
  close(d.difference, 8 - 1.5);
  const se = Math.sqrt(a.sd ** 2 / 4 + b.sd ** 2 / 4);
  close(d.high - d.difference, Z95 * se);
  close(d.difference - d.low, Z95 * se);
});

test('a clear rise is well outside the noise; no rise is not', () => {
  let seed = 1;
  const noise = () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 4;
  const rising = Array.from({ length: 1000 }, (_, i) => i / 250 + noise());
  const flat = Array.from({ length: 1000 }, () => noise());
  const r = summariseRewards(rising);
  assert.equal(r.first.n, 100);
  assert.ok(r.difference.low > 2, `rising: ${JSON.stringify(r.difference)}`);
  const f = summariseRewards(flat);
  assert.ok(f.difference.low < 0 && f.difference.high > 0, `flat: ${JSON.stringify(f.difference)}`);
});

test('rolling means and rounding', () => {
  assert.deepEqual(rollingMean([2, 4, 6, 8], 2), [2, 3, 5, 7]);
  assert.deepEqual(rollingMean([1, 2, 3], 10), [1, 1.5, 2]);
  assert.throws(() => rollingMean([1], 0), /window/);
  assert.equal(round(1.23456), 1.235);
  assert.equal(round(NaN), null);
});
