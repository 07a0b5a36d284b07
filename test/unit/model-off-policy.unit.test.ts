/**
 * Off-policy estimates of list policies (services/model/off-policy.ts) against hand computations on tiny
 * logs, an exhaustive check that IPS is unbiased, the minimum-data guard, bootstrap intervals, paired
 * comparisons and the errors on bad input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  comparePolicies,
  estimatePolicyValue,
  seededRandom,
  type LoggedPage,
  type OffPolicyOptions,
  type PolicyComparison,
  type PolicyValue,
  type TargetPolicy,
} from '../../services/model/index.js';

const close = (actual: number, expected: number, what: string, tolerance = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, expected ${expected}`);

/** Tiny logs pass no guard with the defaults; the guard has its own test. */
const small = { minPages: 1, minEffectiveSampleSize: 0, resamples: 200, seed: 3 };

function ok(result: ReturnType<typeof estimatePolicyValue>): PolicyValue {
  assert.equal(result.status, 'ok', result.status === 'insufficient' ? result.reason : '');
  return result as PolicyValue;
}

function okPair(result: ReturnType<typeof comparePolicies>): PolicyComparison {
  assert.equal(result.status, 'ok', result.status === 'insufficient' ? result.reason : '');
  return result as PolicyComparison;
}

const page = (sessionId: string, shown: [string, number, number][]): LoggedPage => ({
  sessionId,
  shown: shown.map(([item, propensity, reward]) => ({ item, propensity, reward })),
});

// Three pages of two positions; sessions a (pages 1 and 3) and b (page 2).
//            propensity μ   reward r    target π     w = π/μ
// page 1 a:  0.5, 0.25      1, 1        1, 0.5       2, 2
// page 2 b:  0.5, 0.5       0, 1        0.5, 1       1, 2
// page 3 a:  0.25, 1        −2, 1       0.5, 0.5     2, 0.5
const handLog = [
  page('a', [['x', 0.5, 1], ['y', 0.25, 1]]),
  page('b', [['x', 0.5, 0], ['z', 0.5, 1]]),
  page('a', [['y', 0.25, -2], ['x', 1, 1]]),
];
const handTarget: TargetPolicy = {
  probabilities: [[1, 0.5], [0.5, 1], [0.5, 0.5]],
  //        q̂ (logged item)   v̂ (target at the position)
  // page 1: 0.5, 0           0.6, 0.2
  // page 2: 0.5, 0.5         0.4, 0.4
  // page 3: −1, 0.5          0, 0.5
  direct: { loggedItemReward: [[0.5, 0], [0.5, 0.5], [-1, 0.5]], targetReward: [[0.6, 0.2], [0.4, 0.4], [0, 0.5]] },
};

test('IPS, SNIPS and DR on three hand-computed pages, per page and per session', () => {
  // IPS: Σ_k w·r per page = 2+2 = 4, 0+2 = 2, −4+0.5 = −3.5; total 2.5 → 2.5/3 per page, 2.5/2 per session.
  const ips = ok(estimatePolicyValue(handLog, handTarget, { ...small, estimator: 'ips' }));
  close(ips.perPage.estimate, 2.5 / 3, 'IPS per page');
  close(ips.perSession.estimate, 2.5 / 2, 'IPS per session');
  assert.equal(ips.pages, 3);
  assert.equal(ips.sessions, 2);
  // Kish: Σw = 2+2+1+2+2+0.5 = 9.5, Σw² = 4+4+1+4+4+0.25 = 17.25.
  close(ips.effectiveSampleSize, 9.5 ** 2 / 17.25, 'effective sample size');

  // SNIPS per position: first Σw·r / Σw = (2+0−4)/(2+1+2) = −0.4, second (2+2+0.5)/(2+2+0.5) = 1;
  // every page has both positions, so per page −0.4 + 1 = 0.6 and per session 0.6·3/2 = 0.9.
  const snips = ok(estimatePolicyValue(handLog, handTarget, { ...small, estimator: 'snips' }));
  close(snips.perPage.estimate, 0.6, 'SNIPS per page');
  close(snips.perSession.estimate, 0.9, 'SNIPS per session');

  // DR per position v̂ + w·(r − q̂):
  // page 1: 0.6 + 2·(1−0.5) = 1.6,  0.2 + 2·(1−0) = 2.2     → 3.8
  // page 2: 0.4 + 1·(0−0.5) = −0.1, 0.4 + 2·(1−0.5) = 1.4   → 1.3
  // page 3: 0 + 2·(−2+1) = −2,      0.5 + 0.5·(1−0.5) = 0.75 → −1.25; total 3.85
  const dr = ok(estimatePolicyValue(handLog, handTarget, { ...small, estimator: 'dr' }));
  close(dr.perPage.estimate, 3.85 / 3, 'DR per page');
  close(dr.perSession.estimate, 3.85 / 2, 'DR per session');
});

