/** Report writing (metrics.json, report.md, PNG charts) and the standing sentences computed from the numbers; the online test's page logging. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_OFFLINE, type ModelResult, type OfflineResult, type PairedComparison } from '../../services/eval/offline.js';
import { compareIntervals, standingSentences } from '../../services/eval/report.js';
import { writeOfflineReport, writeOnlineReport, writeOnlineSensitivityReport, writeSensitivityReport } from '../../services/eval/report-files.js';
import type { OnlineSensitivityResult } from '../../services/eval/sensitivity.js';
import { tInterval } from '../../services/eval/stats.js';
import { pageView, sessionsToViews, type OnlineConfig, type OnlineResult } from '../../services/eval/online.js';
import type { Selection } from '../../services/eval/selection.js';
import type { ModelName } from '../../services/eval/models.js';
import { standingOf } from '../../services/eval/paired.js';
import { runSessions, SIMULATOR_REWARDS, startWalk, World } from '../../services/simulator/index.js';
import { tempDir } from '../support/temp.js';

const selection = (name: ModelName): Selection => ({
  model: name, metric: 'validation NDCG@10 (all views)', unit: 'steps', maxUnits: 300, grid: [{ tau: 0.01 }, { tau: 0.05 }],
  runs: [
    { params: { tau: 0.01 }, curve: [{ units: 150, validation: 0.4 }, { units: 300, validation: 0.45 }], best: { units: 300, validation: 0.45 }, stoppedEarly: false, wallMs: 1000 },
    { params: { tau: 0.05 }, curve: [{ units: 150, validation: 0.42 }], best: { units: 150, validation: 0.42 }, stoppedEarly: true, wallMs: 500 },
  ],
  chosen: { params: { tau: 0.01 }, units: 300, validation: 0.45 },
});

function model(name: ModelName, base: number): ModelResult {
  const vals = [base, base + 0.01, base + 0.02];
  const metrics = { ndcg: tInterval(vals), map: tInterval(vals.map((v) => v - 0.1)), mrr: tInterval(vals.map((v) => v - 0.05)), hr: tInterval(vals.map((v) => v + 0.1)), views: 100 };
  return {
    name,
    selection: selection(name),
    budget: { unit: 'steps', units: 300, batchSize: 64, selectionMs: 1500, finalMs: 2000 },
    perSeed: vals.map((v, i) => ({ seed: i + 1, trainMs: 2000, scores: { entrance: { ndcg: v, map: v - 0.1, mrr: v - 0.05, hr: v + 0.1, views: 100 } } })),
    summary: { entrance: metrics, all: metrics },
  };
}

const paired = (m: ModelName, low: number, high: number): PairedComparison[] => (['ndcg', 'map', 'mrr', 'hr'] as const).flatMap((metric) =>
  (['entrance', 'all'] as const).map((scenario) => {
    const difference = { mean: (low + high) / 2, low, high, units: 100, standing: standingOf(low, high) };
    return { model: m, scenario, metric, difference, standing: difference.standing };
  }));

const result: OfflineResult = {
  config: DEFAULT_OFFLINE,
  backend: 'wasm',
  data: {
    views: 500, trainViews: 400, fitViews: 340, validationViews: 60, testViews: 100, trainSessions: 80, validationSessions: 12, testSessions: 20,
    cutoff: '2018-11-08T00:00:00.000Z', validationCutoff: '2018-11-07T20:00:00.000Z', testViewsByScenario: { entrance: 100 }, coldItemShare: 0.5, clickedItemsWithEmbedding: 42,
  },
  scenarios: ['entrance'],
  models: [model('DeepChain', 0.4123), model('FM', 0.3), model('logged', 0.6), model('DC-f', 0.405)],
  comparisons: [...paired('FM', 0.05, 0.15), ...paired('logged', -0.25, -0.15), ...paired('DC-f', -0.01, 0.02)],
  attention: { last: 5, rows: [{ network: 'actor', scenario: 'entrance', weights: [0.1, 0.1, 0.2, 0.2, 0.4], states: 7 }] },
  diagnostics: [{
    model: 'DeepChain',
    rows: [{
      scenario: 'entrance', transitions: 120, criticReturnCorrelation: 0.4213, probabilityLogLoss: 0.512, baseRateLogLoss: 0.634,
      protoClickedCosine: 0.377, protoSkippedCosine: 0.051, shownWithVector: 0.25, clickedWithVector: 0.5,
    }],
  }],
};

test('comparisons follow the numbers: ahead, behind, or tied when the paired interval holds zero', () => {
  assert.equal(compareIntervals(tInterval([2, 2.1, 2.2]), tInterval([1, 1.1, 1.2])), 'ahead');
  assert.equal(compareIntervals(tInterval([1, 1.1, 1.2]), tInterval([2, 2.1, 2.2])), 'behind');
  assert.equal(compareIntervals(tInterval([1, 1.1, 1.2]), tInterval([1.05, 1.1, 1.15])), 'tied');
  const sentences = standingSentences(result.comparisons, 10).join('\n');
  assert.match(sentences, /DeepChain is \*\*ahead of FM\*\* on every scenario and metric/);
  assert.match(sentences, /DeepChain is \*\*behind logged\*\* on every scenario and metric/);
  assert.match(sentences, /DeepChain and DC-f are \*\*tied\*\*/);
  assert.match(sentences, /entrance MRR \+0\.1000 \[0\.0500, 0\.1500\]/);
});

