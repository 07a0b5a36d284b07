/** Model configuration (services/model/config.ts) and backend selection (services/model/backend.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { DEFAULT_CONFIG, ModelConfigError, resolveConfig, selectBackend } from '../../services/model/index.js';

test('defaults are the paper\'s: E = 20, H = 64, N = 50, γ = 0.95, τ = 0.01, two scenarios, Eq. 1 on the graph', () => {
  const c = resolveConfig();
  assert.equal(c.embeddingSize, 20);
  assert.equal(c.hiddenSize, 64);
  assert.equal(c.historyLength, 50);
  assert.equal(c.gamma, 0.95);
  assert.equal(c.tau, 0.01);
  assert.deepEqual(c.scenarios, ['entrance', 'detail']);
  assert.equal(c.target, 'graph');
  assert.equal(c.sharedActor, false);
  assert.deepEqual(c.rewards, { click: 1, skip: 0, leave: -2, purchase: 1 });
  assert.ok(Object.isFrozen(c));
  assert.equal(DEFAULT_CONFIG.hiddenSize, 64);
});

test('a wrong value is an error that names the field', () => {
  const bad: [object, string][] = [
    [{ hiddenSize: 0 }, 'hiddenSize'],
    [{ historyLength: 2.5 }, 'historyLength'],
    [{ gamma: 1 }, 'gamma'],
    [{ tau: 0 }, 'tau'],
    [{ target: 'dc-x' }, 'target'],
    [{ scenarios: ['entrance', 'nowhere'] }, 'scenarios'],
    [{ scenarios: ['entrance'] }, 'graph'], // click on the entrance page leads to a detail page without an agent
    [{ learningRates: { actor: -1 } }, 'learningRates.actor'],
    [{ headHidden: [8, 0] }, 'headHidden[1]'],
  ];
  for (const [input, field] of bad) {
    assert.throws(() => resolveConfig(input as never), (e: unknown) => e instanceof ModelConfigError && e.field === field, field);
  }
  // All four scenarios form a closed graph.
  assert.equal(resolveConfig({ scenarios: ['entrance', 'detail', 'cart', 'order'] }).scenarios.length, 4);
});

test('auto selection falls past the native packages (no libtensorflow here) to WASM and logs the choice', async () => {
  const logs: Record<string, unknown>[] = [];
  const selected = await selectBackend({ onLog: (_m, f) => logs.push(f) });
  // Where a native package does load, it wins; here neither can.
  if (selected.name === 'tensorflow') return;
  assert.equal(selected.name, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  assert.deepEqual(selected.skipped.map((s) => s.package), ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']);
  assert.equal(logs.length, 1);
  assert.equal(logs[0]!.backend, 'wasm');
  const forced = await selectBackend({ prefer: 'cpu' });
  assert.equal(forced.name, 'cpu');
  await assert.rejects(selectBackend({ prefer: 'tensorflow' }), /tfjs-node/);
});