test('SNIPS on pages of different lengths weighs each position by the share of pages that show it', () => {
  //           μ, r, π         w, w·r
  // page 1 a: 0.5, 1, 1     → 2, 2     then 0.5, 1, 0.5 → 1, 1
  // page 2 b: 0.5, 0, 0.5   → 1, 0     (one position only)
  // position 1: 2/3 on 2 of 2 pages; position 2: 1/1 on 1 of 2 pages → 2/3 + 1·(1/2) = 7/6 per page.
  const log = [page('a', [['x', 0.5, 1], ['y', 0.5, 1]]), page('b', [['x', 0.5, 0]])];
  const target = { probabilities: [[1, 0.5], [0.5]] };
  close(ok(estimatePolicyValue(log, target, { ...small, estimator: 'snips' })).perPage.estimate, 7 / 6, 'SNIPS per page');
  // IPS for contrast: (2 + 1 + 0) / 2 pages.
  close(ok(estimatePolicyValue(log, target, { ...small, estimator: 'ips' })).perPage.estimate, 1.5, 'IPS per page');
});

test('clipping caps every weight, in the estimate and in the effective sample size', () => {
  // clip 1: w = 1, 1 | 1, 1 | 1, 0.5; Σ w·r = 2 + 1 + (−2 + 0.5) = 1.5 → 0.5 per page.
  const clipped = ok(estimatePolicyValue(handLog, handTarget, { ...small, estimator: 'ips', clip: 1 }));
  close(clipped.perPage.estimate, 0.5, 'clipped IPS per page');
  close(clipped.effectiveSampleSize, 5.5 ** 2 / 5.25, 'clipped effective sample size');
});

test('DR gives the direct model\'s value exactly when the direct model is exact, where IPS is noisy', () => {
  // Three items with deterministic rewards q = 1, 0, −2; the log picks uniformly (μ = 1/3) at each of two
  // positions; the target puts 0.6, 0.3, 0.1 on them, so v̂ = 0.6·1 + 0.3·0 + 0.1·(−2) = 0.4 per position.
  const q = [1, 0, -2];
  const pi = [0.6, 0.3, 0.1];
  const random = seededRandom(11);
  const log: LoggedPage[] = [];
  const picks: number[][] = [];
  for (let i = 0; i < 60; i++) {
    const items = [0, 1].map(() => Math.floor(random() * 3));
    picks.push(items);
    log.push({ sessionId: `s${i % 20}`, shown: items.map((j) => ({ item: `i${j}`, propensity: 1 / 3, reward: q[j]! })) });
  }
  const target: TargetPolicy = {
    probabilities: picks.map((items) => items.map((j) => pi[j]!)),
    direct: { loggedItemReward: picks.map((items) => items.map((j) => q[j]!)), targetReward: picks.map((items) => items.map(() => 0.4)) },
  };
  const dr = ok(estimatePolicyValue(log, target, { ...small, estimator: 'dr' }));
  close(dr.perPage.estimate, 0.8, 'DR per page', 1e-12);
  close(dr.perPage.low, 0.8, 'DR low', 1e-12);
  close(dr.perPage.high, 0.8, 'DR high', 1e-12);
  const ips = ok(estimatePolicyValue(log, target, { ...small, estimator: 'ips' }));
  assert.ok(Math.abs(ips.perPage.estimate - 0.8) > 1e-3 && ips.perPage.high - ips.perPage.low > 0.1, 'IPS is not exact here');
});

