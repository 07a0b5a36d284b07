import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEFAULT_HISTORY_LENGTH, DEFAULT_REWARDS, DeepChainError, env, HISTORY_ENV, loadConfig, describeConfig, REWARD_ENV, TOPIC_ENV,
  topicDeclarations, topicReplication,
} from '../../services/common/index.js';
import { LEARNER_ENV, loadLearnerConfig } from '../../services/learner/config.js';
import { loadServingConfig, SERVING_ENV } from '../../services/serving/config.js';
import { loadSessionizerConfig, SESSIONIZER_ENV, settingsOf } from '../../services/sessionizer/config.js';
import { DEFAULT_SETTINGS } from '../../services/sessionizer/state.js';

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

test('topic replication: 1 and 1 by default, parsed from TOPIC_REPLICATION_FACTOR and TOPIC_MIN_INSYNC_REPLICAS', () => {
  assert.deepEqual(topicReplication(loadConfig(TOPIC_ENV, {})), { replicationFactor: 1, minInsyncReplicas: 1 });
  assert.deepEqual(
    topicReplication(loadConfig(TOPIC_ENV, { TOPIC_REPLICATION_FACTOR: '3', TOPIC_MIN_INSYNC_REPLICAS: '2' })),
    { replicationFactor: 3, minInsyncReplicas: 2 },
  );
});

test('a wrong replication value is an error naming the variable', () => {
  assert.throws(
    () => loadConfig(TOPIC_ENV, { TOPIC_REPLICATION_FACTOR: 'three', TOPIC_MIN_INSYNC_REPLICAS: '0' }),
    (err: unknown) => {
      assert.ok(err instanceof DeepChainError);
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.match(err.message, /TOPIC_REPLICATION_FACTOR is invalid: expected an integer from 1 to 32/);
      assert.match(err.message, /TOPIC_MIN_INSYNC_REPLICAS is invalid: expected an integer from 1 to 32/);
      return true;
    },
  );
  assert.throws(
    () => topicReplication(loadConfig(TOPIC_ENV, { TOPIC_REPLICATION_FACTOR: '1', TOPIC_MIN_INSYNC_REPLICAS: '2' })),
    (err: unknown) => {
      assert.ok(err instanceof DeepChainError);
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.match(err.message, /TOPIC_MIN_INSYNC_REPLICAS is invalid: expected at most TOPIC_REPLICATION_FACTOR \(1\)/);
      return true;
    },
  );
});

test('the sessionizer, which creates missing topics, reads both variables and refuses a pair that disagrees', () => {
  const c = loadSessionizerConfig({ TOPIC_REPLICATION_FACTOR: '3', TOPIC_MIN_INSYNC_REPLICAS: '2' });
  assert.deepEqual(topicReplication(c), { replicationFactor: 3, minInsyncReplicas: 2 });
  assert.throws(() => loadSessionizerConfig({ TOPIC_REPLICATION_FACTOR: '2', TOPIC_MIN_INSYNC_REPLICAS: '3' }), /TOPIC_MIN_INSYNC_REPLICAS is invalid/);
  assert.throws(() => loadSessionizerConfig({ TOPIC_REPLICATION_FACTOR: '0' }), /TOPIC_REPLICATION_FACTOR is invalid/);
});

test('topics are declared with the configured replication factor and min.insync.replicas', () => {
  const minIsr = (t: { configEntries?: { name: string; value: string }[] }) => t.configEntries?.find((e) => e.name === 'min.insync.replicas')?.value;
  for (const t of topicDeclarations()) {
    assert.equal(t.replicationFactor, 1);
    assert.equal(minIsr(t), '1');
  }
  const production = topicDeclarations('p.', { replicationFactor: 3, minInsyncReplicas: 2 });
  assert.equal(production.length, 5);
  for (const t of production) {
    assert.ok(t.topic.startsWith('p.'));
    assert.equal(t.replicationFactor, 3);
    assert.equal(minIsr(t), '2');
  }
});

