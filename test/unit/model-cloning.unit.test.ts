/**
 * The levers beyond the paper in the model library: the actors' behaviour-cloning term (TD3+BC), the
 * candidate values of the critic and the probability net (Wolpertinger, expected reward), acting on embedding
 * rows, and centred item2vec vectors.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { centredVectors, createDeepChain, ReplayBuffer, resolveConfig, seededRandom, selectBackend } from '../../services/model/index.js';
import { unitEmbeddings } from '../support/embeddings.js';

const ITEMS = 10;
const E = 8;
const N = 4;

before(async () => {
  await selectBackend({ prefer: 'wasm' });
});

/**
 * Users on the entrance page click again the item they touched last and skip every other one; logged under a
 * uniformly random policy, half of the shown items being that last item. Returns how often the trained
 * entrance actor's top-1 over all items is the state's last item.
 */
function copyTask(cloning: number): number {
  const random = seededRandom(7);
  const model = createDeepChain({
    embeddingSize: E, hiddenSize: 16, historyLength: N, attentionSize: 8, headHidden: [16],
    learningRates: { actor: 3e-3, critic: 3e-3, probability: 3e-3 }, tau: 0.05, seed: 3, cloning,
  });
  model.setItemEmbeddings(unitEmbeddings(random, ITEMS, E));
  const buffer = new ReplayBuffer(10_000, N);
  const randomState = () => Array.from({ length: 1 + Math.floor(random() * N) }, () => 1 + Math.floor(random() * ITEMS));
  for (let i = 0; i < 4000; i++) {
    const state = randomState();
    const last = state[state.length - 1]!;
    const action = random() < 0.5 ? last : 1 + Math.floor(random() * ITEMS);
    const click = action === last;
    // entrance behaviours in softmax order: click (→ detail), skip (→ entrance), leave
    buffer.add({ state, action, scenario: 0, behaviour: click ? 0 : 1, reward: click ? 1 : 0, nextScenario: click ? 1 : 0 });
  }
  for (let step = 0; step < 400; step++) model.trainStep(buffer.sample(32, random));
  let hits = 0;
  const trials = 100;
  for (let i = 0; i < trials; i++) {
    const state = randomState();
    const top = model.recommend('entrance', state, Array.from({ length: ITEMS }, (_, k) => k + 1), 1)[0]!;
    if (top.item === state[state.length - 1]) hits++;
  }
  model.dispose();
  return hits / trials;
}

test('the cloning term pulls the actor to the clicked item: a copy task the critic alone does not teach', () => {
  const withCloning = copyTask(2);
  const paper = copyTask(0);
  assert.ok(withCloning >= 0.7, `with cloning the actor points at the clicked (last) item in ${withCloning} of states (chance 0.1)`);
  assert.ok(withCloning > paper + 0.2, `cloning ${withCloning} should beat the paper's Eq. 4 alone (${paper})`);
});

test('cloning is validated and 0 is the paper', () => {
  assert.equal(resolveConfig({ cloning: 0 }).cloning, 0);
  assert.throws(() => resolveConfig({ cloning: -1 }), /invalid model config 'cloning'/);
  assert.throws(() => resolveConfig({ cloning: Number.NaN }), /invalid model config 'cloning'/);
});

