/**
 * The challenger's own traffic as the release gate (services/learner/challenge.ts): which transitions count
 * for which arm, how pages are cut, and the decision on the per-page difference.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChallengeTally, judgeChallenge, onPolicyDifference, perPageValue } from '../../services/learner/challenge.js';
import { servedPages } from '../support/transitions.js';

test('the tally counts the challenger\'s pages and the live version\'s from the challenge\'s start, cut as lists, shown items only', () => {
  const tally = new ChallengeTally(9, 7, 1_000);
  tally.add([
    ...servedPages({ prefix: 'c', users: 2, pages: 3, modelVersion: 9, outcome: 'click', eventTime: 500 }), // the challenger's: counted whenever
    ...servedPages({ prefix: 'l', users: 3, pages: 2, modelVersion: 7, outcome: 'skip', eventTime: 2_000 }),
    ...servedPages({ prefix: 'early', users: 4, pages: 2, modelVersion: 7, outcome: 'skip', eventTime: 0 }), // the live version's before the start
    ...servedPages({ prefix: 'other', users: 2, pages: 2, modelVersion: 5, outcome: 'click', eventTime: 2_000 }), // another version
  ]);
  const purchase = { ...servedPages({ prefix: 'c', users: 1, pages: 1, modelVersion: 9, outcome: 'click', eventTime: 2_000 })[0]!, behaviour: 'purchase' as const, position: null };
  tally.add([purchase]);
  assert.deepEqual(tally.pages(), { challenger: 6, live: 6 });
  const t = tally.totals();
  assert.deepEqual([...t.challenger.sums], [3, 3]);
  assert.deepEqual([...t.live.pages], [2, 2, 2]);
  assert.equal(perPageValue(t.challenger), 1);
  assert.equal(perPageValue(t.live), 0);

  // A leave ends the last page: two skips and the leave are one page, −2.
  const leaves = new ChallengeTally(9, 7, 0);
  leaves.add(servedPages({ prefix: 'x', users: 1, pages: 4, modelVersion: 9, outcome: 'leave', eventTime: 0 }));
  assert.deepEqual(leaves.pages(), { challenger: 4, live: 0 });
  assert.equal(perPageValue(leaves.totals().challenger), -0.5);
});

test('a challenge is decided once each arm has the minimum of pages: promoted when the lower bound clears the margin', () => {
  const tally = new ChallengeTally(9, 7, 0);
  tally.add(servedPages({ prefix: 'c', users: 20, pages: 5, modelVersion: 9, outcome: 'click', eventTime: 0 }));
  const rules = { minPages: 100, margin: 0.05, resamples: 200, seed: 1 };
  assert.deepEqual(judgeChallenge(tally, rules), { status: 'insufficient', pages: { challenger: 100, live: 0 } });
  tally.add(servedPages({ prefix: 'l', users: 20, pages: 5, modelVersion: 7, outcome: 'skip', eventTime: 0 }));
  const won = judgeChallenge(tally, rules);
  assert.ok(won.status === 'decided' && won.promote && won.difference.estimate === 1 && won.difference.low === 1, JSON.stringify(won));
  assert.deepEqual(won.status === 'decided' && won.users, { challenger: 20, live: 20 });

  const losing = new ChallengeTally(9, 7, 0);
  losing.add(servedPages({ prefix: 'c', users: 20, pages: 5, modelVersion: 9, outcome: 'leave', eventTime: 0 }));
  losing.add(servedPages({ prefix: 'l', users: 20, pages: 5, modelVersion: 7, outcome: 'skip', eventTime: 0 }));
  const lost = judgeChallenge(losing, rules);
  assert.ok(lost.status === 'decided' && !lost.promote && Math.abs(lost.difference.estimate + 0.4) < 1e-12, JSON.stringify(lost));
});

test('the per-page difference: arms resampled apart by user, the interval around the estimate, equal arms straddling 0', () => {
  const arm = (values: number[]) => ({ sums: Float64Array.from(values), pages: Float64Array.from(values.map(() => 2)) });
  const a = arm([2, 0, 1, 2, 1, 0, 2, 1]);
  const b = arm([0, 1, 0, 0, 1, 0, 1, 0]);
  const d = onPolicyDifference(a, b, 2_000, 3);
  assert.equal(d.estimate, 9 / 16 - 3 / 16);
  assert.ok(d.low < d.estimate && d.estimate < d.high, JSON.stringify(d));
  const same = onPolicyDifference(a, a, 2_000, 3);
  assert.ok(same.estimate === 0 && same.low < 0 && same.high > 0, JSON.stringify(same));
  assert.throws(() => onPolicyDifference(arm([]), b, 10, 1), /an arm has no users/);
});
