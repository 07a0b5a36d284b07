/** Report writing (metrics.json, report.md, PNG charts) and the standing sentences computed from the numbers; the online test's page logging. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_OFFLINE, type ModelResult, type OfflineResult } from '../../services/eval/offline.js';
import { compareIntervals, standingSentences, offlineComparisons } from '../../services/eval/report.js';
import { writeOfflineReport, writeOnlineReport, writeOnlineSensitivityReport, writeSensitivityReport } from '../../services/eval/report-files.js';
import type { OnlineSensitivityResult } from '../../services/eval/sensitivity.js';
import { tInterval } from '../../services/eval/stats.js';
import { pageView, simulate } from '../../services/eval/online.js';
import { DEFAULT_WALK, startWalk, World } from '../../services/simulator/index.js';
import type { OnlineResult } from '../../services/eval/online.js';
import { tempDir } from '../support/temp.js';

function model(name: ModelResult['name'], base: number): ModelResult {
  const vals = [base, base + 0.01, base + 0.02];
  const summary = { ndcg: tInterval(vals), map: tInterval(vals.map((v) => v - 0.1)), views: 100 };
  return { name, perSeed: vals.map((v, i) => ({ seed: i + 1, scores: { entrance: { ndcg: v, map: v - 0.1, views: 100 } } })), summary: { entrance: summary, all: summary } };
}

const result: OfflineResult = {
  config: DEFAULT_OFFLINE,
  backend: 'wasm',
  data: { views: 500, trainViews: 400, testViews: 100, trainSessions: 80, testSessions: 20, cutoff: '2018-11-08T00:00:00.000Z', testViewsByScenario: { entrance: 100 }, coldItemShare: 0.5, clickedItemsWithEmbedding: 42 },
  scenarios: ['entrance'],
  models: [model('DeepChain', 0.4123), model('FM', 0.3), model('logged', 0.6), model('DC-f', 0.405)],
  attention: { last: 5, rows: [{ network: 'actor', scenario: 'entrance', weights: [0.1, 0.1, 0.2, 0.2, 0.4], states: 7 }] },
};

test('comparisons follow the numbers: ahead, behind, or not distinguishable when intervals overlap', () => {
  assert.equal(compareIntervals(tInterval([2, 2.1, 2.2]), tInterval([1, 1.1, 1.2])), 'ahead');
  assert.equal(compareIntervals(tInterval([1, 1.1, 1.2]), tInterval([2, 2.1, 2.2])), 'behind');
  assert.equal(compareIntervals(tInterval([1, 1.1, 1.2]), tInterval([1.05, 1.1, 1.15])), 'tied');
  const sentences = standingSentences(offlineComparisons(result), 10).join('\n');
  assert.match(sentences, /DeepChain is \*\*ahead of FM\*\* on every scenario and metric/);
  assert.match(sentences, /DeepChain is \*\*behind logged\*\* on every scenario and metric/);
  assert.match(sentences, /DeepChain and DC-f are \*\*not distinguishable\*\*/);
});

test('the offline report directory holds metrics.json with every number, report.md and PNG charts', async () => {
  const dir = tempDir('eval-report-');
  const files = await writeOfflineReport(dir, result);
  for (const f of files) assert.ok((await stat(f)).size > 0, f);
  const png = await readFile(join(dir, 'offline-ndcg.png'));
  assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG file');
  assert.ok((await stat(join(dir, 'attention.png'))).size > 0);
  const metrics = JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8'));
  assert.equal(metrics.models.DeepChain.summary.entrance.ndcg.mean, tInterval([0.4123, 0.4223, 0.4323]).mean);
  assert.equal(metrics.models.FM.perSeed.length, 3);
  assert.ok(metrics.comparisons.some((c: { model: string; standing: string }) => c.model === 'logged' && c.standing === 'behind'));
  const md = await readFile(join(dir, 'report.md'), 'utf8');
  assert.match(md, /0\.4223 ± 0\.0248/);
  assert.match(md, /behind logged/);
  assert.match(md, /!\[offline-ndcg\.png\]\(offline-ndcg\.png\)/);
  assert.match(md, /Attention weights/);

  const sdir = tempDir('eval-sens-');
  await writeSensitivityReport(sdir, { lengths: [1, 5], runs: [{ historyLength: 1, result }, { historyLength: 5, result }] });
  assert.match(await readFile(join(sdir, 'report.md'), 'utf8'), /\| 5 \| 0\.4223 ± 0\.0248/);
  assert.ok((await stat(join(sdir, 'sensitivity-ndcg.png'))).size > 0);
});

