/**
 * Issue 6: `npm run demo` with no servers — the embedded loop (in-process log, sessionizer fold, online
 * trainer, publisher, PGlite registry, in-process serving node) in a short run: the verdict line, the
 * chart, and the run's integrity checks (no dead letters, every session's reward equal to the sum of its
 * transitions' rewards, no transition refused by the learner). Needs no servers; it is in this tier
 * because it takes about a minute of CPU.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runDemo } from '../support/processes.js';

let out: string;
before(async () => {
  out = await mkdtemp(join(tmpdir(), 'demo-embedded-'));
});
after(async () => {
  await rm(out, { recursive: true, force: true });
});

test('the embedded demo runs the whole loop in one process and reports it', { timeout: 600_000 }, async () => {
  const r = await runDemo(['--minutes', '0.4', '--out', out]);
  assert.equal(r.code, 0, r.stderr.slice(-4000));
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'stdout holds the verdict line only');
  const line = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(line.demo, 'done');
  assert.equal(line.mode, 'embedded');
  assert.ok((line.sessions as number) >= 50, `sessions: ${line.sessions}`);
  assert.ok((line.versions as number) >= 1, `versions: ${line.versions}\n${r.stderr.slice(-2000)}`);
  assert.ok((line.transitions as number) > 0);
  assert.match(r.stderr, /PGlite registry, migrations 001_model_registry, 002_learner_checkpoints/);

  const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as { checks: Record<string, number>; sessions: unknown[] };
  assert.equal(summary.checks.dead_letters, 0);
  assert.equal(summary.checks.transitions_rejected_by_learner, 0);
  assert.equal(summary.checks.sessions_reward_mismatch, 0, 'every session scored as the sessionizer scored its transitions');
  assert.equal(summary.sessions.length, line.sessions);
  const html = await readFile(join(out, 'reward-per-session.html'), 'utf8');
  assert.equal(html.match(/<circle /g)!.length, (line.sessions as number) + 1);
});
