/**
 * The off-policy check (services/eval ope-check.ts, ope-policies.ts, ope-report.ts) on tiny worlds: the
 * logged propensities are the exploring policy's exact probabilities, a deterministic target's per-position
 * probabilities are 0/1 as defined, the expected page value is the walk's, and the check writes its files
 * and prints its line.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CosineIndex, selectBackend } from '../../services/model/index.js';
import { ItemSpace } from '../../services/eval/item-space.js';
import { DEFAULT_OFFLINE } from '../../services/eval/offline.js';
import { loggingPolicy, sessionsToViews } from '../../services/eval/online.js';
import {
  challengerPairs, challengerRedraws, challengerUsers, DEFAULT_OPE_CHECK, GATE_GAP, gatePairs, OPE_ESTIMATORS, runOpeCheck, sharingKey, splitByShare, type GatePair, type OpeCheckConfig,
} from '../../services/eval/ope-check.js';
import {
  cascadeExpectedRewards, cascadePositionReward, cascadeTargetReward, cascadeValueFrom, choicesGivenAbove, continuationItems,
  deterministicContinuation, deterministicProbabilities, expectedPageValue, exploringLogger, historyRecall, positionRewards, rankingScores, RECALL_SEEDS,
  repeatShare, reweightToStates, uniformProbabilities, walkStateKey,
} from '../../services/eval/ope-policies.js';
import { opeCheckLine, spearman, summariseGate, summariseOpeCheck, writeOpeCheckReport } from '../../services/eval/ope-report.js';
import { clearsMargin, DEFAULT_GATE, reorderingFromScores } from '../../services/learner/validation.js';
import type { LoggedPage } from '../../services/model/index.js';
import {
  clickProbability, DEFAULT_WALK, fork, leaveProbability, oraclePolicy, runSessions, SIMULATOR_REWARDS, startWalk, walkPage, World, type PageRequest,
} from '../../services/simulator/index.js';

before(async () => {
  await selectBackend({ prefer: 'wasm' });
});

const tinyWorld = () => new World({ seed: 2, items: 60, users: 20, clusters: 4, dimension: 8 });

test('the exploring logger draws exactly the pages of online.ts loggingPolicy (same seed, same stream)', () => {
  const world = tinyWorld();
  const walk = (policy: Parameters<typeof runSessions>[1]) => runSessions(world, policy, { sessions: 40, seed: 3, k: 5 }).flatMap((s) => s.records.map((r) => r.shown));
  const logger = exploringLogger(world, DEFAULT_WALK, SIMULATOR_REWARDS, 0.5, 7);
  assert.deepEqual(walk(logger.policy), walk(loggingPolicy(world, DEFAULT_WALK, SIMULATOR_REWARDS, 0.5, 7)));
});

test('logged propensities are exact: over many draws on 6 candidates, each item\'s frequency at a position matches its propensity', () => {
  const world = new World({ seed: 4, items: 6, users: 3, clusters: 2, dimension: 4 });
  const epsilon = 0.5;
  const logger = exploringLogger(world, DEFAULT_WALK, SIMULATOR_REWARDS, epsilon, 9);
  const base: Omit<PageRequest, 'step'> = {
    userId: world.users[0]!.id, sessionId: 's', scenario: 'entrance', context: null, state: startWalk(), history: [], shownThisSession: [],
    candidates: world.itemIds, k: 3,
  };
  const best = oraclePolicy(world, { objective: 'shared', lookahead: false }, DEFAULT_WALK, SIMULATOR_REWARDS)({ ...base, step: 0 });
  const draws = 40_000;
  const first = new Map<string, number>();
  const second = new Map<string, number>(); // position 1 when position 0 showed the ranker's first item
  const logged = new Map<string, Set<number>>(); // every propensity logged for (position, item)
  const note = (key: string, p: number) => (logged.get(key) ?? logged.set(key, new Set()).get(key)!).add(p);
  let firstWasBest = 0;
  for (let step = 0; step < draws; step++) {
    const shown = logger.policy({ ...base, step });
    const { propensities } = logger.page('s', step);
    first.set(shown[0]!, (first.get(shown[0]!) ?? 0) + 1);
    note(`0:${shown[0]}`, propensities[0]!);
    if (shown[0] === best[0]) {
      firstWasBest++;
      second.set(shown[1]!, (second.get(shown[1]!) ?? 0) + 1);
      note(`1:${shown[1]}`, propensities[1]!);
    }
  }
  const n = world.itemIds.length;
  // Position 0: (1 − ε)·[the ranker's first] + ε/n; position 1 given the ranker's first above: (1 − ε)·[its second] + ε/(n − 1).
  const expected0 = (id: string) => (id === best[0] ? 1 - epsilon : 0) + epsilon / n;
  const expected1 = (id: string) => (id === best[1] ? 1 - epsilon : 0) + epsilon / (n - 1);
  const within = (count: number, total: number, p: number, what: string) => {
    const se = Math.sqrt((p * (1 - p)) / total);
    assert.ok(Math.abs(count / total - p) < 4 * se, `${what}: frequency ${count / total}, propensity ${p}`);
  };
  for (const id of world.itemIds) {
    assert.deepEqual([...logged.get(`0:${id}`)!], [expected0(id)], `position 0 logs one exact propensity for ${id}`);
    within(first.get(id) ?? 0, draws, expected0(id), `position 0, ${id}`);
    if (id === best[0]) continue;
    assert.deepEqual([...logged.get(`1:${id}`)!], [expected1(id)], `position 1 logs one exact propensity for ${id}`);
    within(second.get(id) ?? 0, firstWasBest, expected1(id), `position 1 after the ranker's first, ${id}`);
  }
  assert.throws(() => logger.page('s', draws), /served no page/);
});

test('a deterministic target\'s π_k is 1 exactly when its choice given the logged items above is the logged item', () => {
  const answer = ['a', 'b', 'c', 'd', 'e'];
  assert.deepEqual(choicesGivenAbove(answer, ['a', 'x', 'b']), ['a', 'b', 'b']);
  assert.deepEqual(deterministicProbabilities(answer, ['a', 'x', 'b']), [1, 0, 1]);
  assert.deepEqual(deterministicProbabilities(answer, ['x', 'a', 'b']), [0, 1, 1]);
  assert.deepEqual(deterministicProbabilities(answer, ['b', 'a', 'c']), [0, 1, 1]);
  assert.deepEqual(deterministicProbabilities(answer, ['a', 'b', 'c']), [1, 1, 1]);
  assert.deepEqual(uniformProbabilities(10, 3), [1 / 10, 1 / 9, 1 / 8]);
});

test('propensities and target probabilities agree: the position-0 weight π/μ of the log averages 1 for a deterministic target', () => {
  const world = tinyWorld();
  const logger = exploringLogger(world, DEFAULT_WALK, SIMULATOR_REWARDS, 0.5, 5);
  const target = oraclePolicy(world, { objective: 'scenario', lookahead: true }, DEFAULT_WALK, SIMULATOR_REWARDS);
  const weights: number[] = [];
  // E_μ[π_0/μ_0] = Σ_x π(x) = 1 whatever the page: a wrong propensity or probability moves it.
  const sessions = runSessions(world, (q) => {
    const shown = logger.policy(q);
    const mu = logger.page(q.sessionId, q.step).propensities[0]!;
    weights.push(deterministicProbabilities(target(q), shown)[0]! / mu);
    return shown;
  }, { sessions: 1500, seed: 8, k: 4 });
  assert.ok(sessions.length === 1500);
  const mean = weights.reduce((a, b) => a + b, 0) / weights.length;
  const sd = Math.sqrt(weights.reduce((a, w) => a + (w - mean) ** 2, 0) / (weights.length - 1));
  assert.ok(Math.abs(mean - 1) < 4 * (sd / Math.sqrt(weights.length)), `mean weight ${mean} (sd ${sd}, ${weights.length} pages)`);
});

test('the recall is the serving node\'s: neighbours of the newest history items first, the catalogue after, never the page\'s own item', () => {
  const world = tinyWorld();
  const views = sessionsToViews(runSessions(world, loggingPolicy(world, DEFAULT_WALK, SIMULATOR_REWARDS, 0.5, 3), { sessions: 80, seed: 3, k: 5 }));
  const space = ItemSpace.train(views, { dimension: 4, epochs: 2, seed: 1, center: true });
  const recall = historyRecall(space, 12);
  const learned = world.itemIds.filter((id) => space.vectorOf(id, false, false).some((x) => x !== 0));
  assert.ok(learned.length > 3, `${learned.length} learned items`);
  const [newest, older] = [learned[0]!, learned[1]!];
  const own = learned[2]!;
  const candidates = world.itemIds.filter((id) => id !== own);
  const got = recall({ history: [older, newest], candidates });
  assert.equal(got.length, 12);
  assert.equal(new Set(got).size, 12);
  assert.ok(!got.includes(own) && got.every((id) => candidates.includes(id)));
  // Two seeds share 12: the newest item's 6 nearest neighbours (less the page's own item) come first.
  const index = new CosineIndex(space.vectors, space.dimension);
  const nearest = index.neighbours(space.index(newest), 6).map((n) => space.vocabulary.idOf(n.index)).filter((id) => id !== own);
  assert.deepEqual(got.slice(0, nearest.length), nearest);
  // No usable history: the catalogue's first items.
  assert.deepEqual(recall({ history: [], candidates }), candidates.slice(0, 12));
  assert.equal(RECALL_SEEDS, 5);
  assert.throws(() => historyRecall(space, 0), /recall size/);
});

test('cascade DR (cumulative weights, direct terms W_{k−1}·V̂_k and Q̂_k) averages to the target\'s exact page value whatever the direct model', () => {
  // A single page of 5 candidates, 3 shown, explored often (ε = 0.8) so that whole prefixes match; the target
  // ranks the logger's ranking backwards; q̂ is deliberately wrong. E_μ[Σ_k W_{k−1}·V̂_k + W_k·(r_k − Q̂_k)]
  // is the target's expected page value only if the propensities, the prefix products and the direct terms agree.
  const world = new World({ seed: 4, items: 5, users: 3, clusters: 2, dimension: 4 });
  const epsilon = 0.8;
  const logger = exploringLogger(world, DEFAULT_WALK, SIMULATOR_REWARDS, epsilon, 9);
  const user = world.users[1]!;
  const state = startWalk();
  const base: Omit<PageRequest, 'step'> = {
    userId: user.id, sessionId: 's', scenario: 'entrance', context: null, state, history: [], shownThisSession: [], candidates: world.itemIds, k: 3,
  };
  const answer = [...oraclePolicy(world, { objective: 'shared', lookahead: false }, DEFAULT_WALK, SIMULATOR_REWARDS)({ ...base, step: 0 })].reverse();
  answer.push(...world.itemIds.filter((id) => !answer.includes(id)));
  const q = new Map(world.itemIds.map((id, i) => [id, [0.4, -1, 0.9, 0.1, -0.3][i]!]));
  const terms: number[] = [];
  for (let step = 0; step < 60_000; step++) {
    const shown = logger.policy({ ...base, step });
    const mu = logger.page('s', step).propensities;
    const pi = deterministicProbabilities(answer, shown);
    const result = walkPage(world, user, state, shown, fork(13, step), DEFAULT_WALK);
    const r = positionRewards({ request: { ...base, step }, shown, result, reward: 0 }, SIMULATOR_REWARDS);
    const choices = choicesGivenAbove(answer, shown);
    const Q = shown.map((id, k) => deterministicContinuation(answer, shown.slice(0, k), id, shown.length, q));
    const V = cascadeTargetReward(pi, mu, choices.map((id, k) => deterministicContinuation(answer, shown.slice(0, k), id, shown.length, q)));
    let W = 1;
    terms.push(shown.reduce((sum, _, k) => sum + V[k]! + (W *= pi[k]! / mu[k]!) * (r[k]! - Q[k]!), 0));
  }
  const mean = terms.reduce((a, b) => a + b, 0) / terms.length;
  const sd = Math.sqrt(terms.reduce((a, x) => a + (x - mean) ** 2, 0) / (terms.length - 1));
  const exact = expectedPageValue(world, user, state, answer.slice(0, 3), DEFAULT_WALK, SIMULATOR_REWARDS);
  assert.ok(Math.abs(mean - exact) < 4 * (sd / Math.sqrt(terms.length)), `cascade DR ${mean} (sd ${sd}), exact ${exact}`);
  // The continuation: the item, then the target's first answer items not above it.
  assert.equal(deterministicContinuation(['a', 'b', 'c', 'd'], ['b'], 'x', 3, new Map([['a', 1], ['b', 2], ['c', 4], ['x', 8]])), 8 + 1);
  assert.deepEqual(cascadeTargetReward([1, 0, 1], [0.5, 0.25, 1], [1, 1, 1]), [1, 2, 0]);
});

test('the cascade direct model reads a page in order: a click ends the clicks, a leave lands on the last position', () => {
  const rewards = { click: 1, skip: 0, leave: -2 };
  const page = [{ click: 0.5, leave: 0.1 }, { click: 0.2, leave: 0.2 }];
  // Position 0: read surely, clicked 0.5, left 0.1. Position 1: read 1 − 0.5 − 0.1 = 0.4, clicked 0.4·0.2 = 0.08,
  // left 0.1 + 0.4·0.2 = 0.18 in all, on the last position: 0.08 − 2·0.18 = −0.28.
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} against ${b}`);
  const [r0, r1] = cascadeExpectedRewards(page, rewards);
  close(r0!, 0.5);
  close(r1!, -0.28);
  // A skip reward is earned wherever neither a click nor the leave lands: 0.5 + 0.5·0.1; 0.08 + 0.92·0.1 − 0.18·2.1.
  const withSkip = cascadeExpectedRewards(page, { click: 1, skip: 0.1, leave: -2 });
  close(withSkip[0]!, 0.55);
  close(withSkip[1]!, -0.206);
  // Per position: what the items above and the page's length decide; not last, the leave is elsewhere.
  close(cascadePositionReward([], page[0]!, 2, rewards), 0.5);
  close(cascadePositionReward([page[0]!], page[1]!, 2, rewards), -0.28);
  close(cascadePositionReward([page[0]!], page[1]!, 3, rewards), 0.08);
  close(cascadeValueFrom(page, 0, rewards), 0.22);
  close(cascadeValueFrom(page, 1, rewards), -0.28);
  // Chances above 1 in sum stop the reading: nothing below is read, the leave still lands at the end.
  const stopped = cascadeExpectedRewards([{ click: 0.7, leave: 0.5 }, { click: 1, leave: 0 }], rewards);
  close(stopped[0]!, 0.7);
  close(stopped[1]!, -1);
  assert.deepEqual(cascadeExpectedRewards([], rewards), []);
  // A deterministic target's continuation: its first answer items neither above nor the item, down to the length.
  assert.deepEqual(continuationItems(['a', 'b', 'c', 'd'], ['b'], 'x', 3), ['a']);
  assert.deepEqual(continuationItems(['a', 'b', 'c', 'd'], ['b'], 'x', 4), ['a', 'c']);
  assert.deepEqual(continuationItems(['a', 'b'], [], 'a', 1), []);
});

test("fed the simulator's own chances, the cascade direct model gives the exact expected page value", () => {
  // The walk clicks position j with its hazard h_j given the items above, and leaves a page without a click with
  // L: as per-item chances, c_j = h_j, no leave above the last position, and l_last = (1 − h_last)·L.
  const world = tinyWorld();
  const walk = { ...DEFAULT_WALK, fatigue: 0 };
  for (const [u, poorPages] of [[2, 0], [5, 1], [7, 3]] as const) {
    const user = world.users[u]!;
    const state = { ...startWalk(), poorPages };
    const shown = world.itemIds.slice(10 + u, 15 + u);
    const hazards = shown.map((id, j) => clickProbability(world, user, state, id, j, walk, shown.slice(0, j)));
    const L = leaveProbability(user, poorPages + 1);
    const page = hazards.map((h, j) => ({ click: h, leave: j === shown.length - 1 ? (1 - h) * L : 0 }));
    const model = cascadeValueFrom(page, 0, SIMULATOR_REWARDS);
    const exact = expectedPageValue(world, user, state, shown, walk, SIMULATOR_REWARDS);
    assert.ok(Math.abs(model - exact) < 1e-12, `user ${u}: ${model} against ${exact}`);
  }
});

test('the chain-effect diagnostics: values reweighted to a target\'s walk states, and repeated items', () => {
  // Logged states a, a, b; the target's pages a, b, b, c: d_π = ¼, ½, ¼ and d_μ = ⅔, ⅓, so ρ_a = 0.375 and
  // ρ_b = 1.5: (0.375·1 + 0.375·2 + 1.5·3) / (0.375 + 0.375 + 1.5) = 2.5; a quarter of its pages (c) unmatched.
  const r = reweightToStates([1, 2, 3], ['a', 'a', 'b'], ['a', 'b', 'b', 'c']);
  assert.ok(Math.abs(r.value - 2.5) < 1e-12, String(r.value));
  assert.ok(Math.abs(r.unmatched - 0.25) < 1e-12);
  // The same distribution: the plain mean.
  assert.ok(Math.abs(reweightToStates([1, 2, 3], ['a', 'a', 'b'], ['b', 'a', 'a']).value - 2) < 1e-12);
  assert.equal(repeatShare(['x', 'y', 'z', 'w'], ['y', 'q', 'w', 'y']), 0.5);
  assert.equal(repeatShare([], ['y']), 0);
  assert.equal(walkStateKey({ scenario: 'detail', state: { ...startWalk(), poorPages: 5 } }), 'detail:3');
  assert.equal(walkStateKey({ scenario: 'entrance', state: startWalk() }), 'entrance:0');
});

test('the expected page value is the mean of the per-position rewards of the walk on the same page', () => {
  const world = tinyWorld();
  const user = world.users[3]!;
  const shown = world.itemIds.slice(0, 4);
  for (const state of [startWalk(), { ...startWalk(), poorPages: 2, pages: 3, seen: [shown[1]!] }]) {
    let sum = 0;
    const draws = 20_000;
    for (let i = 0; i < draws; i++) {
      const result = walkPage(world, user, state, shown, fork(11, i), DEFAULT_WALK);
      const record = { request: { userId: user.id, sessionId: 's', scenario: 'entrance' as const, context: null, state, history: [], shownThisSession: [], k: 4, step: 0 }, shown, result, reward: 0 };
      sum += positionRewards(record, SIMULATOR_REWARDS).reduce((a, b) => a + b, 0);
    }
    const expected = expectedPageValue(world, user, state, shown, DEFAULT_WALK, SIMULATOR_REWARDS);
    assert.ok(Math.abs(sum / draws - expected) < 0.03, `simulated ${sum / draws}, expected ${expected}`);
  }
});

test('a target\'s ranking as the gate\'s scores: higher ranked scores higher, an item it leaves out scores −∞', () => {
  const scores = rankingScores(['c', 'a', 'b'], ['a', 'x', 'c', 'b']);
  assert.deepEqual(scores, [2, Number.NEGATIVE_INFINITY, 3, 1]);
  // Re-ordered: c (position 2) beats a and x; then c beats b.
  assert.deepEqual(reorderingFromScores(scores), [0, 0, 1, 1]);
  assert.deepEqual(reorderingFromScores(rankingScores(['a', 'b', 'c'], ['a', 'b', 'c'])), [1, 1, 1]);
});

test('gatePairs runs the gate\'s comparison on every ordered pair and decides as the gate does', () => {
  // 400 one-page sessions of two items, each shown with propensity 0.5: the first item clicked on even pages,
  // the second on odd ones. A keeps the logged order (π = [1, 1]); B swaps it (π = [0, 1]); C re-orders as A.
  // SNIPS: A = mean r_0 + mean r_1 = 1, B = mean r_1 = 0.5 (its position 0 has no evidence), so A − B = 0.5.
  const log: LoggedPage[] = Array.from({ length: 400 }, (_, i) => ({
    sessionId: `s${i}`, shown: [{ item: 'x', propensity: 0.5, reward: i % 2 ? 0 : 1 }, { item: 'y', propensity: 0.5, reward: i % 2 ? 1 : 0 }],
  }));
  const a = log.map(() => [1, 1]);
  const b = log.map(() => [0, 1]);
  const targets = [{ name: 'A', probabilities: a, truth: 0.2 }, { name: 'B', probabilities: b, truth: 0.5 }, { name: 'C', probabilities: a, truth: 0.3 }];
  const pairs = gatePairs(log, targets, { minPages: 100, minEffectiveSampleSize: 10 });
  assert.deepEqual(pairs.map((p) => `${p.candidate}>${p.served}`), ['A>B', 'A>C', 'B>A', 'B>C', 'C>A', 'C>B']);
  const pair = (c: string, s: string) => pairs.find((p) => p.candidate === c && p.served === s)!;
  const ab = pair('A', 'B');
  assert.equal(ab.status, 'ok');
  assert.ok(Math.abs(ab.estimate! - 0.5) < 1e-12, `${ab.estimate}`);
  assert.ok(ab.low! > 0.4 && ab.high! < 0.6 && ab.low! < 0.5 && ab.high! > 0.5, `[${ab.low}, ${ab.high}]`);
  assert.ok(Math.abs(ab.trueDifference - -0.3) < 1e-12);
  assert.equal(ab.promoted, true, 'a candidate the log favours is promoted although truly worse');
  assert.equal(ab.covered, false);
  assert.equal(ab.sameReordering, false);
  const ba = pair('B', 'A');
  assert.ok(Math.abs(ba.estimate! + 0.5) < 1e-12 && ba.promoted === false);
  // Identical re-orderings: estimate and interval exactly 0, no improvement: not promoted at margin 0, only at a negative one.
  const ac = pair('A', 'C');
  assert.deepEqual([ac.estimate, ac.low, ac.high, ac.promoted, ac.sameReordering, ac.covered], [0, 0, 0, false, true, false]);
  assert.equal(gatePairs(log, targets, { minPages: 100, minEffectiveSampleSize: 10 }, { ...DEFAULT_GATE, margin: -0.01 }).find((p) => p.candidate === 'A' && p.served === 'C')!.promoted, true);
  // The gate's defaults: SNIPS, clip 20, 500 resamples, margin 0.
  assert.deepEqual([DEFAULT_GATE.estimator, DEFAULT_GATE.clip, DEFAULT_GATE.resamples, DEFAULT_GATE.margin], ['snips', 20, 500, 0]);
  // The guard as given: too few pages refuses every pair, and a refused pair is neither promoted nor covered.
  for (const p of gatePairs(log, targets, { minPages: 401, minEffectiveSampleSize: 10 })) {
    assert.deepEqual([p.status, p.estimate, p.promoted, p.covered], ['insufficient', null, false, false]);
    assert.match(p.reason!, /400 logged pages, fewer than the minimum of 401/);
  }
});

test('summariseGate: false promotions among the truly worse, power beyond the gap, sign agreement and coverage', () => {
  const p = (trueDifference: number, estimate: number | null, low: number, high: number, sameReordering = false): GatePair => ({
    candidate: 'a', served: 'b', trueDifference, status: estimate === null ? 'insufficient' : 'ok', estimate, low: estimate === null ? null : low, high: estimate === null ? null : high,
    reason: estimate === null ? 'few' : null, promoted: estimate !== null && clearsMargin(low, 0), covered: estimate !== null && trueDifference >= low && trueDifference <= high, sameReordering,
  });
  const pairs = [
    p(-0.3, 0.2, 0.1, 0.3), // truly worse by more than the gap, promoted; signs disagree; not covered
    p(-0.02, 0, 0, 0, true), // truly worse by less than the gap, identical re-orderings: not promoted; sign 0 agrees with none
    p(-0.2, -0.1, -0.3, 0.1), // truly worse, rejected, covered
    p(0.3, 0.25, 0.05, 0.45), // better by more than the gap, promoted, covered
    p(0.1, 0.05, -0.05, 0.15), // better by more than the gap, not promoted, covered
    p(0.03, -0.01, -0.1, 0.08), // better by less than the gap: not in the power
    p(0.2, null, 0, 0), // refused: not promoted, not covered, no sign
  ];
  const g = summariseGate(pairs, 0.05);
  assert.equal(g.pairs, 7);
  assert.equal(g.estimated, 6);
  assert.equal(g.promoted, 2);
  assert.deepEqual([g.falselyPromoted, g.worsePairs, g.falsePromotions], [1, 3, 1 / 3]);
  assert.deepEqual([g.falselyPromotedBeyondGap, g.worseBeyondGap, g.falsePromotionsBeyondGap], [1, 2, 0.5]);
  assert.deepEqual([g.promotedBetter, g.betterPairs, g.power], [1, 3, 1 / 3]);
  assert.deepEqual([g.signAgreed, g.signAgreement], [3, 3 / 6]);
  assert.deepEqual([g.covered, g.coverage], [4, 4 / 7]);
  assert.equal(g.sameReordering, 1);
  assert.equal(g.gap, 0.05);
  assert.equal(GATE_GAP, 0.05);
  assert.equal(sharingKey(['a', 'b', 'a', 'c', 'a', 'b']), 5);
  assert.equal(sharingKey(['a', 'b']), 0);
  const none = summariseGate([]);
  assert.deepEqual([none.falsePromotions, none.power, none.signAgreement, none.coverage], [null, null, null, 0]);
});

test('spearman: ranks, ties and too few values', () => {
  assert.equal(spearman([1, 2, 3, 4], [10, 20, 30, 40]), 1);
  assert.equal(spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  assert.ok(Math.abs(spearman([1, 2, 2, 3], [1, 2, 3, 4])! - 0.9486832980505138) < 1e-12);
  assert.equal(spearman([1, 2], [1, 2]), null);
});

const tinyConfig = (): OpeCheckConfig => ({
  ...DEFAULT_OPE_CHECK,
  seeds: [1], world: { items: 60, users: 30, clusters: 4, dimension: 8 }, walk: {}, rewards: SIMULATOR_REWARDS, k: 4,
  trainSessions: 60, sessions: 60, steps: 20, resamples: 200, minPages: 1, minEffectiveSampleSize: 1,
  sizes: { historyLength: 4, deepchain: { hiddenSize: 4, attentionSize: 3, headHidden: [4], batchSize: 8, gamma: 0.95 }, baselines: { hiddenSize: 4, mlpHidden: [4], batchSize: 8, fmFactors: 2 } },
  embedding: { ...DEFAULT_OFFLINE.embedding, dimension: 4, epochs: 1 },
});

test('runOpeCheck estimates every target with every estimator, and the report, metrics and line say what was measured', async () => {
  const result = await runOpeCheck(tinyConfig());
  const [world] = result.worlds;
  const truth0 = new Map(world!.policies.map((p) => [p.name, p.truth.perPage]));
  assert.equal(result.worlds.length, 1);
  assert.deepEqual(world!.policies.map((p) => p.name), [
    'logging policy', 'oracle (ε = 0)', 'random', 'popularity', 'item-kNN', 'SKNN', 'history-first', 'DeepChain', 'DeepChain reversed',
  ]);
  for (const p of world!.policies) {
    assert.equal(p.truth.sessions, 60, p.name);
    assert.ok(Number.isFinite(p.truth.perPage) && p.truth.low <= p.truth.perPage && p.truth.perPage <= p.truth.high, p.name);
    assert.equal(p.defaultGuard.passes, false, `${p.name}: a tiny log fails the module's default guard`);
    assert.ok(Number.isFinite(p.onLoggedPagesAtTargetStates.value) && p.onLoggedPagesAtTargetStates.unmatched >= 0, p.name);
    for (const x of [p.repeats.deployed, p.repeats.onLoggedPages]) assert.ok(x >= 0 && x <= 1, p.name);
    for (const e of OPE_ESTIMATORS) {
      const x = p.estimates[e];
      if (x.status === 'ok') assert.equal(x.covered, p.truth.perPage >= x.low! && p.truth.perPage <= x.high!, `${p.name} ${e}`);
      else assert.equal(x.covered, false);
    }
    const c = p.challenger;
    if (c.status === 'ok') {
      assert.ok(c.low! <= c.estimate! && c.estimate! <= c.high!, `${p.name}: challenger ${c.estimate} [${c.low}, ${c.high}]`);
      assert.equal(c.covered, p.truth.perPage >= c.low! && p.truth.perPage <= c.high!, `${p.name}: challenger coverage`);
    } else {
      assert.deepEqual([c.pages, c.covered, c.estimate], [0, false, null], `${p.name}: no challenger traffic, no estimate`);
    }
  }
  // A challenger's traffic is its share of users: fewer users and pages than its whole truth run.
  for (const p of world!.policies) assert.ok(p.challenger.pages < p.truth.pages, `${p.name}: ${p.challenger.users} users, ${p.challenger.pages} pages`);
  // Challenger traffic as the gate: every ordered pair, its decision the gate's rule on its own interval.
  assert.equal(world!.challengerGate.length, 72);
  for (const p of world!.challengerGate) {
    assert.equal(p.trueDifference, truth0.get(p.candidate)! - truth0.get(p.served)!);
    assert.equal(p.promoted, p.status === 'ok' && p.low! > DEFAULT_GATE.margin, `${p.candidate} over ${p.served}`);
  }
  // The logging policy as its own target has weight 1 everywhere: IPS is the logged value per page.
  const logging = world!.policies[0]!;
  assert.ok(Math.abs(logging.estimates.ips.estimate! - world!.evalLog.valuePerPage) < 1e-12);
  assert.ok(Math.abs(logging.effectiveSampleSize - world!.evalLog.positions) < 1e-6);
  // … and its cascade weights (prefix products of π over prefix products of μ) are 1 too.
  assert.ok(Math.abs(logging.cascade.ips.estimate! - world!.evalLog.valuePerPage) < 1e-12);

  const summary = summariseOpeCheck(result);
  assert.equal(summary.policies, 9);
  for (const e of OPE_ESTIMATORS) {
    const covered = world!.policies.filter((p) => p.estimates[e].covered).length;
    assert.equal(summary.estimators[e].coverage, covered / 9, e);
    const ok = world!.policies.filter((p) => p.estimates[e].status === 'ok');
    assert.equal(summary.estimators[e].rank_correlation, spearman(ok.map((p) => p.estimates[e].estimate!), ok.map((p) => p.truth.perPage)), e);
  }
  assert.deepEqual(Object.keys(summary.cascade), ['ips', 'snips', 'dr']);
  assert.equal(summary.challenger.coverage, world!.policies.filter((p) => p.challenger.covered).length / 9);
  assert.deepEqual(summary.challengerGate, summariseGate(world!.challengerGate));
  // Step 6 again under further draws: every target and every ordered pair once per draw.
  const redraws = world!.challengerRedraws;
  assert.equal(redraws.draws, DEFAULT_OPE_CHECK.challengerDraws);
  assert.equal(redraws.targets.replicates, 9 * redraws.draws);
  assert.equal(redraws.gate.pairs, 72 * redraws.draws);
  assert.equal(summary.challengerRedraws.coverage, redraws.targets.covered / redraws.targets.replicates);
  assert.equal(summary.challengerRedraws.gate.coverage, redraws.gate.covered / redraws.gate.pairs);
  // The release gate on every ordered pair of the 9 targets, against the truths' differences.
  const names = world!.policies.map((p) => p.name);
  const truth = new Map(world!.policies.map((p) => [p.name, p.truth.perPage]));
  assert.equal(world!.gate.pairs.length, 72);
  assert.deepEqual(world!.gate.targets.map((t) => t.name), names);
  assert.deepEqual(world!.gate.rules, DEFAULT_GATE);
  for (const p of world!.gate.pairs) {
    assert.notEqual(p.candidate, p.served);
    assert.equal(p.trueDifference, truth.get(p.candidate)! - truth.get(p.served)!);
    assert.equal(p.promoted, p.status === 'ok' && p.low! > DEFAULT_GATE.margin, `${p.candidate} over ${p.served}`);
  }
  // The logging policy is judged by its ranker, the oracle's: the gate cannot tell them apart.
  const loggingOverOracle = world!.gate.pairs.find((p) => p.candidate === 'logging policy' && p.served === 'oracle (ε = 0)')!;
  assert.equal(loggingOverOracle.sameReordering, true);
  assert.equal(loggingOverOracle.estimate, 0);
  assert.equal(world!.gate.pairs.find((p) => p.candidate === 'DeepChain' && p.served === 'DeepChain reversed')!.sameReordering, false);
  assert.deepEqual(summary.gate, summariseGate(world!.gate.pairs));
  assert.ok(world!.gate.pagesSharingLearnerKey >= 0 && world!.gate.pagesSharingLearnerKey <= world!.evalLog.pages);

  const line = JSON.parse(opeCheckLine(summary));
  assert.deepEqual(Object.keys(line), ['ope', 'policies', 'estimators', 'challenger', 'gate']);
  assert.equal(line.challenger.coverage, Math.round(summary.challenger.coverage * 1000) / 1000);
  assert.deepEqual(Object.keys(line.challenger), ['coverage', 'rank_correlation', 'gate', 'redraws']);
  assert.deepEqual(Object.keys(line.challenger.redraws), ['draws', 'coverage', 'gate_coverage', 'false_promotions', 'power']);
  assert.equal(line.challenger.redraws.coverage, Math.round(summary.challengerRedraws.coverage * 1000) / 1000);
  assert.equal(line.challenger.gate.pairs, 72);
  assert.deepEqual(Object.keys(line.gate), ['false_promotions', 'power', 'sign_agreement', 'coverage', 'pairs']);
  assert.equal(line.gate.pairs, 72);
  assert.equal(line.gate.coverage, Math.round(summary.gate.coverage * 1000) / 1000);
  assert.equal(line.ope, 'check');
  assert.equal(line.policies, 9);
  assert.deepEqual(Object.keys(line.estimators), ['ips', 'snips', 'dr']);
  for (const e of OPE_ESTIMATORS) {
    assert.deepEqual(Object.keys(line.estimators[e]), ['coverage', 'rank_correlation']);
    assert.equal(line.estimators[e].coverage, Math.round(summary.estimators[e].coverage * 1000) / 1000);
  }

  const dir = await mkdtemp(join(tmpdir(), 'ope-check-'));
  try {
    assert.deepEqual(await writeOpeCheckReport(dir, result, summary), ['metrics.json', 'report.md']);
    const metrics = JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8'));
    assert.equal(metrics.kind, 'ope-check');
    assert.deepEqual(metrics.targets, { coverage: 0.8, rankCorrelation: 0.8 });
    assert.equal(metrics.summary.estimators.dr.coverage, summary.estimators.dr.coverage);
    assert.equal(metrics.worlds[0].policies.length, 9);
    assert.equal(metrics.summary.gate.pairs, 72);
    assert.equal(metrics.worlds[0].gate.pairs.length, 72);
    const report = await readFile(join(dir, 'report.md'), 'utf8');
    assert.match(report, /\| estimator \| coverage \(deployed truth\) \| rank correlation \|/);
    for (const p of world!.policies) assert.ok(report.includes(`| ${p.name} |`), p.name);
    for (const name of ['IPS', 'SNIPS', 'DR']) assert.match(report, new RegExp(`- \\*\\*${name}\\*\\*: coverage \\d\\.\\d\\d \\(\\d+ of 9\\) (meets|misses)`));
    assert.match(report, /## The release gate as a decision procedure/);
    assert.match(report, /- \*\*False promotions\*\*: of the \d+ pairs whose candidate is truly worse/);
    assert.match(report, /\| DeepChain \| DeepChain reversed \| /);
    assert.match(report, new RegExp(`Under ${redraws.draws} further draws of which users each challenger serves`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('deepchain eval ope-check writes metrics.json and report.md and prints one JSON line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ope-cli-'));
  try {
    const r = spawnSync(process.execPath, [
      'services/cli/bin.mjs', 'eval', 'ope-check', '--out', dir, '--items', '40', '--users', '20', '--clusters', '4', '--dimension', '8',
      '--sessions', '30', '--train-sessions', '30', '--steps', '2', '--resamples', '50', '--min-pages', '1', '--min-ess', '1',
    ], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1, r.stdout);
    const line = JSON.parse(lines[0]!);
    assert.equal(line.ope, 'check');
    assert.equal(line.policies, 9);
    for (const e of OPE_ESTIMATORS) assert.equal(typeof line.estimators[e].coverage, 'number');
    assert.equal(line.gate.pairs, 72);
    assert.equal(typeof line.gate.coverage, 'number');
    const metrics = JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8'));
    assert.equal(metrics.config.sessions, 30);
    assert.equal(metrics.config.minEffectiveSampleSize, 1);
    assert.match(await readFile(join(dir, 'report.md'), 'utf8'), /^# Off-policy estimates against the simulator's truth/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('challenger traffic: a run split by the serving draw into the challenger\'s users and the rest, per user; the pair\'s estimate is the difference of the two arms', () => {
  const users = Array.from({ length: 40 }, (_, i) => `u${i}`);
  const inShare = challengerUsers(1, 0.5);
  const chosen = users.filter(inShare);
  assert.ok(chosen.length > 5 && chosen.length < 35, `${chosen.length} of 40 users in a share 0.5`);
  // Two sessions per user: user i's pages hold i and 1 (A) or 2i and 2 (B) in value.
  const run = (value: (i: number) => number) => ({
    userIds: users.flatMap((u) => [u, u]),
    sums: Float64Array.from(users.flatMap((_, i) => [value(i), 1])),
    pages: Float64Array.from(users.flatMap(() => [2, 1])),
  });
  const a = run((i) => i);
  const b = run((i) => 2 * i);
  const split = splitByShare(a, inShare);
  assert.equal(split.challenger.sums.length, chosen.length);
  assert.equal(split.rest.sums.length, 40 - chosen.length);
  const index = (u: string) => Number(u.slice(1));
  assert.deepEqual([...split.challenger.sums], chosen.map((u) => index(u) + 1), 'per user: both sessions summed');
  assert.deepEqual([...split.challenger.pages], chosen.map(() => 3));

  const [ab] = challengerPairs([{ name: 'A', truth: 0.5, sessions: a }, { name: 'B', truth: 0.2, sessions: b }], 0.5, 400, 1);
  const rest = users.filter((u) => !inShare(u));
  const perPage = (xs: string[], value: (i: number) => number) => xs.reduce((t, u) => t + value(index(u)) + 1, 0) / (3 * xs.length);
  assert.equal(ab!.candidate, 'A');
  assert.ok(Math.abs(ab!.estimate! - (perPage(chosen, (i) => i) - perPage(rest, (i) => 2 * i))) < 1e-12, 'A on its users against B on the others');
  assert.ok(Math.abs(ab!.trueDifference - 0.3) < 1e-12);
  assert.ok(ab!.low! < ab!.estimate! && ab!.estimate! < ab!.high!);
  assert.equal(ab!.covered, ab!.low! <= 0.3 && 0.3 <= ab!.high!);
  assert.equal(ab!.promoted, ab!.low! > 0);
});

test('challenger redraws: each draw numbers the challengers anew, and counts what its intervals cover and the gate decides', () => {
  const users = Array.from({ length: 60 }, (_, i) => `u${i}`);
  // One session per user; A's pages are worth 1 for odd users and 0 for even ones (mean 0.5), B's all 0.2.
  const run = (value: (i: number) => number) => ({ userIds: users, sums: Float64Array.from(users.map((_, i) => 2 * value(i))), pages: Float64Array.from(users.map(() => 2)) });
  const a = { name: 'A', truth: 0.5, sessions: run((i) => i % 2) };
  const b = { name: 'B', truth: 0.2, sessions: run(() => 0.2) };
  const r = challengerRedraws([a, b], 0.5, 4, 300, 7);
  assert.deepEqual([r.draws, r.targets.replicates, r.gate.pairs], [4, 8, 8]);
  // B's users all earn 0.2: its interval is [0.2, 0.2] under every draw and holds its truth.
  assert.ok(r.targets.covered >= 4, `${r.targets.covered} of 8`);
  // A − B is truly +0.3 (better by more than the gap) and B − A −0.3: one of each per draw.
  assert.deepEqual([r.gate.worsePairs, r.gate.betterPairs], [4, 4]);
  // A's users are half ones, so A's share-0.5 arm is far above 0.2 whichever users it draws: promoted every time; B never.
  assert.deepEqual([r.gate.promotedBetter, r.gate.falselyPromoted], [4, 0]);
  // One draw is challengerPairs under the numbering after step 6's (2 targets: A is 3, B is 4), its own seed.
  const once = challengerRedraws([a, b], 0.5, 1, 300, 7);
  const pairs = challengerPairs([a, b], 0.5, 300, 7 + 7919, DEFAULT_GATE.margin, (place) => 2 + place + 1);
  assert.deepEqual([once.gate.covered, once.gate.promotedBetter + once.gate.falselyPromoted], [pairs.filter((p) => p.covered).length, pairs.filter((p) => p.promoted).length]);
  // A lone target's first draw is number 2: a run worth 1 to exactly those users and 0 to the rest reads
  // [1, 1] there, missing its truth 0.5; under step 6's number 1 its users would be a mix.
  const drawn = challengerUsers(2, 0.5);
  const lone = { name: 'C', truth: 0.5, sessions: run((i) => (drawn(users[i]!) ? 1 : 0)) };
  assert.equal(challengerRedraws([lone], 0.5, 1, 300, 7).targets.covered, 0);
  const mixed = splitByShare(lone.sessions, challengerUsers(1, 0.5)).challenger;
  assert.ok(mixed.sums.some((x) => x === 0) && mixed.sums.some((x) => x === 2), 'number 1 draws a mix');
  // Every draw's users differ from step 6's and from one another.
  const draws = [1, 3, 5, 7, 9].map((v) => users.filter(challengerUsers(v, 0.5)).join());
  assert.equal(new Set(draws).size, draws.length);
  // Truths off every interval: nothing covered.
  const off = challengerRedraws([{ ...a, truth: 5 }, { ...b, truth: -5 }], 0.5, 3, 300, 7);
  assert.deepEqual([off.targets.covered, off.gate.covered], [0, 0]);
});
