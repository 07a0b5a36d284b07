/**
 * PGlite (Postgres compiled to WebAssembly) as the embedded demo's registry database: the SqlSession
 * interface the registry and the migration runner use, over one in-process database. PGlite has a single
 * connection, so callers take turns (`run`): a transaction (insertVersion's BEGIN … COMMIT) never
 * interleaves with another caller's statements.
 */
import { PGlite } from '@electric-sql/pglite';
import { migrate, type SqlSession } from '../common/index.js';

export class EmbeddedDatabase {
  private chain: Promise<unknown> = Promise.resolve();
  private readonly session: SqlSession;
  private isClosed = false;

  private constructor(private readonly db: PGlite) {
    this.session = {
      query: async <R>(text: string, params: unknown[] = []) => ({ rows: (await db.query<R>(text, params)).rows }),
      exec: async (text: string) => {
        await db.exec(text);
      },
    };
  }

  /** Opens a database (in memory unless `dataDir` is given) and applies the product's migrations. */
  static async open(dataDir?: string): Promise<{ db: EmbeddedDatabase; applied: string[] }> {
    const pglite = new PGlite(dataDir);
    await pglite.waitReady;
    const db = new EmbeddedDatabase(pglite);
    const applied = await db.run((s) => migrate(s));
    return { db, applied };
  }

  /** Runs `fn` with the session, after every earlier caller finished. */
  run<T>(fn: (session: SqlSession) => Promise<T>): Promise<T> {
    const next = this.chain.then(() => fn(this.session));
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** True once close() began: later `run`s would fail. */
  get closed(): boolean {
    return this.isClosed;
  }

  async close(): Promise<void> {
    this.isClosed = true;
    await this.chain;
    await this.db.close();
  }
}
