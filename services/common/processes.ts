/**
 * The product's services as child processes, started as an operator starts them
 * (`node --import tsx services/<name>/main.ts`, configured by environment variables): used by the demo's
 * real-servers mode, the benchmarks and the end-to-end tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The tail of a process's output that is kept (enough for every line a test or the demo looks for). */
const OUTPUT_KEPT = 1 << 20;

export interface ServiceProcess {
  readonly child: ChildProcess;
  output(): string;
  /** SIGKILL, as a crash would; resolves when the process is gone. */
  kill9(): Promise<void>;
  /** SIGTERM (graceful shutdown), SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

export function startServiceProcess(service: string, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', `services/${service}/main.ts`], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (d: Buffer) => { log = (log + d.toString()).slice(-OUTPUT_KEPT); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    output: () => log,
    kill9: async () => {
      if (running()) child.kill('SIGKILL');
      await gone;
    },
    stop: async (graceMs = 15_000) => {
      if (running()) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await gone;
        clearTimeout(timer);
      }
      await gone;
    },
  };
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
