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
import { DEFAULT_OPE_CHECK, OPE_ESTIMATORS, runOpeCheck, type OpeCheckConfig } from '../../services/eval/ope-check.js';
import {
  cascadeTargetReward, choicesGivenAbove, deterministicContinuation, deterministicProbabilities, expectedPageValue, exploringLogger,
  historyRecall, positionRewards, RECALL_SEEDS, uniformProbabilities,
} from '../../services/eval/ope-policies.js';
import { opeCheckLine, spearman, summariseOpeCheck, writeOpeCheckReport } from '../../services/eval/ope-report.js';
import {
  DEFAULT_WALK, fork, oraclePolicy, runSessions, SIMULATOR_REWARDS, startWalk, walkPage, World, type PageRequest,
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
  assert.equal(result.worlds.length, 1);
  assert.deepEqual(world!.policies.map((p) => p.name), [
    'logging policy', 'oracle (ε = 0)', 'random', 'popularity', 'item-kNN', 'SKNN', 'history-first', 'DeepChain', 'DeepChain reversed',
  ]);
  for (const p of world!.policies) {
    assert.equal(p.truth.sessions, 60, p.name);
    assert.ok(Number.isFinite(p.truth.perPage) && p.truth.low <= p.truth.perPage && p.truth.perPage <= p.truth.high, p.name);
    assert.equal(p.defaultGuard.passes, false, `${p.name}: a tiny log fails the module's default guard`);
    for (const e of OPE_ESTIMATORS) {
      const x = p.estimates[e];
      if (x.status === 'ok') assert.equal(x.covered, p.truth.perPage >= x.low! && p.truth.perPage <= x.high!, `${p.name} ${e}`);
      else assert.equal(x.covered, false);
    }
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
  const line = JSON.parse(opeCheckLine(summary));
  assert.deepEqual(Object.keys(line), ['ope', 'policies', 'estimators']);
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
    const report = await readFile(join(dir, 'report.md'), 'utf8');
    assert.match(report, /\| estimator \| coverage \(deployed truth\) \| rank correlation \|/);
    for (const p of world!.policies) assert.ok(report.includes(`| ${p.name} |`), p.name);
    for (const name of ['IPS', 'SNIPS', 'DR']) assert.match(report, new RegExp(`- \\*\\*${name}\\*\\*: coverage \\d\\.\\d\\d \\(\\d+ of 9\\) (meets|misses)`));
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
    const metrics = JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8'));
    assert.equal(metrics.config.sessions, 30);
    assert.equal(metrics.config.minEffectiveSampleSize, 1);
    assert.match(await readFile(join(dir, 'report.md'), 'utf8'), /^# Off-policy estimates against the simulator's truth/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