test('IPS is unbiased: averaged over every possible two-page log it gives the target\'s true value; SNIPS is not', () => {
  // One position, items A and B. Logging: μ(A) = 0.8, μ(B) = 0.2. Rewards: A clicks (1) w.p. 0.3 else 0;
  // B clicks w.p. 0.6 else leaves (−2). Target: π(A) = 0.1, π(B) = 0.9.
  // True value: 0.1·0.3 + 0.9·(0.6·1 + 0.4·(−2)) = 0.03 − 0.18 = −0.15.
  const mu = { A: 0.8, B: 0.2 };
  const pi = { A: 0.1, B: 0.9 };
  const outcomes = [
    { item: 'A', reward: 1, p: 0.8 * 0.3 },
    { item: 'A', reward: 0, p: 0.8 * 0.7 },
    { item: 'B', reward: 1, p: 0.2 * 0.6 },
    { item: 'B', reward: -2, p: 0.2 * 0.4 },
  ] as const;
  const options = { minPages: 1, minEffectiveSampleSize: 0, resamples: 1 };
  let ips = 0;
  let snips = 0;
  let mass = 0;
  for (const first of outcomes) {
    for (const second of outcomes) {
      const log = [first, second].map((o, i) => ({ sessionId: `s${i}`, shown: [{ item: o.item, propensity: mu[o.item], reward: o.reward }] }));
      const target = { probabilities: [[pi[first.item]], [pi[second.item]]] };
      const p = first.p * second.p;
      ips += p * ok(estimatePolicyValue(log, target, { ...options, estimator: 'ips' })).perPage.estimate;
      snips += p * ok(estimatePolicyValue(log, target, { ...options, estimator: 'snips' })).perPage.estimate;
      mass += p;
    }
  }
  close(mass, 1, 'outcome probabilities');
  close(ips, -0.15, 'expected IPS estimate');
  assert.ok(Math.abs(snips - -0.15) > 0.01, `SNIPS is biased on two pages: ${snips}`);
});

