import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeepChainError, env, loadConfig, describeConfig } from '../../services/common/index.js';

const spec = {
  PORT: env.int({ min: 1, max: 65535, default: 8080 }),
  BROKERS: env.hostPorts(),
  MODE: env.oneOf(['a', 'b'] as const, 'a'),
  RATE: env.number({ min: 0, max: 1, default: 0.5 }),
  KEYS: env.pairs({}),
  ON: env.bool(false),
  DB: env.url(['postgres', 'postgresql'], 'postgresql://x@127.0.0.1/test'),
};

test('defaults fill unset variables and values are parsed to their types', () => {
  const c = loadConfig(spec, { BROKERS: 'a:1, b:2', KEYS: 'web=s3cret,app=k2', ON: 'true' });
  assert.deepEqual(c, {
    PORT: 8080, BROKERS: ['a:1', 'b:2'], MODE: 'a', RATE: 0.5, KEYS: { web: 's3cret', app: 'k2' }, ON: true,
    DB: 'postgresql://x@127.0.0.1/test',
  });
  assert.ok(Object.isFrozen(c));
});

test('every bad or missing variable is named with what it expects, and secrets are not echoed', () => {
  assert.throws(
    () => loadConfig(spec, { PORT: '70000', MODE: 'c', RATE: 'abc', KEYS: 'web', ON: 'maybe', DB: 'mysql://h/d' }),
    (err: unknown) => {
      assert.ok(err instanceof DeepChainError);
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.match(err.message, /PORT is invalid: expected an integer from 1 to 65535/);
      assert.match(err.message, /BROKERS is missing: expected a comma-separated list of host:port/);
      assert.match(err.message, /MODE is invalid: expected one of a, b/);
      assert.match(err.message, /RATE is invalid: expected a number from 0 to 1/);
      assert.match(err.message, /KEYS is invalid: expected comma-separated name=value pairs/);
      assert.match(err.message, /ON is invalid: expected true or false/);
      assert.match(err.message, /DB is invalid: expected a URL \(postgres, postgresql\)/);
      assert.doesNotMatch(err.message, /70000|mysql/);
      return true;
    },
  );
});

test('integers reject fractions and trailing junk', () => {
  assert.throws(() => loadConfig({ N: env.int() }, { N: '1.5' }), /N is invalid/);
  assert.throws(() => loadConfig({ N: env.int() }, { N: '12abc' }), /N is invalid/);
});

test('describeConfig lists each variable with its default', () => {
  const lines = describeConfig(spec);
  assert.ok(lines.includes('PORT: an integer from 1 to 65535 (default 8080)'));
  assert.ok(lines.includes('BROKERS: a comma-separated list of host:port (required)'));
});
