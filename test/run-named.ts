/**
 * `npm run bench -- NAME [args…]` and `npm run chaos -- NAME [args…]`: runs test/<kind>/NAME.ts, whose
 * default export takes the remaining arguments and resolves to one result object, printed as one JSON
 * line on stdout (progress goes to stderr).
 *
 * Like `npm test` (test/run.sh), it first brings up the servers NAME needs (SERVERS below): the Kafka broker
 * and the schema registry through deploy/infra.sh (reusing ones that already answer), and it checks that
 * Postgres answers at DATABASE_URL (stopping at once with one line if not). Afterwards, also when the script
 * fails or is interrupted, it stops only what it started. Names that need no servers start none.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export type Kind = 'bench' | 'chaos';
export type Server = 'kafka' | 'registry' | 'postgres';
const ALL: readonly Server[] = ['kafka', 'registry', 'postgres'];

/** What each script reaches: KAFKA_ENV → broker and registry; createTestDatabase → Postgres. */
export const SERVERS: Record<Kind, Record<string, readonly Server[]>> = {
  bench: {
    freshness: ['kafka', 'registry', 'postgres'],
    ingest: ['kafka', 'registry'],
    learner: [],
    'registry-size': ['postgres'],
    serving: ['kafka', 'registry'],
    sessionizer: ['kafka', 'registry'],
    'sessionizer-restore': ['kafka', 'registry'],
  },
  chaos: {
    broker: ['kafka', 'registry', 'postgres'], // runs a broker of its own (on a free port); reads and registers in the shared registry
    learner: ['kafka', 'registry', 'postgres'],
    registry: ['kafka', 'registry', 'postgres'], // its sessionizer uses a registry of its own (on a free port)
    serving: ['kafka', 'registry'], // runs a broker and a Postgres of its own (free ports); registers in the shared registry
    sessionizer: ['kafka', 'registry'],
  },
};

export type Plan = { ok: true; kind: Kind; name: string; servers: readonly Server[] } | { ok: false; message: string };

/** Which servers `npm run KIND -- NAME` needs, or the one line that refuses it. `available`: test/KIND/*.ts. */
export function planRun(kind: string | undefined, name: string | undefined, available: readonly string[]): Plan {
  if (kind !== 'bench' && kind !== 'chaos') return { ok: false, message: `unknown kind '${kind ?? ''}': bench or chaos` };
  const known = [...available].sort().join(', ');
  if (!name) return { ok: false, message: `usage: npm run ${kind} -- NAME [args…], NAME one of: ${known}` };
  if (!available.includes(name)) return { ok: false, message: `unknown ${kind} '${name}': known names are ${known}` };
  // A script not in the table yet gets every server rather than a connection-refused failure.
  return { ok: true, kind, name, servers: SERVERS[kind][name] ?? ALL };
}

/** The components deploy/infra.sh reported as "started" (not "reused") in its stdout. */
export function startedComponents(infraStdout: string): string[] {
  return [...infraStdout.matchAll(/^(kafka|registry) started$/gm)].map((m) => m[1]!);
}

/** A database URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** The one line when Postgres does not answer. */
export function postgresMissing(kind: Kind, name: string, url: string, reason: string): string {
  return `${kind} ${name} needs Postgres, which does not answer at DATABASE_URL=${redactUrl(url)} (${reason}): ` +
    'start it (`sudo service postgresql start`, or `docker compose up -d postgres`) or set DATABASE_URL to one that answers';
}

/** The one line when deploy/infra.sh could not bring up a component (its own [infra] lines say why). */
export function infraFailed(kind: Kind, name: string, component: string): string {
  const what = component === 'kafka' ? 'the Kafka broker' : 'the schema registry';
  return `${kind} ${name} needs ${what}, which did not start (see the [infra] lines above): ` +
    `start it with \`bash deploy/infra.sh up ${component}\`, then run again`;
}

// ---------------------------------------------------------------- the edge: processes and signals

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const INFRA = join(ROOT, 'deploy', 'infra.sh');

async function postgresProblem(url: string): Promise<string | null> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    const e = err as Error & { code?: string };
    return e.code && !e.message.includes(e.code) ? `${e.code}: ${e.message}` : e.message || String(err);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `deploy/infra.sh up COMPONENT` in its own process group, so a Ctrl-C here does not cut it off half-way. */
function infraUp(component: string): Promise<{ code: number; stdout: string }> {
  return new Promise((done) => {
    const child = spawn('bash', [INFRA, 'up', component], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    child.on('error', (err) => { process.stderr.write(`[infra] error: ${err.message}\n`); done({ code: 1, stdout }); });
    child.on('close', (code) => done({ code: code ?? 1, stdout }));
  });
}

async function main(): Promise<void> {
  const [kind, name, ...args] = process.argv.slice(2);
  const dir = kind === 'bench' || kind === 'chaos' ? join(ROOT, 'test', kind) : ROOT;
  const available = readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3));
  const plan = planRun(kind, name, available);
  if (!plan.ok) {
    console.error(plan.message);
    process.exit(2);
  }
  const tag = `[${plan.kind}]`;
  console.error(`${tag} ${plan.name} needs ${plan.servers.length ? plan.servers.join(', ') : 'no servers'}`);

  if (plan.servers.includes('postgres')) {
    const { loadConfig } = await import('../services/common/config.js');
    const { DATABASE_ENV } = await import('../services/common/infra-config.js');
    const url = loadConfig(DATABASE_ENV).DATABASE_URL;
    const problem = await postgresProblem(url);
    if (problem !== null) {
      console.error(postgresMissing(plan.kind, plan.name, url, problem));
      process.exit(1);
    }
  }

  // The scripts reach the servers infra.sh starts (it honours KAFKA_PORT and REGISTRY_PORT), as in test/run.sh.
  process.env.KAFKA_BROKERS ||= `127.0.0.1:${process.env.KAFKA_PORT || 9092}`;
  process.env.SCHEMA_REGISTRY_URL ||= `http://127.0.0.1:${process.env.REGISTRY_PORT || 8081}/apis/ccompat/v7`;

  const started: string[] = [];
  const stopStarted = (): void => {
    for (const c of started.splice(0).reverse()) {
      console.error(`${tag} stopping ${c} (started for this run)`);
      spawnSync('bash', [INFRA, 'down', c], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    }
  };
  let starting = false;
  let interrupted: NodeJS.Signals | null = null;
  const exitOnSignal = (signal: NodeJS.Signals): never => {
    stopStarted();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // A Ctrl-C reaches this process twice (from the terminal and forwarded by npm): only the first counts.
    process.on(signal, () => {
      if (interrupted) return;
      interrupted = signal;
      if (starting) console.error(`${tag} interrupted: stopping what was started once the server being started is up`);
      else exitOnSignal(signal);
    });
  }

  for (const component of plan.servers.filter((s) => s !== 'postgres')) {
    starting = true;
    const up = await infraUp(component);
    starting = false;
    started.push(...startedComponents(up.stdout));
    for (const line of up.stdout.trim().split('\n').filter(Boolean)) console.error(`${tag} ${line}`);
    if (interrupted) exitOnSignal(interrupted);
    if (up.code !== 0) {
      stopStarted();
      console.error(infraFailed(plan.kind, plan.name, component));
      process.exit(1);
    }
  }

  let result: object;
  try {
    const run = (await import(join(dir, `${plan.name}.ts`))) as { default: (args: string[]) => Promise<object> };
    result = await run.default(args);
  } catch (err) {
    console.error(err);
    stopStarted();
    process.exit(1);
  }
  console.log(JSON.stringify(result));
  stopStarted();
  process.exit(0);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main();
