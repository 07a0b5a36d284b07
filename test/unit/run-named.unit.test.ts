import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { infraFailed, planRun, postgresMissing, redactUrl, SERVERS, startedComponents, type Kind, type Server } from '../run-named.js';

const scripts = (kind: Kind) => readdirSync(join('test', kind)).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3));

test('every bench and chaos script is in the table, with the servers its source reaches', () => {
  for (const kind of ['bench', 'chaos'] as const) {
    assert.deepEqual(Object.keys(SERVERS[kind]).sort(), scripts(kind).sort(), `SERVERS.${kind} lists exactly test/${kind}/*.ts`);
    for (const name of scripts(kind)) {
      const source = readFileSync(join('test', kind, `${name}.ts`), 'utf8');
      const expected: Server[] = [];
      if (/\bKAFKA_ENV\b/.test(source)) expected.push('kafka', 'registry');
      if (/\b(createTestDatabase|DATABASE_ENV|createPool)\b/.test(source)) expected.push('postgres');
      assert.deepEqual([...SERVERS[kind][name]!], expected, `${kind} ${name}`);
    }
  }
});

test('names that reach servers start them; the learner bench starts none', () => {
  const bench = scripts('bench');
  assert.deepEqual(planRun('bench', 'learner', bench), { ok: true, kind: 'bench', name: 'learner', servers: [] });
  assert.deepEqual(planRun('bench', 'ingest', bench), { ok: true, kind: 'bench', name: 'ingest', servers: ['kafka', 'registry'] });
  assert.deepEqual(planRun('bench', 'freshness', bench), { ok: true, kind: 'bench', name: 'freshness', servers: ['kafka', 'registry', 'postgres'] });
  assert.deepEqual(planRun('chaos', 'sessionizer', scripts('chaos')), { ok: true, kind: 'chaos', name: 'sessionizer', servers: ['kafka', 'registry'] });
  // A script added without a table entry gets every server rather than connection-refused errors.
  assert.deepEqual(planRun('bench', 'new-one', ['new-one']), { ok: true, kind: 'bench', name: 'new-one', servers: ['kafka', 'registry', 'postgres'] });
});

test('an unknown or missing name is one line listing the known names', () => {
  const r = planRun('bench', 'no-such-name', ['serving', 'ingest', 'learner']);
  assert.deepEqual(r, { ok: false, message: "unknown bench 'no-such-name': known names are ingest, learner, serving" });
  const u = planRun('chaos', undefined, ['sessionizer']);
  assert.equal(u.ok, false);
  assert.match(!u.ok ? u.message : '', /^usage: npm run chaos -- NAME \[args…\], NAME one of: sessionizer$/);
  assert.equal(planRun('perf', 'x', []).ok, false);
});

test('only components infra.sh reports as started are stopped afterwards', () => {
  assert.deepEqual(startedComponents('kafka started\n'), ['kafka']);
  assert.deepEqual(startedComponents('kafka reused\nregistry started\n'), ['registry']);
  assert.deepEqual(startedComponents('kafka reused\n'), []);
  assert.deepEqual(startedComponents(''), []);
});

test('the messages are one line, name the server and the command that starts it, and hide passwords', () => {
  const pg = postgresMissing('bench', 'freshness', 'postgresql://u:secret@db:5432/x', 'connect ECONNREFUSED 127.0.0.1:5432');
  assert.doesNotMatch(pg, /\n/);
  assert.doesNotMatch(pg, /secret/);
  assert.match(pg, /needs Postgres, which does not answer at DATABASE_URL=postgresql:\/\/u:\*\*\*@db:5432\/x \(connect ECONNREFUSED/);
  assert.match(pg, /sudo service postgresql start/);
  const k = infraFailed('chaos', 'sessionizer', 'kafka');
  assert.doesNotMatch(k, /\n/);
  assert.match(k, /needs the Kafka broker, which did not start .*`bash deploy\/infra\.sh up kafka`/);
  assert.match(infraFailed('bench', 'serving', 'registry'), /the schema registry.*`bash deploy\/infra\.sh up registry`/);
  assert.equal(redactUrl('postgresql://postgres@127.0.0.1:5432/test'), 'postgresql://postgres@127.0.0.1:5432/test');
  assert.equal(redactUrl('not a url'), '(unparsable URL)');
});
