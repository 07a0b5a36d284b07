/**
 * Proof that the DeepChain model learns (issue 8, item 7): a two-scenario problem with a known best
 * policy. Users click item BEST_ENTRANCE on the entrance page and item BEST_DETAIL on detail pages with
 * high probability, anything else rarely; other items are skipped or make the user leave. Transitions are
 * logged under a uniformly random behaviour policy (off-policy, Algorithm 1 line 7). After training, each
 * actor's top-1 over all items must be its scenario's best item for most states, far above chance (1/10),
 * and the critic must rank the best action above a bad one.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { createDeepChain, ReplayBuffer, seededRandom, selectBackend } from '../../services/model/index.js';
import { criticValue } from '../../services/model/critic.js';
import { encode } from '../../services/model/encoder.js';
import { embeddingRows, gatherRows } from '../../services/model/ops.js';
import { unitEmbeddings } from '../support/embeddings.js';

const ITEMS = 10;
const E = 8;
const N = 5;
const BEST_ENTRANCE = 3;
const BEST_DETAIL = 8;

before(async () => {
  await selectBackend({ prefer: 'wasm' });
});

test('actors learn each scenario\'s best item and the critic ranks it above a bad one', () => {
  const random = seededRandom(42);
  const model = createDeepChain({
    embeddingSize: E,
    hiddenSize: 16,
    historyLength: N,
    attentionSize: 8,
    headHidden: [32],
    learningRates: { actor: 3e-3, critic: 3e-3, probability: 3e-3 },
    tau: 0.05,
    seed: 5,
  });
  model.setItemEmbeddings(unitEmbeddings(random, ITEMS, E));
  const buffer = new ReplayBuffer(20_000, N);
  const randomState = () => Array.from({ length: 1 + Math.floor(random() * N) }, () => 1 + Math.floor(random() * ITEMS));
  // Logged sessions under a random behaviour policy.
  for (let session = 0; session < 1500; session++) {
    let state = randomState();
    let scenario = 0; // entrance
    for (let t = 0; t < 8; t++) {
      const action = 1 + Math.floor(random() * ITEMS);
      const best = scenario === 0 ? BEST_ENTRANCE : BEST_DETAIL;
      const u = random();
      // behaviours of both scenarios, softmax order: click, skip, leave
      let behaviour: number;
      if (action === best) behaviour = u < 0.9 ? 0 : u < 0.97 ? 1 : 2;
      else behaviour = u < 0.05 ? 0 : u < 0.85 ? 1 : 2;
      const reward = [1, 0, -2][behaviour]!;
      const nextScenario = model.layout.next[scenario]![behaviour]!;
      buffer.add({ state, action, scenario, behaviour, reward, nextScenario });
      if (nextScenario < 0) break;
      if (behaviour === 0) state = [...state, action].slice(-N);
      scenario = nextScenario;
    }
  }
  for (let step = 0; step < 600; step++) model.trainStep(buffer.sample(32, random));

  const trials = 60;
  const hits = [0, 0];
  for (let i = 0; i < trials; i++) {
    const state = randomState();
    for (const [m, scenario] of (['entrance', 'detail'] as const).entries()) {
      const ranked = model.recommend(scenario, state, Array.from({ length: ITEMS }, (_, k) => k + 1), 1);
      if (ranked[0]!.item === (m === 0 ? BEST_ENTRANCE : BEST_DETAIL)) hits[m]!++;
    }
  }
  const [entranceRate, detailRate] = hits.map((h) => h / trials) as [number, number];
  // Chance is 0.1; require at least 0.7 in both scenarios.
  assert.ok(entranceRate >= 0.7, `entrance actor picked the best item in ${entranceRate} of states`);
  assert.ok(detailRate >= 0.7, `detail actor picked the best item in ${detailRate} of states`);

  // The critic: Q(s, e_best, m) > Q(s, e_bad, m) for most states, in both scenarios.
  const states = Array.from({ length: 40 }, randomState);
  const lengths = Uint16Array.from(states, (s) => s.length);
  const ids = new Int32Array(N * states.length);
  states.forEach((s, j) => s.forEach((item, t) => (ids[t * states.length + j] = item)));
  const critic = model.networks.online.critic;
  const wins = [0, 1].map((m) =>
    tf.tidy(() => {
      const R = states.length;

      const oneHot = tf.oneHot(tf.fill([R], m, 'int32'), 2).toFloat() as tf.Tensor2D;
      const pC = encode(critic.encoder, { x: gatherRows(model.itemEmbeddings, E, ids), rows: R, lengths, heads: new Array(R).fill(m) }, N);
      const best = m === 0 ? BEST_ENTRANCE : BEST_DETAIL;
      const bad = m === 0 ? BEST_DETAIL : BEST_ENTRANCE;
      const qBest = criticValue(critic, pC, embeddingRows(model.itemEmbeddings, E, new Array(R).fill(best)), oneHot).dataSync();
      const qBad = criticValue(critic, pC, embeddingRows(model.itemEmbeddings, E, new Array(R).fill(bad)), oneHot).dataSync();
      return qBest.filter((q, j) => q > qBad[j]!).length / R;
    }),
  );
  assert.ok(wins[0]! >= 0.9 && wins[1]! >= 0.9, `critic ranked the best action first in ${wins.join(' and ')} of states`);
  model.dispose();
});