test('the sessionizer and the learner read the same reward variables into the same rewards', () => {
  for (const name of Object.keys(REWARD_ENV)) {
    assert.equal(SESSIONIZER_ENV[name as keyof typeof SESSIONIZER_ENV], REWARD_ENV[name as keyof typeof REWARD_ENV], `sessionizer declares ${name} from REWARD_ENV`);
    assert.equal(LEARNER_ENV[name as keyof typeof LEARNER_ENV], REWARD_ENV[name as keyof typeof REWARD_ENV], `learner declares ${name} from REWARD_ENV`);
  }
  assert.deepEqual(loadLearnerConfig({}).rewards, DEFAULT_REWARDS);
  assert.deepEqual(settingsOf(loadSessionizerConfig({})).rewards, DEFAULT_REWARDS);
  const source = { SESSIONIZER_REWARD_CLICK: '2', SESSIONIZER_REWARD_SKIP: '-0.5', SESSIONIZER_REWARD_LEAVE: '-5', SESSIONIZER_REWARD_PURCHASE: '10' };
  const expected = { click: 2, skip: -0.5, leave: -5, purchase: 10 };
  assert.deepEqual(loadLearnerConfig(source).rewards, expected);
  assert.deepEqual(settingsOf(loadSessionizerConfig(source)).rewards, expected);
  assert.ok(Object.isFrozen(loadLearnerConfig(source).rewards));
});

test('the sessionizer, the learner and serving read one history length N from the shared HISTORY_LENGTH', () => {
  for (const [service, spec] of [['sessionizer', SESSIONIZER_ENV], ['learner', LEARNER_ENV], ['serving', SERVING_ENV]] as const) {
    assert.equal((spec as Record<string, unknown>).HISTORY_LENGTH, HISTORY_ENV.HISTORY_LENGTH, `${service} declares HISTORY_LENGTH from HISTORY_ENV`);
    assert.ok(!Object.keys(spec).some((name) => name !== 'HISTORY_LENGTH' && name.endsWith('HISTORY_LENGTH')), `${service} declares no other history length`);
  }
  assert.equal(DEFAULT_SETTINGS.historyLength, DEFAULT_HISTORY_LENGTH, 'the sessionizer\'s default N is the shared one');
  assert.equal(settingsOf(loadSessionizerConfig({})).historyLength, DEFAULT_HISTORY_LENGTH);
  assert.equal(loadLearnerConfig({}).HISTORY_LENGTH, DEFAULT_HISTORY_LENGTH);
  assert.equal(loadServingConfig({}).HISTORY_LENGTH, DEFAULT_HISTORY_LENGTH);
  const source = { HISTORY_LENGTH: '12' };
  assert.equal(settingsOf(loadSessionizerConfig(source)).historyLength, 12);
  assert.equal(loadLearnerConfig(source).HISTORY_LENGTH, 12);
  assert.equal(loadServingConfig(source).HISTORY_LENGTH, 12);
  // The old sessionizer-only variable is gone: a deployment still setting it is told which one to set.
  assert.throws(() => loadSessionizerConfig({ SESSIONIZER_HISTORY_LENGTH: '7' }), (err: DeepChainError) =>
    err.code === 'CONFIG_INVALID' && /SESSIONIZER_HISTORY_LENGTH is no longer read: set HISTORY_LENGTH/.test(err.message));
  for (const load of [loadLearnerConfig, loadSessionizerConfig, loadServingConfig]) {
    assert.throws(() => load({ HISTORY_LENGTH: '0' }), (err: DeepChainError) => err.code === 'CONFIG_INVALID' && /HISTORY_LENGTH is invalid/.test(err.message));
  }
});

test('a bad reward value is an error naming the variable, in both services', () => {
  for (const load of [loadLearnerConfig, loadSessionizerConfig]) {
    assert.throws(() => load({ SESSIONIZER_REWARD_LEAVE: 'minus two', SESSIONIZER_REWARD_CLICK: 'Infinity' }), (err: unknown) => {
      assert.ok(err instanceof DeepChainError);
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.match(err.message, /SESSIONIZER_REWARD_LEAVE is invalid: expected a number/);
      assert.match(err.message, /SESSIONIZER_REWARD_CLICK is invalid: expected a number/);
      return true;
    });
  }
});

test('the sessionizer refuses a user retention shorter than the session timeout, naming both', () => {
  assert.equal(settingsOf(loadSessionizerConfig({})).userRetentionMs, 7 * 24 * 3_600_000);
  assert.equal(settingsOf(loadSessionizerConfig({ SESSIONIZER_USER_RETENTION_MS: '3600000' })).userRetentionMs, 3_600_000);
  assert.throws(
    () => loadSessionizerConfig({ SESSIONIZER_USER_RETENTION_MS: '60000', SESSIONIZER_SESSION_TIMEOUT_MS: '120000' }),
    /SESSIONIZER_USER_RETENTION_MS \(60000\) is shorter than SESSIONIZER_SESSION_TIMEOUT_MS \(120000\)/,
  );
});
