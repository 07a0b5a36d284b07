/**
 * The evaluation's item space beyond the paper (history codes, centring) and the diagnostics' arithmetic.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { selectBackend } from '../../services/model/index.js';
import type { PageView } from '../../services/eval/logged-session.js';
import { ItemSpace, itemCode } from '../../services/eval/item-space.js';
import { diagnose, discountedReturns, pearson } from '../../services/eval/diagnostics.js';
import { makeRanker, TRAINING_SPECS, type ModelSizes } from '../../services/eval/models.js';
import { DeepChainRanker } from '../../services/eval/rankers/deepchain.js';

before(async () => {
  await selectBackend({ prefer: 'wasm' });
});

const view = (over: Partial<PageView>): PageView => ({
  userId: 'u', sessionId: 's', time: 0, step: 0, scenario: 'entrance', history: [], context: null, items: [{ id: 'x', behaviour: 'skip' }], ...over,
});

// Users click a1→a2→a3 (learned by item2vec); 'h' is only ever in a history; 'shown' only ever shown.
const views: PageView[] = Array.from({ length: 12 }, (_, i) => view({
  userId: `u${i % 3}`, sessionId: `s${i}`, time: i, history: i % 4 === 0 ? ['h'] : ['a1'],
  items: [{ id: 'shown', behaviour: 'skip' }, { id: `a${1 + (Math.floor(i / 3) % 3)}`, behaviour: 'click' }],
}));

test('history codes: an unlearned item gets its fixed code only inside the state; outside it stays unknown (zero)', () => {
  const space = ItemSpace.train(views, { dimension: 6, epochs: 3, seed: 1 });
  const zero = new Float32Array(6);
  const code = itemCode('h', 6);
  assert.ok(Math.abs(Math.hypot(...code) - 1) < 1e-6, 'a code has unit length');
  assert.deepEqual([...itemCode('h', 6)], [...code], 'the same id gives the same code');
  assert.notDeepEqual([...itemCode('g', 6)], [...code]);
  assert.deepEqual([...space.vectorOf('h', true, true)], [...code]);
  assert.deepEqual([...space.vectorOf('h', false, true)], [...zero], 'a candidate the user never touched stays unknown');
  assert.deepEqual([...space.vectorOf('h', true, false)], [...zero], 'without codes: the paper, unknown is zero');
  assert.deepEqual([...space.vectorOf('never-seen', true, true)], [...itemCode('never-seen', 6)], 'a test-time item in the state gets its code');
  // A learned item is its learned row, in the state or not.
  const a2 = space.vectorOf('a2', false, true);
  assert.ok(Math.hypot(...a2) > 0.99);
  assert.deepEqual([...space.vectorOf('a2', true, true)], [...a2]);
  // The training table: codes for items of training states, zero for items only shown.
  const table = space.codedVectors();
  const row = (id: string) => [...table.subarray(space.index(id) * 6, space.index(id) * 6 + 6)];
  assert.deepEqual(row('h'), [...code]);
  assert.deepEqual(row('shown'), [...zero]);
  assert.deepEqual([...space.vectors.subarray(space.index('h') * 6, space.index('h') * 6 + 6)], [...zero], 'the shared table other models read is unchanged');
});

test('centring removes the learned rows\' common direction', () => {
  const meanNorm = (center: boolean) => {
    const space = ItemSpace.train(views, { dimension: 6, epochs: 20, seed: 1, center });
    const mean = new Array(6).fill(0);
    for (const id of ['a1', 'a2', 'a3']) space.vectorOf(id, false, false).forEach((x, e) => (mean[e] += x / 3));
    return Math.hypot(...mean);
  };
  const raw = meanNorm(false);
  const centred = meanNorm(true);
  assert.ok(centred < raw / 2, `the mean of the learned unit rows: ${raw} raw, ${centred} centred`);
});

test('discounted returns restart at each session; Pearson correlation by hand', () => {
  const t = [
    { userId: 'u', sessionId: 's1', reward: 0 }, { userId: 'u', sessionId: 's1', reward: 1 }, { userId: 'u', sessionId: 's1', reward: -2 },
    { userId: 'u', sessionId: 's2', reward: 1 },
  ];
  // s1: G2 = −2, G1 = 1 + 0.5·(−2) = 0, G0 = 0 + 0.5·0 = 0; s2: G = 1.
  assert.deepEqual(discountedReturns(t, 0.5), [0, 0, -2, 1]);
  assert.equal(pearson([1, 2, 3], [2, 4, 6]), 1);
  assert.equal(pearson([1, 2, 3], [3, 2, 1]), -1);
  // x = (0, 1, 2), y = (1, 0, 2): cov = 1, var x = 2, var y = 2 → r = 0.5
  assert.ok(Math.abs(pearson([0, 1, 2], [1, 0, 2]) - 0.5) < 1e-12);
  assert.ok(Number.isNaN(pearson([1, 1], [0, 1])), 'no variance, no correlation');
});

test('diagnostics of a trained DeepChain: one finite row per scenario, coverage counts by hand', async () => {
  const sizes: ModelSizes = {
    historyLength: 3, scenarios: ['entrance', 'detail'],
    deepchain: { hiddenSize: 4, attentionSize: 3, headHidden: [4], batchSize: 8, gamma: 0.95 },
    baselines: { hiddenSize: 4, mlpHidden: [4], batchSize: 8, fmFactors: 2 },
  };
  const space = ItemSpace.train(views, { dimension: 4, epochs: 2, seed: 1 });
  const ranker = makeRanker('DeepChain', space, sizes, TRAINING_SPECS.DeepChain.grid[0]!, 5, 1);
  assert.ok(ranker instanceof DeepChainRanker);
  await ranker.train(views, () => {});
  const rows = diagnose({ ranker, space, historyCodes: true, train: views, views, maxTransitions: 100 });
  ranker.dispose();
  assert.equal(rows.length, 1);
  const r = rows[0]!;
  assert.equal(r.scenario, 'entrance');
  assert.equal(r.transitions, 24, 'a skip and a click per view');
  // Shown: 'shown' (never clicked, never in a state: zero) and the clicked a* (learned): half have a vector.
  assert.equal(r.shownWithVector, 0.5);
  assert.equal(r.clickedWithVector, 1);
  for (const x of [r.probabilityLogLoss, r.baseRateLogLoss, r.protoClickedCosine]) assert.ok(Number.isFinite(x));
  assert.ok(Number.isNaN(r.protoSkippedCosine), 'no skipped item has a vector');
});