test('the offline report directory holds metrics.json with every number, report.md, learning curves and PNG charts', async () => {
  const dir = tempDir('eval-report-');
  const files = await writeOfflineReport(dir, result);
  for (const f of files) assert.ok((await stat(f)).size > 0, f);
  const png = await readFile(join(dir, 'offline-ndcg.png'));
  assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG file');
  for (const f of ['attention.png', 'offline-mrr.png', 'offline-hr.png', 'offline-curve-deepchain.png']) assert.ok((await stat(join(dir, f))).size > 0, f);
  const metrics = JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8'));
  assert.equal(metrics.models.DeepChain.summary.entrance.ndcg.mean, tInterval([0.4123, 0.4223, 0.4323]).mean);
  assert.equal(metrics.models.DeepChain.summary.entrance.mrr.mean, tInterval([0.3623, 0.3723, 0.3823]).mean);
  assert.equal(metrics.models.FM.perSeed.length, 3);
  assert.deepEqual(metrics.models.FM.selection.chosen, { params: { tau: 0.01 }, units: 300, validation: 0.45 });
  assert.equal(metrics.models.FM.budget.batchSize, 64);
  assert.ok(metrics.grids.DeepChain.grid.length > 0, 'the searched grid is written down');
  const c = metrics.comparisons.find((x: { model: string; metric: string; scenario: string }) => x.model === 'logged' && x.metric === 'mrr' && x.scenario === 'entrance');
  assert.deepEqual([c.standing, c.low, c.high], ['behind', -0.25, -0.15]);
  const md = await readFile(join(dir, 'report.md'), 'utf8');
  assert.match(md, /0\.4223 ± 0\.0248/);
  assert.match(md, /behind logged/);
  assert.match(md, /tau=0\.01: 0\.4500; tau=0\.05: 0\.4200 \(stopped early\)/);
  assert.match(md, /300 steps × batch 64 \(max 300\)/);
  assert.match(md, /!\[offline-ndcg\.png\]\(offline-ndcg\.png\)/);
  assert.match(md, /!\[offline-curve-deepchain\.png\]/);
  assert.match(md, /Attention weights/);
  assert.match(md, /\| DeepChain \| entrance \| 120 \| 0\.421 \| 0\.512 \/ 0\.634 \| 0\.377 \/ 0\.051 \| 25\.0% \| 50\.0% \|/, 'the diagnostics table');
  assert.equal(metrics.diagnostics[0].rows[0].criticReturnCorrelation, 0.4213);

  const sdir = tempDir('eval-sens-');
  await writeSensitivityReport(sdir, { lengths: [1, 5], runs: [{ historyLength: 1, result }, { historyLength: 5, result }] });
  assert.match(await readFile(join(sdir, 'report.md'), 'utf8'), /\| 5 \| 0\.4223 ± 0\.0248/);
  assert.ok((await stat(join(sdir, 'sensitivity-ndcg.png'))).size > 0);
});

const onlineConfig = (historyLength = 20): OnlineConfig => ({
  seeds: [1, 2, 3], models: ['DeepChain'], world: {}, walk: {}, rewards: SIMULATOR_REWARDS, k: 5, logSessions: 10, logEpsilon: 0.5, testSessions: 10,
  maxValidationViews: 100, training: { ...DEFAULT_OFFLINE, sizes: { ...DEFAULT_OFFLINE.sizes, historyLength } },
});

