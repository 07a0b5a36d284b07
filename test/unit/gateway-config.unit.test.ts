import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeepChainError } from '../../services/common/index.js';
import { loadGatewayConfig } from '../../services/gateway/config.js';

test('defaults apply and keys are parsed per producer', () => {
  const config = loadGatewayConfig({ GATEWAY_API_KEYS: 'web=0123456789abcdef,ios=fedcba9876543210' });
  assert.deepEqual(config.GATEWAY_API_KEYS, { web: '0123456789abcdef', ios: 'fedcba9876543210' });
  assert.equal(config.HTTP_PORT, 8080);
  assert.equal(config.TOPIC_PREFIX, '');
  assert.equal(config.GATEWAY_MAX_BATCH_EVENTS, 500);
  assert.ok(Object.isFrozen(config));
});

test('bad values are refused with the variable named and no key echoed', () => {
  const cases: [NodeJS.ProcessEnv, RegExp][] = [
    [{}, /GATEWAY_API_KEYS is missing/],
    [{ GATEWAY_API_KEYS: 'web=short-secret' }, /GATEWAY_API_KEYS is invalid: .*too short/],
    [{ GATEWAY_API_KEYS: 'a=0123456789abcdef,b=0123456789abcdef' }, /GATEWAY_API_KEYS is invalid: .*share a key/],
    [{ GATEWAY_API_KEYS: 'no-equals-sign-here' }, /GATEWAY_API_KEYS is invalid/],
    [{ GATEWAY_API_KEYS: 'web=0123456789abcdef', GATEWAY_BODY_LIMIT_BYTES: '10' }, /GATEWAY_BODY_LIMIT_BYTES is invalid: expected an integer from 1024/],
    [{ GATEWAY_API_KEYS: 'web=0123456789abcdef', GATEWAY_MAX_BATCH_EVENTS: 'many' }, /GATEWAY_MAX_BATCH_EVENTS is invalid/],
  ];
  for (const [source, message] of cases) {
    assert.throws(() => loadGatewayConfig(source), (err: DeepChainError) => {
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.match(err.message, message);
      assert.doesNotMatch(err.message, /short-secret|0123456789abcdef/);
      return true;
    });
  }
});
