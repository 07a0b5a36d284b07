import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, test } from 'node:test';
import { createKafka } from '../../services/common/index.js';
import { deleteTestTopics, servers, testLogger, uniquePrefix } from '../support/servers.js';

const prefix = uniquePrefix('cli');
const deepchain = (args: string[]) =>
  spawnSync(process.execPath, ['services/cli/bin.mjs', ...args], {
    encoding: 'utf8',
    env: { ...process.env, TOPIC_PREFIX: prefix },
  });

after(() => deleteTestTopics(createKafka({ brokers: servers.KAFKA_BROKERS, clientId: 'test-cli', logger: testLogger }), prefix));

test('deepchain topics creates the declared topics once and registers their schemas', async () => {
  const first = deepchain(['topics']);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, new RegExp(`created: .*${prefix.replace(/\./g, '\\.')}events`));
  const second = deepchain(['topics']);
  assert.equal(second.status, 0, second.stderr);
  assert.match(second.stdout, /created: none/);
  // Asked subject by subject: the registry's list of all subjects is capped, and a whole test run registers many.
  for (const t of ['events', 'transitions', 'models', 'dead-letters']) {
    const res = await fetch(`${servers.SCHEMA_REGISTRY_URL}/subjects/${prefix}${t}-value/versions`);
    const body = await res.text();
    assert.equal(res.status, 200, `subject ${prefix}${t}-value: ${body}`);
    assert.deepEqual(JSON.parse(body), [1], `${t}: one version registered`);
  }
});

test('deepchain migrate reports what it applied, then that all is up to date', () => {
  // The shared test database may already be migrated, wholly or up to an older migration, by an earlier run.
  const first = deepchain(['migrate']);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /^(applied: \d{3}_\w+(, \d{3}_\w+)*|up to date)$/m);
  const second = deepchain(['migrate']);
  assert.equal(second.status, 0, second.stderr);
  assert.equal(second.stdout.trim(), 'up to date');
});
