/**
 * End to end on the real data: `deepchain data import trivago` converts the shared trivago file, and
 * `deepchain eval offline` runs every model on a tiny slice of it (a few steps each) into a report
 * directory. The data is read from ../shared/data/trivago/ and never copied into the repository.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readPageViews } from '../../services/eval/jsonl-file.js';
import { tempDir } from '../support/temp.js';

const DATA = '../shared/data/trivago/trivago_dev.parquet';

function deepchain(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['services/cli/bin.mjs', ...args], { env: process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

test('import the trivago logs, then run the offline test on a slice end to end', { skip: existsSync(DATA) ? false : `${DATA} is not here` }, async () => {
  const dir = tempDir('eval-trivago-');
  const jsonl = join(dir, 'trivago.jsonl');
  const imp = await deepchain(['data', 'import', 'trivago', '--in', DATA, '--out', jsonl]);
  assert.equal(imp.status, 0, imp.stderr);
  const stats = JSON.parse(imp.stdout);
  // The README's counts: 70,175 rows, 4,625 users, 9,379 clickouts (one entrance view each).
  assert.equal(stats.rows, 70175);
  assert.equal(stats.users, 4625);
  assert.equal(stats.entranceViews, 9379);
  assert.ok(stats.detailViews > 0);
  const views = await readPageViews(jsonl);
  assert.equal(views.length, stats.entranceViews + stats.detailViews);
  assert.ok(views.every((v, i) => i === 0 || views[i - 1]!.time <= v.time), 'views in time order');

  const out = join(dir, 'offline');
  const run = await deepchain([
    'eval', 'offline', '--sessions', jsonl, '--out', out, '--limit', '500', '--seeds', '3',
    '--budget', '0.005', '--hidden', '8', '--history', '5',
  ]);
  assert.equal(run.status, 0, run.stderr);
  // 14 models: a validation search each, then 3 seeds each.
  assert.match(run.stderr, /\[[#.]{30}\]\s+\d+% task \d+\/56 /, 'a progress bar on stderr');
  const metrics = JSON.parse(await readFile(join(out, 'metrics.json'), 'utf8'));
  const models = ['DeepChain', 'DC-paper', 'DC-o', 'DC-f', 'FM', 'GRU4Rec', 'DDPG', 'MA-RDPG', 'SKNN', 'item-kNN', 'history-first', 'logged', 'popularity', 'random'];
  for (const m of models) {
    const s = metrics.models[m].summary.entrance;
    assert.equal(s.ndcg.n, 3, m);
    for (const k of ['ndcg', 'map', 'mrr', 'hr']) assert.ok(s[k].mean > 0 && s[k].mean <= 1, `${m} ${k}`);
    assert.ok(metrics.models[m].selection.runs.length >= 1 && metrics.models[m].selection.chosen, `${m}: its validation search is recorded`);
  }
  // Paired comparisons of DeepChain with the 13 others, per scenario (entrance, detail, all) and metric.
  assert.equal(metrics.comparisons.filter((c: { scenario: string }) => c.scenario === 'entrance').length, 13 * 4);
  for (const c of metrics.comparisons) assert.ok(['ahead', 'behind', 'tied'].includes(c.standing) && c.low <= c.difference && c.difference <= c.high, JSON.stringify(c));
  const md = await readFile(join(out, 'report.md'), 'utf8');
  assert.match(md, /## Where DeepChain stands/);
  assert.match(md, /## Training \(validation only\)/);
  assert.match(md, new RegExp(metrics.models.DeepChain.summary.entrance.ndcg.mean.toFixed(4)));
  for (const f of ['offline-ndcg.png', 'offline-map.png', 'offline-mrr.png', 'offline-hr.png', 'offline-curve-deepchain.png']) assert.ok((await stat(join(out, f))).size > 1000, f);
});
