/** The online test end to end on a tiny world (pure, in process): every model, common random numbers, paired comparisons. */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { selectBackend } from '../../services/model/index.js';
import { DEFAULT_OFFLINE } from '../../services/eval/offline.js';
import { LOGGING_POLICY, loggingPolicy, runOnline, type OnlineConfig } from '../../services/eval/online.js';
import { DEFAULT_WALK, oraclePolicy, runSessions, SIMULATOR_REWARDS, World } from '../../services/simulator/index.js';
import { MODEL_NAMES } from '../../services/eval/models.js';

before(async () => {
  await selectBackend({ prefer: 'wasm' });
});

test('the logging policy explores: with ε = 0 it is its ranker, with ε = 1 its pages differ, and it never repeats an item on a page', () => {
  const world = new World({ seed: 2, items: 60, users: 20, clusters: 4, dimension: 8 });
  const walk = (policy: Parameters<typeof runSessions>[1]) => runSessions(world, policy, { sessions: 40, seed: 3, k: 5 }).flatMap((s) => s.records.map((r) => r.shown));
  const ranker = walk(oraclePolicy(world, { objective: 'shared', lookahead: false }, DEFAULT_WALK, SIMULATOR_REWARDS));
  const pages = (epsilon: number) => walk(loggingPolicy(world, DEFAULT_WALK, SIMULATOR_REWARDS, epsilon, 1));
  assert.deepEqual(pages(0), ranker);
  const explored = pages(1);
  assert.notDeepEqual(explored.slice(0, 5), ranker.slice(0, 5));
  for (const shown of [...pages(0.5), ...explored]) assert.equal(new Set(shown).size, shown.length);
});

test('runOnline trains every model on the logs, serves the same test sessions to each, and pairs DeepChain with the others', async () => {
  const models = MODEL_NAMES.filter((m) => m !== 'logged');
  const config: OnlineConfig = {
    seeds: [1, 2], models, world: { items: 60, users: 30, clusters: 4, dimension: 8 }, walk: {}, rewards: SIMULATOR_REWARDS, k: 4,
    logSessions: 60, logEpsilon: 0.5, testSessions: 12, maxValidationViews: 40,
    training: {
      ...DEFAULT_OFFLINE, budget: 0.004, attention: false, bootstrap: { resamples: 200, seed: 1 },
      sizes: { historyLength: 4, deepchain: { hiddenSize: 4, attentionSize: 3, headHidden: [4], batchSize: 8, gamma: 0.95 }, baselines: { hiddenSize: 4, mlpHidden: [4], batchSize: 8, fmFactors: 2 } },
      embedding: { dimension: 4, epochs: 1, lists: false, center: true },
    },
  };
  const result = await runOnline(config);
  assert.deepEqual(result.models.map((m) => m.name), [LOGGING_POLICY, ...models]);
  for (const m of result.models) {
    assert.equal(m.perSeed.length, 2, m.name);
    assert.ok(m.perSeed.every((p) => p.sessions === 12 && Number.isFinite(p.reward) && p.pages >= 1), m.name);
    if (m.name !== LOGGING_POLICY) assert.ok(m.selection && m.budget, `${m.name}: chosen on validation`);
  }
  assert.equal(result.comparisons.length, models.length, 'DeepChain against the logging policy and every other model');
  const dc = result.models.find((m) => m.name === 'DeepChain')!;
  for (const c of result.comparisons) {
    const other = result.models.find((m) => m.name === c.model)!;
    // The paired mean is the difference of the pooled means (same sessions, same count per seed).
    const pooled = (m: typeof dc) => m.perSeed.reduce((a, p) => a + p.reward, 0) / m.perSeed.length;
    assert.ok(Math.abs(c.difference.mean - (pooled(dc) - pooled(other))) < 1e-9, c.model);
    assert.equal(c.difference.units, 12);
  }
  // Common random numbers: a deterministic policy run twice on the same seed faces the same sessions.
  const again = await runOnline({ ...config, seeds: [1], models: ['popularity'] });
  assert.equal(again.models.find((m) => m.name === 'popularity')!.perSeed[0]!.reward, result.models.find((m) => m.name === 'popularity')!.perSeed[0]!.reward);
});
