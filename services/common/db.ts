/**
 * Postgres access: a `pg` pool for the services, and the small SQL-session interface that both `pg` and
 * PGlite (the embedded default) satisfy, so the same migrations and queries run on either.
 * Every statement takes its values as parameters; no SQL is built by concatenating values.
 */
import pg from 'pg';

export interface SqlSession {
  /** One statement with $1… parameters. */
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
  /** Several statements, no parameters (migration files). */
  exec(text: string): Promise<void>;
}

/**
 * A pool whose idle connections may break (a restarted server, a dropped database) without crashing the
 * process: pg emits those as 'error' on the pool, which Node would otherwise throw. The next query gets a
 * fresh connection or fails with its own error.
 */
export function createPool(
  databaseUrl: string,
  max = 5,
  onIdleError: (err: Error) => void = () => undefined,
): pg.Pool {
  const pool = new pg.Pool({ connectionString: databaseUrl, max, connectionTimeoutMillis: 15_000 });
  pool.on('error', onIdleError);
  return pool;
}

/** A session on one connection: transactions (BEGIN … COMMIT) need that, so a pool is never a session. */
export function pgSession(client: pg.PoolClient | pg.Client): SqlSession {
  return {
    query: async <R>(text: string, params: unknown[] = []) => {
      const res = await client.query(text, params);
      return { rows: res.rows as R[] };
    },
    exec: async (text: string) => {
      await client.query(text);
    },
  };
}

/** Runs `fn` on one connection taken from `pool`, and gives it back. */
export async function withSession<T>(pool: pg.Pool, fn: (session: SqlSession) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    return await fn(pgSession(client));
  } finally {
    client.release();
  }
}
