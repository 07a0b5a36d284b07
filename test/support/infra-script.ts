/** deploy/infra.sh from the chaos commands and benches that run servers of their own (a registry, a broker, Kafka's tools). */
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const INFRA = join(ROOT, 'deploy', 'infra.sh');

/** Runs `deploy/infra.sh ARGS…` with `extraEnv` (ports, data folders); rejects with the last lines of its stderr. */
export function infraScript(args: readonly string[], extraEnv: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('bash', [INFRA, ...args], { cwd: ROOT, env: { ...process.env, ...extraEnv } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`deploy/infra.sh ${args.join(' ')} failed: ${stderr.trim().split('\n').slice(-5).join(' | ')}`));
      else resolve({ stdout, stderr });
    });
  });
}
