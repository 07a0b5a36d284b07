import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  createLogger, createPool, DATABASE_ENV, DeepChainError, env, loadConfig, scrubSecrets, scrubSecretsIn, type Logger,
} from '../../services/common/index.js';
import { parseDemoArgs } from '../../services/demo/options.js';
import { writeReport, type DemoRun } from '../../services/demo/report.js';

const PASSWORD = 'Hunter2-db-Pa55word';
const KEY = 'web-key-0123456789-secret';

function capture(options: { secrets?: string[] } = {}): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger('test', 'info', { ...options, destination: { write: (line: string) => { lines.push(line); } } });
  return { logger, lines };
}

function assertNoSecret(lines: readonly string[], ...secrets: string[]) {
  assert.ok(lines.length > 0, 'something was logged');
  for (const line of lines) {
    JSON.parse(line); // still one JSON object per line after scrubbing
    for (const secret of secrets) assert.ok(!line.includes(secret), `secret in: ${line}`);
  }
}

test('scrubSecrets blanks the password of every URL in a text and keeps the rest', () => {
  const cases: [string, string][] = [
    [`postgresql://deepchain:${PASSWORD}@db:5432/deepchain`, 'postgresql://deepchain:[redacted]@db:5432/deepchain'],
    [`connect postgres://:${PASSWORD}@db/x failed; retry http://u:p%40ss@registry:8081/apis`, 'connect postgres://:[redacted]@db/x failed; retry http://u:[redacted]@registry:8081/apis'],
    ['postgresql://u:p@ss:w0rd@db/x', 'postgresql://u:[redacted]@db/x'],
    ['postgresql://postgres@127.0.0.1:5432/test', 'postgresql://postgres@127.0.0.1:5432/test'],
    ['http://127.0.0.1:8081/apis/ccompat/v7 and user@example.com', 'http://127.0.0.1:8081/apis/ccompat/v7 and user@example.com'],
    ['{"url":"postgresql://u:a\\"b@db/x","n":1}', '{"url":"postgresql://u:[redacted]@db/x","n":1}'],
    ['no url here: a:b@c', 'no url here: a:b@c'],
  ];
  for (const [text, expected] of cases) assert.equal(scrubSecrets(text), expected);
  assert.deepEqual(scrubSecretsIn({ a: [`postgres://u:${PASSWORD}@h/d`, 3], b: { c: null, d: true } }), { a: ['postgres://u:[redacted]@h/d', 3], b: { c: null, d: true } });
});

test('a logged Postgres connection error, its cause and the pool options carry no password', async () => {
  const url = `postgresql://deepchain:${PASSWORD}@127.0.0.1:1/deepchain`;
  const pool = createPool(url, 1);
  const err = await pool.query('SELECT 1').then(() => assert.fail('port 1 answered'), (e: unknown) => e as Error);
  await pool.end();
  const { logger, lines } = capture();
  const wrapped = new DeepChainError('DATABASE_UNAVAILABLE', `registry at ${url}: ${err.message}`, { cause: err });
  logger.error({ err: wrapped, databaseUrl: url, pool: pool.options }, `cannot reach ${url}`);
  logger.warn({ err }, 'idle Postgres connection lost');
  try {
    new URL(`postgresql://deepchain:${PASSWORD}@bad host/deepchain`);
  } catch (bad) {
    logger.error({ err: bad }, 'bad DATABASE_URL'); // Node's ERR_INVALID_URL carries the whole URL as `input`
  }
  assertNoSecret(lines, PASSWORD);
  assert.match(lines[0]!, /postgresql:\/\/deepchain:\[redacted\]@127\.0\.0\.1:1\/deepchain/, 'user, host and database stay readable');
  assert.match(lines[0]!, /ECONNREFUSED/);
  assert.match(lines[2]!, /"input":"postgresql:\/\/deepchain:\[redacted\]@bad host/);
});

test('fields and headers that hold secrets are redacted wherever a log call puts them', () => {
  const { logger, lines } = capture();
  logger.info({ headers: { authorization: `Bearer ${KEY}`, 'x-api-key': KEY, accept: 'json' } }, 'request');
  logger.info({ req: { headers: { 'x-api-key': KEY, cookie: `s=${KEY}` } } }, 'request');
  logger.info({ config: { GATEWAY_API_KEYS: `web=${KEY}`, password: PASSWORD }, apiKey: KEY }, 'config');
  assertNoSecret(lines, KEY, PASSWORD);
  assert.match(lines[0]!, /"accept":"json"/);
});

test("a service's literal secrets (the gateway's producer keys) are blanked in any line, messages and errors included", () => {
  const { logger, lines } = capture({ secrets: [KEY, 'srv"key\\0123456789'] });
  logger.error({ err: new Error(`rejected key ${KEY}`) }, `key ${KEY} refused`);
  logger.info({ note: 'srv"key\\0123456789' }, 'escaped in JSON');
  logger.child({ reqId: 'req-1' }).warn({ url: `postgres://u:${PASSWORD}@h/d` }, `child logger: ${KEY}`); // fastify's request loggers are children
  assertNoSecret(lines, KEY, 'srv\\"key\\\\0123456789', PASSWORD);
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /rejected key \[redacted\]/);
});

test('a start-up config error next to a password names the bad variable and echoes no value', () => {
  const spec = { ...DATABASE_ENV, LEARNER_BATCH: env.int({ min: 1 }) };
  assert.throws(() => loadConfig(spec, { DATABASE_URL: `postgresql://deepchain:${PASSWORD}@db:5432/x`, LEARNER_BATCH: 'lots' }), (err: Error) => {
    assert.match(err.message, /LEARNER_BATCH is invalid/);
    assert.ok(!err.message.includes(PASSWORD));
    return true;
  });
  assert.throws(() => loadConfig(spec, { DATABASE_URL: `mysql://deepchain:${PASSWORD}@db/x`, LEARNER_BATCH: '1' }), (err: Error) => {
    assert.match(err.message, /DATABASE_URL is invalid/);
    assert.ok(!err.message.includes(PASSWORD));
    return true;
  });
});

test("the demo's summary.json carries the database URL without its password", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'deepchain-report-'));
  try {
    const settings = parseDemoArgs(['--out', dir, '--kafka', '127.0.0.1:9092', '--database-url', `postgresql://deepchain:${PASSWORD}@db:5432/demo`], 'http://127.0.0.1:8081/apis/ccompat/v7');
    const run: DemoRun = {
      mode: 'kafka', startedAt: 0, endedAt: 60_000, transitions: 0, steps: null, checks: {}, versions: [],
      sessions: Array.from({ length: 20 }, (_, i) => ({
        userId: `u${i}`, sessionId: `s${i}`, startedAt: i, endedAt: i + 1, reward: i % 3, clicks: 0, purchases: 0, pages: 1, fallbackPages: 0, errors: 0, modelVersion: 0,
      })),
    };
    await writeReport(run, settings);
    const summary = await readFile(join(dir, 'summary.json'), 'utf8');
    assert.ok(!summary.includes(PASSWORD), 'no password in summary.json');
    assert.equal((JSON.parse(summary) as { settings: { databaseUrl: string } }).settings.databaseUrl, 'postgresql://deepchain:[redacted]@db:5432/demo');
    assert.equal(settings.databaseUrl, `postgresql://deepchain:${PASSWORD}@db:5432/demo`, 'the settings themselves are untouched');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