test('candidate values: the probability net reads its own scenario\'s head, its expected reward is Σ p·r, and acting on rows equals acting on indices', () => {
  const random = seededRandom(11);
  const model = createDeepChain({ embeddingSize: E, hiddenSize: 8, historyLength: N, attentionSize: 4, headHidden: [8], seed: 2 });
  const table = unitEmbeddings(random, ITEMS, E);
  model.setItemEmbeddings(table);
  const state = [3, 7, 2];
  const rows = new Float32Array(state.length * E);
  state.forEach((item, t) => rows.set(table.subarray(item * E, item * E + E), t * E));
  const candidates = new Float32Array(3 * E);
  [1, 5, 9].forEach((item, k) => candidates.set(table.subarray(item * E, item * E + E), k * E));

  const proto = model.actOnRows('detail', rows);
  assert.deepEqual([...proto].map((x) => x.toFixed(5)), [...model.act('detail', state)].map((x) => x.toFixed(5)));

  const J = model.layout.maxBehaviours;
  const behaviours = model.layout.behaviours[1]!;
  const before = model.behaviourProbabilities('detail', rows, candidates);
  for (let k = 0; k < 3; k++) {
    const sum = behaviours.reduce((a, _, j) => a + before[k * J + j]!, 0);
    assert.ok(Math.abs(sum - 1) < 1e-5, `candidate ${k}: probabilities over the detail page's behaviours sum to ${sum}`);
  }
  const expected = model.valueCandidates('reward', 'detail', rows, candidates);
  for (let k = 0; k < 3; k++) {
    const byHand = behaviours.reduce((a, b, j) => a + before[k * J + j]! * model.config.rewards[b], 0);
    assert.ok(Math.abs(expected[k]! - byHand) < 1e-5);
  }
  // The last layer's columns are [scenario × behaviour]: changing the entrance head leaves detail as it was,
  // changing the detail head does not.
  const last = model.networks.probabilityNet.head.layers.at(-1)!;
  const nudge = (scenario: number) => tf.tidy(() => {
    const cols = last.b.shape[0]!;
    const mask = new Float32Array(cols);
    for (let j = 0; j < J; j++) mask[scenario * J + j] = j === 0 ? 3 : 0;
    last.b.assign(tf.add(last.b, tf.tensor1d(mask)));
  });
  nudge(0);
  const afterEntrance = model.behaviourProbabilities('detail', rows, candidates);
  assert.deepEqual([...afterEntrance].map((x) => x.toFixed(6)), [...before].map((x) => x.toFixed(6)), 'the entrance head does not reach detail pages');
  nudge(1);
  const afterDetail = model.behaviourProbabilities('detail', rows, candidates);
  assert.ok(afterDetail[0]! > before[0]! + 0.05, 'the detail head decides detail pages');

  const q = model.valueCandidates('critic', 'detail', rows, candidates);
  assert.equal(q.length, 3);
  assert.ok([...q].every(Number.isFinite));
  model.dispose();
});

test('centred vectors: the chosen rows lose their mean and keep unit length; padding and other rows are untouched', () => {
  const E2 = 3;
  // rows 1–3 share the direction (1, 1, 0); row 4 is not chosen
  const v = Float32Array.from([0, 0, 0, 1, 1, 0.2, 1, 1, -0.2, 1, 0.8, 0, 5, 0, 0]);
  const out = centredVectors(v, E2, [1, 2, 3]);
  assert.deepEqual([...out.subarray(0, 3)], [0, 0, 0]);
  assert.deepEqual([...out.subarray(12, 15)], [5, 0, 0]);
  const mean = [0, 0, 0];
  for (const i of [1, 2, 3]) {
    const row = out.subarray(i * E2, i * E2 + E2);
    assert.ok(Math.abs(Math.hypot(...row) - 1) < 1e-5, `row ${i} has unit length`);
    for (let e = 0; e < E2; e++) mean[e]! += row[e]! / 3;
  }
  // Before: every pair's cosine near 1. After: rows 1 and 2 point apart (their shared part removed).
  const cos = (a: number, b: number) => out.subarray(a * E2, a * E2 + E2).reduce((s, x, e) => s + x * out[b * E2 + e]!, 0);
  assert.ok(cos(1, 2) < 0, `rows 1 and 2 after centring: cosine ${cos(1, 2)}`);
  // Default rows: every non-zero row but padding.
  const all = centredVectors(v, E2);
  assert.ok(Math.abs(Math.hypot(...all.subarray(12, 15)) - 1) < 1e-5);
});
