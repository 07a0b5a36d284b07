/**
 * The migration runner: plain SQL files `NNN_name.sql` applied in order, each recorded in
 * `schema_migrations` with its checksum. Running it again applies nothing; an applied file that was
 * edited afterwards stops the run (write a new migration instead).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { withSession, type SqlSession } from './db.js';
import { DeepChainError } from './errors.js';

export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'registry', 'migrations');

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

const FILE = /^(\d+)_([a-z0-9_]+)\.sql$/;
/** Serialises concurrent runners (two services starting at once). Any constant works; this spells "dcmg". */
const LOCK_KEY = 0x64636d67;

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  const migrations = files.map((file) => {
    const m = FILE.exec(file);
    if (!m) throw new Error(`migration file '${file}' in ${dir} must be named NNN_name.sql (lower case)`);
    const sql = readFileSync(join(dir, file), 'utf8');
    return { version: Number(m[1]), name: m[2]!, sql, checksum: createHash('sha256').update(sql).digest('hex') };
  });
  return checkOrder(migrations);
}

/** Versions must be unique; files are applied by version. */
export function checkOrder(migrations: Migration[]): Migration[] {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.version === sorted[i - 1]!.version) {
      throw new Error(`two migrations have version ${sorted[i]!.version}: ${sorted[i - 1]!.name}, ${sorted[i]!.name}`);
    }
  }
  return sorted;
}

/** Which migrations still need applying; throws if an applied one changed or is missing its file. */
export function pendingMigrations(
  all: Migration[],
  applied: ReadonlyArray<{ version: number; checksum: string }>,
): Migration[] {
  const byVersion = new Map(all.map((m) => [m.version, m]));
  for (const a of applied) {
    const m = byVersion.get(a.version);
    if (!m) throw new DeepChainError('MIGRATION_CHANGED', `migration ${a.version} is applied but its file is gone`);
    if (m.checksum !== a.checksum) {
      throw new DeepChainError('MIGRATION_CHANGED', `migration ${a.version}_${m.name}.sql was edited after it was applied`);
    }
  }
  const done = new Set(applied.map((a) => a.version));
  return all.filter((m) => !done.has(m.version));
}

/** Applies pending migrations in one transaction; returns the names applied. `session` must be one connection. */
export async function migrate(session: SqlSession, migrations = readMigrations()): Promise<string[]> {
  await session.exec('BEGIN');
  try {
    await session.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    await session.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await session.query<{ version: number; checksum: string }>(
      'SELECT version, checksum FROM schema_migrations ORDER BY version',
    );
    const pending = pendingMigrations(migrations, rows);
    for (const m of pending) {
      await session.exec(m.sql);
      await session.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        m.checksum,
      ]);
    }
    await session.exec('COMMIT');
    return pending.map((m) => `${String(m.version).padStart(3, '0')}_${m.name}`);
  } catch (err) {
    await session.exec('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** `migrate` on one connection taken from `pool`. */
export async function migratePool(pool: pg.Pool, migrations = readMigrations()): Promise<string[]> {
  return withSession(pool, (session) => migrate(session, migrations));
}
