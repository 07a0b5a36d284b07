// Registry retention against the real Postgres server (no Kafka): old versions keep their metadata and lose
// their weights; live, pinned, newest-N and reported versions keep theirs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { migratePool, withSession } from '../../services/common/index.js';
import {
  applyRetention, effectiveVersion, getVersion, getVersionSummary, insertVersion, listChanges, listVersions, pin, promote, pruneWeights,
  recordDeployment, rollback, sha256Hex, unpin, WeightsPrunedError, type NewVersion,
} from '../../services/registry/index.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
const MODEL = 'deepchain';
const by = { actor: 'test', reason: 'retention test' };
const version = (n: number): NewVersion => ({
  model: MODEL, trainSteps: n * 100, transitionsSeen: n * 6400, status: 'live',
  sourceOffsets: { transitions: { '0': String(n * 10) } },
  metrics: { reward: n }, weights: new Uint8Array([n, n + 1, n + 2]),
});

before(async () => {
  db = await createTestDatabase();
  await migratePool(db.pool);
});
after(async () => {
  await db.drop();
});

test('old versions keep their metadata and lose their weights; live, pinned, newest N and reported ones keep theirs', async () => {
  await withSession(db.pool, async (s) => {
    for (let n = 1; n <= 12; n++) await insertVersion(s, version(n));
    await pin(s, MODEL, 2, by);
    await recordDeployment(s, 'node-a', MODEL, 4);
    await recordDeployment(s, 'node-b', MODEL, 5);
    await new Promise((r) => setTimeout(r, 5));
    await recordDeployment(s, 'node-b', MODEL, 6); // node-b no longer reports 5

    const pruned = await pruneWeights(s, MODEL, 3);
    assert.deepEqual(pruned, [1, 3, 5, 7, 8, 9]);
    assert.deepEqual(await pruneWeights(s, MODEL, 3), [], 'a second pass prunes nothing');

    const all = await listVersions(s, MODEL);
    assert.equal(all.length, 12, 'every row stays');
    for (const v of all) {
      assert.equal(v.weightsPrunedAt !== null, pruned.includes(v.version), `version ${v.version}`);
      assert.equal(v.checksum, sha256Hex(new Uint8Array([v.version, v.version + 1, v.version + 2])));
      assert.deepEqual(v.metrics, { reward: v.version });
      assert.equal(v.sizeBytes, 3);
    }
    const raw = await s.query<{ version: string; has: boolean }>(
      'SELECT version, weights IS NOT NULL AS has FROM model_versions WHERE model = $1 ORDER BY version', [MODEL],
    );
    assert.deepEqual(raw.rows.filter((r) => r.has).map((r) => Number(r.version)), [2, 4, 6, 10, 11, 12]);

    for (const kept of [2, 4, 6, 10, 11, 12]) {
      assert.deepEqual([...(await getVersion(s, MODEL, kept))!.weights], [kept, kept + 1, kept + 2]);
    }
    const summary = await getVersionSummary(s, MODEL, 1);
    assert.deepEqual(summary!.sourceOffsets, { transitions: { '0': '10' } });
    await assert.rejects(getVersion(s, MODEL, 1), (err: Error) =>
      err instanceof WeightsPrunedError && /version 1 of 'deepchain' has no weights: they were pruned at .* by the retention policy/.test(err.message)
      && /REGISTRY_KEEP_WEIGHTS/.test(err.message));
  });
});

test('pinning, promoting or rolling back to a pruned version is refused with the policy error, and changes nothing', async () => {
  await withSession(db.pool, async (s) => {
    const changesBefore = (await listChanges(s, MODEL)).length;
    await assert.rejects(pin(s, MODEL, 7, by), /version 7 of 'deepchain' has no weights.*retention policy/);
    await assert.rejects(promote(s, MODEL, 7, by), (err: Error) =>
      err instanceof WeightsPrunedError && /version 7 of 'deepchain' has no weights.*retention policy/.test(err.message));
    assert.deepEqual(await effectiveVersion(s, MODEL), { version: 2, pinned: true });
    assert.equal((await listChanges(s, MODEL)).length, changesBefore, 'a refused change leaves no audit row');
    await unpin(s, MODEL, by);

    assert.deepEqual(await rollback(s, MODEL, by), { from: 12, to: 11 });
    assert.deepEqual(await rollback(s, MODEL, by), { from: 11, to: 10 });
    await assert.rejects(rollback(s, MODEL, by), /version 9 of 'deepchain' has no weights.*retention policy/);
    assert.deepEqual(await effectiveVersion(s, MODEL), { version: 10, pinned: false }, 'the refused rollback left 10 live');
    assert.deepEqual(
      (await listChanges(s, MODEL, 3)).map((c) => [c.action, c.fromVersion, c.toVersion]),
      [['rollback', 11, 10], ['rollback', 12, 11], ['unpin', 2, null]],
      'the refused rollback is not in the audit trail',
    );

    await assert.rejects(pruneWeights(s, MODEL, 0), /keep must be a positive integer/);
    await assert.rejects(
      s.query('UPDATE model_versions SET weights = NULL WHERE model = $1 AND version = 10', [MODEL]),
      /model_versions_weights_or_pruned/,
      'weights only go together with their pruned time',
    );
  });
});

test('the publisher\'s retention step vacuums model_versions after a prune where autovacuum is off, so the space is reused', async () => {
  const other = 'retention-vacuum';
  await withSession(db.pool, async (s) => {
    for (let n = 1; n <= 4; n++) await insertVersion(s, { ...version(n), model: other });
    const autovacuum = (await s.query<{ autovacuum: string }>('SHOW autovacuum')).rows[0]!.autovacuum;
    const vacuums = async () => Number((await s.query<{ n: string }>(
      "SELECT vacuum_count AS n FROM pg_stat_user_tables WHERE relname = 'model_versions'",
    )).rows[0]!.n);
    const before = await vacuums();
    assert.deepEqual(await applyRetention(s, other, 2), [1, 2]);
    assert.deepEqual(await applyRetention(s, other, 2), [], 'nothing more to prune, so nothing to vacuum');
    // The statistics collector reports with a delay of its own: wait for the count, or for its absence.
    let after = before;
    for (let i = 0; i < 50 && after === before; i++) {
      await s.query('SELECT pg_stat_clear_snapshot()');
      after = await vacuums();
      if (after === before) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(after - before, autovacuum === 'on' ? 0 : 1, `autovacuum ${autovacuum}`);
  });
});
