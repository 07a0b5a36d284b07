import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { migratePool, readMigrations } from '../../services/common/index.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
let pool: pg.Pool;

before(async () => {
  db = await createTestDatabase();
  pool = db.pool;
});
after(() => db.drop());

test('migrations apply in order, are recorded, and a second run changes nothing', async () => {
  const files = readMigrations();
  const first = await migratePool(pool);
  assert.deepEqual(first, files.map((m) => `${String(m.version).padStart(3, '0')}_${m.name}`));
  const recorded = await pool.query('SELECT version, name, checksum FROM schema_migrations ORDER BY version');
  assert.deepEqual(recorded.rows, files.map((m) => ({ version: m.version, name: m.name, checksum: m.checksum })));
  const tables = await pool.query(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  );
  assert.deepEqual(tables.rows.map((r) => r.table_name), ['deployments', 'learner_checkpoints', 'learner_dead_letter_marks', 'model_version_changes', 'model_versions', 'models', 'schema_migrations']);

  assert.deepEqual(await migratePool(pool), []);
  const after = await pool.query('SELECT count(*)::int AS n FROM schema_migrations');
  assert.equal(after.rows[0].n, files.length);
});

test('two runners at once apply each migration once', async () => {
  // Fresh schema in the same database: the advisory lock serialises the two runners.
  await pool.query('DROP TABLE deployments, learner_checkpoints, learner_dead_letter_marks, model_version_changes, model_versions, models, schema_migrations CASCADE');
  const [a, b] = await Promise.all([migratePool(pool), migratePool(pool)]);
  assert.equal(a.length + b.length, readMigrations().length);
});

test('a failing migration rolls back completely', async () => {
  const broken = [...readMigrations(), { version: 999, name: 'broken', sql: 'CREATE TABLE ok_part (x int); SELECT nope;', checksum: 'x' }];
  await assert.rejects(migratePool(pool, broken), /nope/);
  const t = await pool.query("SELECT to_regclass('ok_part') AS t");
  assert.equal(t.rows[0].t, null);
  const v = await pool.query('SELECT max(version)::int AS v FROM schema_migrations');
  assert.notEqual(v.rows[0].v, 999);
});
