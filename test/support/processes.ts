/** Service processes for end-to-end tests (services/common/processes.ts), and polling until a condition holds. */
import { spawn } from 'node:child_process';
import { startServiceProcess, type ServiceProcess } from '../../services/common/index.js';

export { freePort, type ServiceProcess } from '../../services/common/index.js';

export function startService(service: string, env: Record<string, string>): ServiceProcess {
  return startServiceProcess(service, { LOG_LEVEL: 'info', ...env });
}

/** Polls `probe` until it returns a value (not undefined) or `timeoutMs` passes. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

/** Runs `npm run demo`'s entry point to completion with the given arguments, collecting its output. */
export function runDemo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'services/demo/main.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
