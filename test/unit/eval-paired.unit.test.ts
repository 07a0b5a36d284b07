/** Paired bootstrap comparisons and their standing, on hand-made per-unit scores. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pairedBootstrap, standingOf } from '../../services/eval/paired.js';
import { pairedComparisons } from '../../services/eval/offline.js';
import type { ViewScores } from '../../services/eval/scoring.js';

const opts = { resamples: 500, seed: 3 };

test('a constant per-unit difference gives that difference with a zero-width interval', () => {
  const a = [Float64Array.from([0.5, 0.7, 0.9]), Float64Array.from([0.6, 0.8, 1.0])];
  const b = a.map((s) => s.map((x) => x - 0.25));
  const d = pairedBootstrap(a, b, opts);
  assert.ok(Math.abs(d.mean - 0.25) < 1e-12 && Math.abs(d.low - 0.25) < 1e-12 && Math.abs(d.high - 0.25) < 1e-12);
  assert.equal(d.standing, 'ahead');
  assert.equal(d.units, 3);
  assert.equal(pairedBootstrap(b, a, opts).standing, 'behind');
});

test('pairing removes the spread between units: a small steady lead is ahead although the levels overlap', () => {
  // Units differ wildly (0…1) but model a is 0.01 above b on every one of 200 units.
  const levels = Float64Array.from({ length: 200 }, (_, u) => (u * 37) % 100 / 100);
  const b = [levels];
  const a = [levels.map((x) => x + 0.01)];
  const d = pairedBootstrap(a, b, opts);
  assert.ok(d.low > 0, `low ${d.low}`);
  assert.equal(d.standing, 'ahead');
});

test('differences of both signs average out to tied; the mean is pooled over seeds and NaN units are left out', () => {
  const a = [Float64Array.from([1, 0, 1, 0]), Float64Array.from([1, 0, NaN, 0])];
  const b = [Float64Array.from([0, 1, 0, 1]), Float64Array.from([0, 1, NaN, 1])];
  const d = pairedBootstrap(a, b, opts);
  // differences: +1 −1 +1 −1 and +1 −1 (skip) −1 → sum −1 over 7 scored pairs
  assert.ok(Math.abs(d.mean - -1 / 7) < 1e-12, `mean ${d.mean}`);
  assert.equal(d.standing, 'tied');
  assert.throws(() => pairedBootstrap(a, [b[0]!], opts), /same seeds/);
  assert.throws(() => pairedBootstrap([Float64Array.from([1])], [Float64Array.from([1, 2])], opts), /same units/);
  assert.equal(standingOf(0.1, 0.2), 'ahead');
  assert.equal(standingOf(-0.2, -0.1), 'behind');
  assert.equal(standingOf(-0.1, 0.1), 'tied');
});

test('pairedComparisons compares the reference with every other model per scenario and metric', () => {
  const views = (ndcg: number[], scenarios: ('entrance' | 'detail')[]): ViewScores => ({
    scenarios,
    values: { ndcg: Float64Array.from(ndcg), map: Float64Array.from(ndcg), mrr: Float64Array.from(ndcg), hr: Float64Array.from(ndcg) },
  });
  const sc: ('entrance' | 'detail')[] = ['entrance', 'entrance', 'detail'];
  const scores = new Map([
    ['DeepChain', [views([1, 1, 0], sc)]],
    ['logged', [views([0, 0, 1], sc)]],
  ] as const);
  const out = pairedComparisons(scores, ['entrance', 'detail', 'all'], opts);
  assert.equal(out.length, 3 * 4);
  const get = (s: string) => out.find((c) => c.scenario === s && c.metric === 'ndcg')!;
  assert.equal(get('entrance').standing, 'ahead');
  assert.equal(get('entrance').difference.mean, 1);
  assert.equal(get('detail').standing, 'behind');
  assert.ok(Math.abs(get('all').difference.mean - 1 / 3) < 1e-12);
});
