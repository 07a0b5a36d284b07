/** A database of its own for one test file, on the real Postgres server, dropped afterwards. */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createPool } from '../../services/common/index.js';
import { servers } from './servers.js';

export interface TestDatabase {
  url: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `deepchain_test_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = new pg.Client({ connectionString: servers.DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  const url = new URL(servers.DATABASE_URL);
  url.pathname = `/${name}`;
  const pool = createPool(url.toString(), 4);
  return {
    url: url.toString(),
    pool,
    drop: async () => {
      await pool.end();
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      await admin.end();
    },
  };
}