test('online: walked pages become logged views, and the online report holds the rewards and the paired standing', async () => {
  const world = new World({ seed: 3, items: 40, users: 10 });
  const state = startWalk();
  const v = pageView({
    request: { userId: 'user-0', sessionId: 's', scenario: 'entrance', context: null, state, history: ['item-9'], shownThisSession: [], k: 3, step: 0 },
    shown: ['item-1', 'item-2', 'item-3'],
    result: { actions: [{ type: 'skip', position: 0 }, { type: 'click', position: 1 }], state, clicked: 1 },
    reward: 1,
  }, 7);
  assert.deepEqual(v.items.map((i) => i.behaviour), ['skip', 'click', 'skip']);
  assert.deepEqual([v.scenario, v.time, v.history], ['entrance', 7, ['item-9']]);
  const sessions = runSessions(world, (r) => r.candidates.slice(0, r.k), { sessions: 20, seed: 1, k: 4 });
  const views = sessionsToViews(sessions);
  assert.equal(views.length, sessions.reduce((a, s) => a + s.pages, 0));
  assert.ok(views.every((x, i) => i === 0 || x.time > views[i - 1]!.time), 'times increase');
  assert.ok(views.every((x) => x.items.filter((i) => i.behaviour === 'leave').length <= 1));
  assert.equal(sessions.reduce((a, s) => a + s.clicks, 0), views.flatMap((x) => x.items).filter((i) => i.behaviour === 'click').length);

  const r = (vals: number[]) => ({ reward: tInterval(vals), clicks: tInterval(vals.map((x) => x + 2)), purchases: tInterval([0.1, 0.2, 0.3]), pages: tInterval([3, 3, 3]) });
  const difference = { mean: 0.7, low: 0.5, high: 0.9, units: 30, standing: 'ahead' as const };
  const online: OnlineResult = {
    config: onlineConfig(),
    backend: 'wasm',
    logged: { sessions: 10, views: 30, clicks: 4, purchases: 1, reward: -1 },
    models: [
      { name: 'logging policy', perSeed: [], summary: r([-1.9, -1.8, -1.85]), selection: null, budget: null },
      { name: 'DeepChain', perSeed: [], summary: r([-1.2, -1.1, -1.15]), selection: selection('DeepChain'), budget: { unit: 'steps', units: 300, batchSize: 64, selectionMs: 1, finalMs: 1 } },
    ],
    comparisons: [{ model: 'logging policy', metric: 'reward', difference, standing: 'ahead' }],
  };
  const dir = tempDir('eval-online-');
  await writeOnlineReport(dir, online);
  const md = await readFile(join(dir, 'report.md'), 'utf8');
  assert.match(md, /DeepChain is \*\*ahead of logging policy\*\*: DeepChain − logging policy = \+0\.700 \[0\.500, 0\.900\]/);
  assert.match(md, /-1\.150 ± /);
  assert.match(md, /purchase 5 per item/);
  const metrics = JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8'));
  assert.deepEqual([metrics.comparisons[0].standing, metrics.comparisons[0].low], ['ahead', 0.5]);
  assert.ok((await stat(join(dir, 'online-reward.png'))).size > 0);
  assert.ok((await stat(join(dir, 'online-curve-deepchain.png'))).size > 0);
});

test('online parameter study (Fig. 7a): the report tabulates reward per N and says whether longer histories help', async () => {
  const r = (vals: number[]) => ({ reward: tInterval(vals), clicks: tInterval(vals), purchases: tInterval(vals), pages: tInterval([3, 3, 3]) });
  const run = (N: number, dc: number[]): OnlineSensitivityResult['runs'][number] => ({
    historyLength: N,
    result: {
      config: onlineConfig(N),
      backend: 'wasm',
      logged: { sessions: 10, views: 30, clicks: 4, purchases: 1, reward: -1 },
      models: [
        { name: 'logging policy', perSeed: [], summary: r([-1, -1.1, -0.9]), selection: null, budget: null },
        { name: 'DeepChain', perSeed: [], summary: r(dc), selection: null, budget: null },
      ],
      comparisons: [],
    },
  });
  const result: OnlineSensitivityResult = { lengths: [1, 20], runs: [run(1, [-1.2, -1.1, -1.15]), run(20, [0.4, 0.5, 0.45])] };
  const dir = tempDir('eval-sens-online-');
  await writeOnlineSensitivityReport(dir, result);
  const md = await readFile(join(dir, 'report.md'), 'utf8');
  assert.match(md, /\| 20 \| 0\.450 ± [0-9.]+ \| -1\.000 ± /);
  assert.match(md, /from -1\.150 ± [0-9.]+ at N = 1 to 0\.450 ± [0-9.]+ at N = 20: longer histories help\./);
  const metrics = JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8'));
  assert.deepEqual(metrics.lengths, [1, 20]);
  assert.equal(metrics.runs[1].models.find((m: { name: string }) => m.name === 'DeepChain').summary.reward.mean, 0.45);
  assert.ok((await stat(join(dir, 'sensitivity-online-reward.png'))).size > 0);
});
