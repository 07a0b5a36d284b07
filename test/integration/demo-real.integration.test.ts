/**
 * Issue 6: `npm run demo -- --kafka BROKERS --database-url URL` on the real broker, schema registry and
 * Postgres — the demo starts the real sessionizer, learner and serving processes, simulated users drive
 * the serving node over HTTP and send their events through the SDK. A short run: this checks that the
 * pipeline really ran end to end (sessions, transitions at the learner, versions in the registry, a
 * serving node that loaded one), not the size of the learning effect.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { withSession } from '../../services/common/index.js';
import { currentDeployments, listVersions } from '../../services/registry/index.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { servers } from '../support/servers.js';
import { runDemo } from '../support/processes.js';

let db: TestDatabase;
let out: string;

before(async () => {
  db = await createTestDatabase();
  out = await mkdtemp(join(tmpdir(), 'demo-real-'));
});

after(async () => {
  await db.drop();
  await rm(out, { recursive: true, force: true });
});

test('the demo runs the real services against Kafka, the schema registry and Postgres', { timeout: 600_000 }, async () => {
  const r = await runDemo([
    '--minutes', '0.5', '--users', '60', '--concurrency', '4',
    '--kafka', servers.KAFKA_BROKERS.join(','), '--database-url', db.url, '--schema-registry', servers.SCHEMA_REGISTRY_URL,
    '--out', out,
  ]);
  assert.equal(r.code, 0, `demo failed:\n${r.stderr.slice(-4000)}`);
  const line = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  assert.equal(line.demo, 'done');
  assert.equal(line.mode, 'kafka');
  assert.ok((line.sessions as number) > 0, 'simulated sessions ran');
  assert.ok((line.versions as number) >= 1, `a version was published: ${r.stdout}\n${r.stderr.slice(-2000)}`);
  assert.ok((line.transitions as number) > 0, 'transitions reached the learner');
  for (const k of ['reward_first_decile', 'reward_last_decile', 'reward_first_decile_ci95', 'reward_last_decile_ci95', 'improvement_ci95']) {
    assert.ok(k in line, k);
  }

  // The registry the learner wrote to: versions trained on transitions of this run's own topics.
  const versions = await withSession(db.pool, (s) => listVersions(s, 'deepchain', 1000));
  assert.ok(versions.some((v) => v.status !== 'rejected'));
  for (const v of versions) {
    assert.ok(v.transitionsSeen > 0 && v.trainSteps > 0);
    const topics = Object.keys(v.sourceOffsets);
    assert.ok(topics.length === 1 && /^demo-[0-9a-f]{8}\.transitions$/.test(topics[0]!), `lineage names the run's topic: ${topics}`);
  }
  // The serving node loaded a version and said so in the registry.
  const deployments = await withSession(db.pool, (s) => currentDeployments(s));
  assert.ok(deployments.some((d) => d.servingNode.startsWith('demo-') && d.model === 'deepchain'), JSON.stringify(deployments));

  const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as { sessions: { reward: number }[]; checks: Record<string, number> };
  assert.equal(summary.sessions.length, line.sessions);
  assert.equal(summary.checks.recommend_errors, 0, 'every recommend call was answered (200 or 503 before the first version)');
  assert.match(await readFile(join(out, 'reward-per-session.html'), 'utf8'), /<svg /);
});
