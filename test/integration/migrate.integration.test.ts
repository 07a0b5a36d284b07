import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createPool, migratePool, readMigrations } from '../../services/common/index.js';
import { servers } from '../support/servers.js';

// Each run works in a database of its own, created here and dropped afterwards, on the real server.
const dbName = `deepchain_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
const admin = new pg.Client({ connectionString: servers.DATABASE_URL });
let pool: pg.Pool;

before(async () => {
  await admin.connect();
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(dbName)}`);
  const url = new URL(servers.DATABASE_URL);
  url.pathname = `/${dbName}`;
  pool = createPool(url.toString(), 3);
});
after(async () => {
  await pool.end();
  await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(dbName)}`);
  await admin.end();
});

test('migrations apply in order, are recorded, and a second run changes nothing', async () => {
  const files = readMigrations();
  const first = await migratePool(pool);
  assert.deepEqual(first, files.map((m) => `${String(m.version).padStart(3, '0')}_${m.name}`));
  const recorded = await pool.query('SELECT version, name, checksum FROM schema_migrations ORDER BY version');
  assert.deepEqual(recorded.rows, files.map((m) => ({ version: m.version, name: m.name, checksum: m.checksum })));
  const tables = await pool.query(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  );
  assert.deepEqual(tables.rows.map((r) => r.table_name), ['deployments', 'model_versions', 'models', 'schema_migrations']);

  assert.deepEqual(await migratePool(pool), []);
  const after = await pool.query('SELECT count(*)::int AS n FROM schema_migrations');
  assert.equal(after.rows[0].n, files.length);
});

test('two runners at once apply each migration once', async () => {
  // Fresh schema in the same database: the advisory lock serialises the two runners.
  await pool.query('DROP TABLE deployments, model_versions, models, schema_migrations CASCADE');
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