test('online: a walked page becomes a logged view, and the online report holds the rewards', async () => {
  const world = new World({ seed: 3, items: 40, users: 10 });
  const user = world.users[0]!;
  const state = startWalk();
  const result = { actions: [{ type: 'skip' as const, position: 0 }, { type: 'click' as const, position: 1 }], state, clicked: 1 };
  const v = pageView({ userId: user.id, sessionId: 's', time: 1, step: 0, history: [] }, state, ['item-1', 'item-2', 'item-3'], result);
  assert.deepEqual(v.items.map((i) => i.behaviour), ['skip', 'click', 'skip']);
  assert.equal(v.scenario, 'entrance');
  const walk = { ...DEFAULT_WALK, addToCart: 0 };
  const histories = new Map<string, string[]>();
  const sim = simulate(world, walk, 4, 20, 1, histories, (_q, c) => c.slice(0, 4), 't');
  assert.equal(sim.stats.length, 20);
  assert.ok(sim.views.every((x) => x.scenario === 'entrance' || x.scenario === 'detail'));
  assert.ok(sim.views.every((x) => x.items.filter((i) => i.behaviour === 'leave').length <= 1));
  const clicks = sim.stats.reduce((a, s) => a + s.clicks, 0);
  assert.equal(clicks, sim.views.flatMap((x) => x.items).filter((i) => i.behaviour === 'click').length);
  assert.ok(sim.stats.every((s) => s.reward === s.clicks - 2), 'every session ends with one leave');

  const r = (vals: number[]) => ({ reward: tInterval(vals), clicks: tInterval(vals.map((x) => x + 2)), pages: tInterval([3, 3, 3]) });
  const online: OnlineResult = {
    config: { seeds: [1, 2, 3], models: ['DeepChain'], world: {}, walk: {}, k: 5, logSessions: 10, testSessions: 10, training: DEFAULT_OFFLINE },
    backend: 'wasm',
    logged: { sessions: 10, views: 30, clicks: 4 },
    models: [
      { name: 'logging policy', perSeed: [], summary: r([-1.9, -1.8, -1.85]) },
      { name: 'DeepChain', perSeed: [], summary: r([-1.2, -1.1, -1.15]) },
    ],
  };
  const dir = tempDir('eval-online-');
  await writeOnlineReport(dir, online);
  const md = await readFile(join(dir, 'report.md'), 'utf8');
  assert.match(md, /DeepChain is \*\*ahead of logging policy\*\*/);
  assert.match(md, /-1\.150 ± /);
  assert.equal(JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8')).comparisons[0].standing, 'ahead');
  assert.ok((await stat(join(dir, 'online-reward.png'))).size > 0);
});

test('online parameter study (Fig. 7a): the report tabulates reward per N and says whether longer histories help', async () => {
  const r = (vals: number[]) => ({ reward: tInterval(vals), clicks: tInterval(vals), pages: tInterval([3, 3, 3]) });
  const run = (N: number, dc: number[]): OnlineSensitivityResult['runs'][number] => ({
    historyLength: N,
    result: {
      config: { seeds: [1, 2, 3], models: ['DeepChain'], world: {}, walk: {}, k: 5, logSessions: 10, testSessions: 10, training: { ...DEFAULT_OFFLINE, historyLength: N } },
      backend: 'wasm',
      logged: { sessions: 10, views: 30, clicks: 4 },
      models: [
        { name: 'logging policy', perSeed: [], summary: r([-1, -1.1, -0.9]) },
        { name: 'DeepChain', perSeed: [], summary: r(dc) },
      ],
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
