import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { inspect, promisify } from 'node:util';
import { test } from 'node:test';
import { DeepChainError, EVENT_TYPES } from '../../services/common/index.js';
import { BEHAVIOUR_EVENT_TYPES, loadGatewayConfig } from '../../services/gateway/config.js';

const scopes = (config: ReturnType<typeof loadGatewayConfig>) =>
  Object.fromEntries(config.GATEWAY_API_KEYS.map((p) => [p.name, [...p.eventTypes]]));

test('defaults apply and keys are parsed per producer', () => {
  const config = loadGatewayConfig({ GATEWAY_API_KEYS: 'web=0123456789abcdef,ios=fedcba9876543210' });
  assert.deepEqual(config.GATEWAY_API_KEYS.map((p) => [p.name, p.key]), [['web', '0123456789abcdef'], ['ios', 'fedcba9876543210']]);
  assert.equal(config.HTTP_PORT, 8080);
  assert.equal(config.TOPIC_PREFIX, '');
  assert.equal(config.GATEWAY_MAX_BATCH_EVENTS, 500);
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.GATEWAY_API_KEYS) && Object.isFrozen(config.GATEWAY_API_KEYS[0]));
});

test('a key without a scope may send only user behaviour; recommendation needs an explicit scope', () => {
  assert.deepEqual(BEHAVIOUR_EVENT_TYPES, ['click', 'skip', 'page_change', 'leave', 'add_to_cart', 'purchase']);
  const config = loadGatewayConfig({
    GATEWAY_API_KEYS: 'web=0123456789abcdef, server[recommendation+behaviour]=fedcba9876543210,ranker[recommendation]=0000111122223333,'
      + 'beacon[click + skip]=4444555566667777',
  });
  assert.deepEqual(scopes(config), {
    web: BEHAVIOUR_EVENT_TYPES,
    server: EVENT_TYPES,
    ranker: ['recommendation'],
    beacon: ['click', 'skip'],
  });
  assert.equal(config.GATEWAY_API_KEYS[1]!.key, 'fedcba9876543210');
});

test('the keys never show when the config is printed, logged as JSON or inspected', () => {
  const config = loadGatewayConfig({ GATEWAY_API_KEYS: 'web=0123456789abcdef,server[recommendation]=fedcba9876543210' });
  for (const text of [JSON.stringify(config), inspect(config, { depth: 10 }), String(Object.values(config.GATEWAY_API_KEYS[0]!))]) {
    assert.doesNotMatch(text, /0123456789abcdef|fedcba9876543210/);
  }
  assert.match(JSON.stringify(config), /"name":"server"/);
});

test('bad values are refused with the variable named and no key echoed', () => {
  const cases: [NodeJS.ProcessEnv, RegExp][] = [
    [{}, /GATEWAY_API_KEYS is missing/],
    [{ GATEWAY_API_KEYS: 'web=short-secret' }, /GATEWAY_API_KEYS is invalid: .*too short/],
    [{ GATEWAY_API_KEYS: 'a=0123456789abcdef,b=0123456789abcdef' }, /GATEWAY_API_KEYS is invalid: entries 1 and 2 share a key/],
    [{ GATEWAY_API_KEYS: 'web=0123456789abcdef,web=fedcba9876543210' }, /GATEWAY_API_KEYS is invalid: entries 1 and 2 have the same producer name/],
    [{ GATEWAY_API_KEYS: 'no-equals-sign-here' }, /GATEWAY_API_KEYS is invalid: entry 1 has no '='/],
    [{ GATEWAY_API_KEYS: 'web=0123456789abcdef,=fedcba9876543210' }, /GATEWAY_API_KEYS is invalid: entry 2: the part before '=' must be a name/],
    [{ GATEWAY_API_KEYS: 'web[click=0123456789abcdef' }, /GATEWAY_API_KEYS is invalid: entry 1: the part before '=' must be a name or name\[types\]/],
    [{ GATEWAY_API_KEYS: 'web=0123456789abcdef,srv[recomendation]=fedcba9876543210' },
      /GATEWAY_API_KEYS is invalid: entry 2 \(producer 'srv'\): unknown event type 'recomendation' in its scope \(expected recommendation, click, .* or behaviour\)/],
    [{ GATEWAY_API_KEYS: 'srv[]=fedcba9876543210' }, /entry 1 \(producer 'srv'\): empty scope/],
    [{ GATEWAY_API_KEYS: 'srv[click+]=fedcba9876543210' }, /entry 1 \(producer 'srv'\): empty scope or empty name/],
    [{ GATEWAY_API_KEYS: ' , ' }, /GATEWAY_API_KEYS is invalid: no entry/],
    [{ GATEWAY_API_KEYS: 'web=0123456789abcdef', GATEWAY_BODY_LIMIT_BYTES: '10' }, /GATEWAY_BODY_LIMIT_BYTES is invalid: expected an integer from 1024/],
    [{ GATEWAY_API_KEYS: 'web=0123456789abcdef', GATEWAY_MAX_BATCH_EVENTS: 'many' }, /GATEWAY_MAX_BATCH_EVENTS is invalid/],
    // A key written without its name: the text before its first '=' would be the "name"; errors show positions, not names.
    [{ GATEWAY_API_KEYS: 'web=0123456789abcdef,c2VjcmV0LWtleS1ieXRlcw==' }, /GATEWAY_API_KEYS is invalid: entry 2: the key is too short/],
  ];
  for (const [source, message] of cases) {
    assert.throws(() => loadGatewayConfig(source), (err: DeepChainError) => {
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.match(err.message, message);
      assert.doesNotMatch(err.message, /short-secret|0123456789abcdef|fedcba9876543210|c2VjcmV0/);
      return true;
    });
  }
});

test('the gateway process refuses a bad variable next to its keys at start: exit 1, the variable named, no key printed', async () => {
  const run = promisify(execFile)(process.execPath, ['--import', 'tsx', 'services/gateway/main.ts'], {
    env: { ...process.env, GATEWAY_API_KEYS: 'web=0123456789abcdef,server[recommendation]=fedcba9876543210', HTTP_PORT: 'eighty', LOG_LEVEL: 'info' },
    cwd: new URL('../..', import.meta.url),
    timeout: 60_000,
  });
  await assert.rejects(run, (err: { code: number; stdout: string; stderr: string }) => {
    assert.equal(err.code, 1);
    assert.match(err.stderr, /gateway: .*HTTP_PORT is invalid/);
    assert.doesNotMatch(err.stdout + err.stderr, /0123456789abcdef|fedcba9876543210/);
    return true;
  });
});
