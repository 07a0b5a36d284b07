/**
 * A Postgres server of a chaos run's own, which the run may stop and start at will — never the machine's
 * shared one at 127.0.0.1:5432. `initdb` (trust authentication, user `postgres`) into a fresh temporary folder,
 * then `pg_ctl start`/`stop` on a free port, listening on 127.0.0.1 with its socket in the same folder. Run as
 * root, the server programs run as the `postgres` user (initdb refuses root). `dispose` stops it (immediate) and
 * deletes the folder.
 */
import { execFile, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createPool, freePort } from '../../services/common/index.js';

export interface OwnPostgres {
  readonly port: number;
  readonly dir: string;
  /** postgresql://postgres@127.0.0.1:PORT/postgres */
  readonly url: string;
  /** The server's log (all starts appended). */
  readonly logPath: string;
  /** pg_ctl start -w: resolves once it accepts connections. */
  start(): Promise<void>;
  /** pg_ctl stop -m MODE (fast: disconnects clients, clean shutdown; immediate: no shutdown, recovery at the next start). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** A pool on its database (2 connections); the caller ends it. */
  pool(): pg.Pool;
  /** Stops it if running and deletes its folder. */
  dispose(): Promise<void>;
  /** The same, synchronously: for a process 'exit' handler (an interrupted run). */
  disposeSync(): void;
}

function binDir(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))) : [];
  if (versions.length === 0) throw new Error(`no Postgres server programs under ${base}/*/bin (apt-get install postgresql)`);
  versions.sort((a, b) => Number(b) - Number(a));
  return join(base, versions[0]!, 'bin');
}

function run(bin: string, args: string[], asPostgres: boolean): Promise<{ stdout: string; stderr: string }> {
  const [file, argv] = asPostgres ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  return new Promise((resolve, reject) => {
    execFile(file as string, argv as string[], { timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${bin.split('/').pop()} ${args.join(' ')} failed: ${(stderr || err.message).trim().split('\n').slice(-5).join(' | ')}`));
      else resolve({ stdout, stderr });
    });
  });
}

export async function ownPostgres(): Promise<OwnPostgres> {
  const bin = binDir();
  const asPostgres = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), 'chaos-postgres-'));
  const data = join(dir, 'data');
  const logPath = join(dir, 'server.log');
  if (asPostgres) {
    const id = async (flag: string) => Number((await run('/usr/bin/id', [flag, 'postgres'], false)).stdout.trim());
    chownSync(dir, await id('-u'), await id('-g'));
  }
  await run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'], asPostgres);
  const port = await freePort();
  let running = false;
  const pgCtl = (args: string[]) => run(join(bin, 'pg_ctl'), ['-D', data, ...args], asPostgres);
  const self: OwnPostgres = {
    port,
    dir,
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    logPath,
    start: async () => {
      // fsync off: the run's data is thrown away, and the shared disk is slow.
      await pgCtl(['-w', '-t', '60', '-l', logPath, '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
      running = true;
    },
    stop: async (mode = 'fast') => {
      await pgCtl(['-w', '-t', '60', '-m', mode, 'stop']);
      running = false;
    },
    pool: () => createPool(self.url, 2),
    dispose: async () => {
      if (running || existsSync(join(data, 'postmaster.pid'))) await pgCtl(['-w', '-m', 'immediate', 'stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
    disposeSync: () => {
      if (existsSync(join(data, 'postmaster.pid'))) {
        const argv = [join(bin, 'pg_ctl'), '-D', data, '-w', '-m', 'immediate', 'stop'];
        spawnSync(asPostgres ? 'runuser' : argv[0]!, asPostgres ? ['-u', 'postgres', '--', ...argv] : argv.slice(1), { stdio: 'ignore', timeout: 60_000 });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return self;
}
