import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

const deepchain = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, ['services/cli/bin.mjs', ...args], { encoding: 'utf8', env: { ...process.env, ...env } });

test('deepchain --help lists the commands and the environment it reads', () => {
  const r = deepchain(['--help']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Usage: deepchain/);
  assert.match(r.stdout, /migrate/);
  assert.match(r.stdout, /topics/);
  assert.match(r.stdout, /DATABASE_URL: a URL \(postgres, postgresql\)/);
});

test('a bad variable stops the command with an error that names it, and does not echo its value', () => {
  const r = deepchain(['migrate'], { DATABASE_URL: 'mysql://secret-pw@h/d' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /DATABASE_URL is invalid: expected a URL \(postgres, postgresql\)/);
  assert.doesNotMatch(r.stderr, /secret-pw/);
});

test('an unknown command is refused with help', () => {
  const r = deepchain(['frobnicate']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
});