test('the minimum-data guard answers insufficient, naming the count and the minimum', () => {
  const byPages = estimatePolicyValue(handLog, handTarget, { estimator: 'ips' });
  assert.equal(byPages.status, 'insufficient');
  assert.match(byPages.status === 'insufficient' ? byPages.reason : '', /\b3 logged pages.*minimum of 50000/);
  // Effective sample size 9.5²/17.25 ≈ 5.2 < 6.
  const byWeights = estimatePolicyValue(handLog, handTarget, { estimator: 'snips', minPages: 3, minEffectiveSampleSize: 6 });
  assert.equal(byWeights.status, 'insufficient');
  assert.match(byWeights.status === 'insufficient' ? byWeights.reason : '', /effective sample size 5\.2 .*minimum of 6/);
  assert.equal(estimatePolicyValue(handLog, handTarget, { estimator: 'snips', minPages: 3, minEffectiveSampleSize: 5 }).status, 'ok');
  // The comparison guards both policies' weights: a candidate that is the logging policy (every w = 1,
  // effective sample size 6) passes, the live one (≈ 5.2) does not.
  const onLog = { probabilities: handLog.map((p) => p.shown.map((s) => s.propensity)) };
  const compared = comparePolicies(handLog, onLog, handTarget, { estimator: 'ips', minPages: 3, minEffectiveSampleSize: 6 });
  assert.equal(compared.status, 'insufficient');
  assert.match(compared.status === 'insufficient' ? compared.reason : '', /live policy's weights/);
  assert.equal(comparePolicies(handLog, handTarget, handTarget, { estimator: 'ips' }).status, 'insufficient');
  assert.equal(estimatePolicyValue([], { probabilities: [] }, { estimator: 'ips', minPages: 0 }).status, 'insufficient');
});

/**
 * Synthetic traffic: sessions of 1–3 pages with two positions; the log picks among three items with
 * μ = 0.5, 0.3, 0.2 at each position; item j clicks w.p. 0.2, 0.4, 0.6, else leaves w.p. 0.05, else skips.
 * Two targets: `good` puts 0.2, 0.3, 0.5 on the items, `poor` 0.7, 0.2, 0.1. The direct model knows the
 * expected rewards up to a bias of +0.05.
 */
function traffic(sessions: number, seed: number): { log: LoggedPage[]; good: TargetPolicy; poor: TargetPolicy } {
  const mu = [0.5, 0.3, 0.2];
  const click = [0.2, 0.4, 0.6];
  const expected = click.map((c) => c + (1 - c) * 0.05 * -2 + 0.05);
  const random = seededRandom(seed);
  const log: LoggedPage[] = [];
  const picks: number[][] = [];
  for (let s = 0; s < sessions; s++) {
    const pages = 1 + Math.floor(random() * 3);
    for (let p = 0; p < pages; p++) {
      const items = [0, 1].map(() => {
        const u = random();
        return u < mu[0]! ? 0 : u < mu[0]! + mu[1]! ? 1 : 2;
      });
      picks.push(items);
      log.push({
        sessionId: `u${s}`,
        shown: items.map((j) => ({
          item: `i${j}`,
          propensity: mu[j]!,
          reward: random() < click[j]! ? 1 : random() < 0.05 ? -2 : 0,
        })),
      });
    }
  }
  const policy = (pi: number[]): TargetPolicy => ({
    probabilities: picks.map((items) => items.map((j) => pi[j]!)),
    direct: {
      loggedItemReward: picks.map((items) => items.map((j) => expected[j]!)),
      targetReward: picks.map((items) => items.map(() => pi.reduce((v, p, j) => v + p * expected[j]!, 0))),
    },
  });
  return { log, good: policy([0.2, 0.3, 0.5]), poor: policy([0.7, 0.2, 0.1]) };
}

test('intervals contain the estimate, repeat with the seed, and narrow with more sessions', () => {
  const few = traffic(100, 1);
  const many = traffic(1600, 2);
  for (const estimator of ['ips', 'snips', 'dr'] as const) {
    const options: OffPolicyOptions = { ...small, estimator, resamples: 400 };
    const a = ok(estimatePolicyValue(few.log, few.good, options));
    const b = ok(estimatePolicyValue(many.log, many.good, options));
    for (const [name, i] of [['few per page', a.perPage], ['few per session', a.perSession], ['many per page', b.perPage], ['many per session', b.perSession]] as const) {
      assert.ok(i.low <= i.estimate && i.estimate <= i.high && i.low < i.high, `${estimator} ${name}: ${JSON.stringify(i)}`);
    }
    // Sixteen times the sessions: about a quarter of the width.
    const width = (i: { low: number; high: number }) => i.high - i.low;
    assert.ok(width(b.perPage) < 0.5 * width(a.perPage), `${estimator}: ${width(b.perPage)} vs ${width(a.perPage)}`);
    assert.ok(width(b.perSession) < 0.5 * width(a.perSession), `${estimator} per session`);
    assert.deepEqual(estimatePolicyValue(few.log, few.good, options), a);
    assert.notEqual(ok(estimatePolicyValue(few.log, few.good, { ...options, seed: 4 })).perPage.low, a.perPage.low);
  }
});

test('the bootstrap draws whole sessions: repeating each session\'s page ten times leaves the per-page interval as it was', () => {
  // Same sessions, same seed, so the same draws; each draw now brings ten copies of its page, which changes no
  // per-page ratio. Resampling pages instead would treat the copies as independent and shrink the interval.
  const { log, good } = traffic(150, 8);
  const firstPages = log.flatMap((p, i) => (i === 0 || log[i - 1]!.sessionId !== p.sessionId ? [i] : []));
  const once = firstPages.map((i) => log[i]!);
  const tenTimes = once.flatMap((p) => Array.from({ length: 10 }, () => p));
  const rows = (of: readonly (readonly number[])[], copies: number) => firstPages.flatMap((i) => Array.from({ length: copies }, () => of[i]!));
  const subset = (copies: number): TargetPolicy => ({
    probabilities: rows(good.probabilities, copies),
    direct: { loggedItemReward: rows(good.direct!.loggedItemReward, copies), targetReward: rows(good.direct!.targetReward, copies) },
  });
  for (const estimator of ['ips', 'snips', 'dr'] as const) {
    const a = ok(estimatePolicyValue(once, subset(1), { ...small, estimator }));
    const b = ok(estimatePolicyValue(tenTimes, subset(10), { ...small, estimator }));
    assert.equal(b.pages, 10 * a.pages);
    assert.equal(b.sessions, a.sessions);
    for (const key of ['estimate', 'low', 'high'] as const) {
      close(b.perPage[key], a.perPage[key], `${estimator} per page ${key}`, 1e-12);
      close(b.perSession[key], 10 * a.perSession[key], `${estimator} per session ${key}`, 1e-12);
    }
  }
});

test('a policy compared with itself differs by exactly 0 with a [0, 0] interval', () => {
  const { log, good } = traffic(200, 5);
  for (const estimator of ['ips', 'snips', 'dr'] as const) {
    const d = okPair(comparePolicies(log, good, good, { ...small, estimator }));
    for (const i of [d.perPage, d.perSession]) assert.deepEqual([i.estimate, i.low, i.high], [0, 0, 0], estimator);
    assert.equal(d.effectiveSampleSize.candidate, d.effectiveSampleSize.live);
  }
});

test('the comparison resamples the same sessions for both policies: a constant shift gives a zero-width interval', () => {
  // Same weights and q̂; the candidate's v̂ is 0.1 higher at each of the two positions, so DR differs by exactly
  // 0.2 on every page. Resampling the two policies' sessions independently would give a wide interval.
  const { log, poor } = traffic(300, 6);
  const shifted: TargetPolicy = {
    probabilities: poor.probabilities,
    direct: { loggedItemReward: poor.direct!.loggedItemReward, targetReward: poor.direct!.targetReward.map((row) => row.map((v) => v + 0.1)) },
  };
  const d = okPair(comparePolicies(log, shifted, poor, { ...small, estimator: 'dr' }));
  close(d.perPage.estimate, 0.2, 'difference per page', 1e-9);
  close(d.perPage.low, 0.2, 'low', 1e-9);
  close(d.perPage.high, 0.2, 'high', 1e-9);
  close(d.perSession.estimate, (0.2 * d.pages) / d.sessions, 'difference per session', 1e-9);
  const alone = ok(estimatePolicyValue(log, poor, { ...small, estimator: 'dr' }));
  assert.ok(alone.perPage.high - alone.perPage.low > 0.05, 'each policy alone is uncertain');
});

test('the comparison\'s estimate is the difference of the two estimates and its lower bound finds the better policy', () => {
  const { log, good, poor } = traffic(1000, 7);
  for (const estimator of ['ips', 'snips', 'dr'] as const) {
    const options: OffPolicyOptions = { ...small, estimator, resamples: 500 };
    const d = okPair(comparePolicies(log, good, poor, options));
    const g = ok(estimatePolicyValue(log, good, options));
    const p = ok(estimatePolicyValue(log, poor, options));
    close(d.perPage.estimate, g.perPage.estimate - p.perPage.estimate, `${estimator} per page`, 1e-12);
    close(d.perSession.estimate, g.perSession.estimate - p.perSession.estimate, `${estimator} per session`, 1e-12);
    // True per-page gap: 2 positions × Σ_j (π_good − π_poor)_j·E[r_j] = 2 × (−0.5·0.12 + 0.1·0.34 + 0.4·0.56) ≈ 0.4.
    assert.ok(d.perPage.low > 0.1, `${estimator}: candidate better, low ${d.perPage.low}`);
    assert.ok(okPair(comparePolicies(log, poor, good, options)).perPage.high < -0.1, `${estimator}: reversed`);
    assert.deepEqual(d.effectiveSampleSize, { candidate: g.effectiveSampleSize, live: p.effectiveSampleSize });
  }
});

test('bad input throws an error naming the field and its index', () => {
  const withSlot = (i: number, k: number, change: Partial<{ propensity: number; reward: number }>): LoggedPage[] =>
    handLog.map((p, pi) => (pi !== i ? p : { ...p, shown: p.shown.map((s, sk) => (sk === k ? { ...s, ...change } : s)) }));
  const withProbability = (i: number, k: number, x: number): TargetPolicy => ({
    ...handTarget,
    probabilities: handTarget.probabilities.map((row, ri) => row.map((v, rk) => (ri === i && rk === k ? x : v))),
  });
  const ips: OffPolicyOptions = { ...small, estimator: 'ips' };
  assert.throws(() => estimatePolicyValue(withSlot(1, 0, { propensity: 0 }), handTarget, ips), /log\[1\]\.shown\[0\]\.propensity must be in \(0, 1\], got 0/);
  assert.throws(() => estimatePolicyValue(withSlot(2, 1, { propensity: 1.5 }), handTarget, ips), /log\[2\]\.shown\[1\]\.propensity/);
  assert.throws(() => estimatePolicyValue(withSlot(0, 1, { reward: NaN }), handTarget, ips), /log\[0\]\.shown\[1\]\.reward must be a finite number/);
  assert.throws(() => estimatePolicyValue(handLog, withProbability(2, 1, 1.2), ips), /target\.probabilities\[2\]\[1\] must be in \[0, 1\], got 1\.2/);
  assert.throws(() => estimatePolicyValue(handLog, withProbability(0, 0, -0.1), ips), /target\.probabilities\[0\]\[0\]/);
  assert.throws(() => estimatePolicyValue(handLog, withProbability(1, 1, NaN), ips), /target\.probabilities\[1\]\[1\]/);
  assert.throws(() => estimatePolicyValue(handLog, { probabilities: handTarget.probabilities.slice(1) }, ips), /target\.probabilities has 2 pages but the log has 3/);
  assert.throws(
    () => estimatePolicyValue(handLog, { probabilities: [[1, 0.5], [0.5], [0.5, 0.5]] }, ips),
    /target\.probabilities\[1\] has 1 positions but log\[1\]\.shown has 2/,
  );
  const dr: OffPolicyOptions = { ...small, estimator: 'dr' };
  assert.throws(() => estimatePolicyValue(handLog, { probabilities: handTarget.probabilities }, dr), /target\.direct is required/);
  assert.throws(
    () => estimatePolicyValue(handLog, { ...handTarget, direct: { ...handTarget.direct!, targetReward: [[0, 0], [0, Infinity], [0, 0]] } }, dr),
    /target\.direct\.targetReward\[1\]\[1\] must be finite/,
  );
  assert.throws(
    () => estimatePolicyValue(handLog, { ...handTarget, direct: { ...handTarget.direct!, loggedItemReward: [[0, 0], [0, 0]] } }, dr),
    /target\.direct\.loggedItemReward has 2 pages/,
  );
  assert.throws(() => comparePolicies(handLog, handTarget, withProbability(0, 1, 2), ips), /live\.probabilities\[0\]\[1\]/);
  assert.throws(() => comparePolicies(handLog, withProbability(0, 1, 2), handTarget, ips), /candidate\.probabilities\[0\]\[1\]/);
  assert.throws(() => estimatePolicyValue(handLog, handTarget, { ...ips, resamples: 0 }), /options\.resamples/);
  assert.throws(() => estimatePolicyValue(handLog, handTarget, { ...ips, clip: 0 }), /options\.clip/);
  assert.throws(() => estimatePolicyValue(handLog, handTarget, { ...ips, seed: 1.5 }), /options\.seed/);
});
