/**
 * The single-user serving path (services/model/inference.ts) against the batched tensor path the learner
 * trains, including short (padded) and empty histories; and Algorithm 1's step on a DC-o / DC-f model.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { createDeepChain, ReplayBuffer, seededRandom, selectBackend } from '../../services/model/index.js';
import { actorHead } from '../../services/model/actor.js';
import { encode } from '../../services/model/encoder.js';
import { actorOf } from '../../services/model/networks.js';
import { gatherRows } from '../../services/model/ops.js';

before(async () => {
  await selectBackend({ prefer: 'wasm' });
});

const sizes = { embeddingSize: 6, hiddenSize: 8, historyLength: 7, attentionSize: 4, headHidden: [8] };

function withItems(model: ReturnType<typeof createDeepChain>, items: number, random: () => number) {
  model.setItemEmbeddings(Float32Array.from({ length: (items + 1) * model.config.embeddingSize }, () => random() - 0.5));
}

test('act() equals the tensor path for full, short and empty histories, and padding content never matters', () => {
  const random = seededRandom(4);
  const model = createDeepChain(sizes);
  withItems(model, 30, random);
  const N = 7;
  const E = 6;
  const states = [[1, 2, 3, 4, 5, 6, 7], [9, 3], [12], []];
  for (const [m, scenario] of (['entrance', 'detail'] as const).entries()) {
    const tensorPath = tf.tidy(() => {
      const R = states.length;
      let first: number[][] | undefined;
      for (const padding of [0, 17]) {
        const ids = new Int32Array(N * R).fill(padding);
        states.forEach((s, j) => s.forEach((item, t) => (ids[t * R + j] = item)));
        const actor = actorOf(model.networks.online, m);
        const input = { x: gatherRows(model.itemEmbeddings, E, ids), rows: R, lengths: states.map((s) => s.length), heads: null };
        const a = actorHead(actor, encode(actor.encoder, input, N)).arraySync();
        if (first === undefined) first = a;
        else assert.deepEqual(a, first, 'padding content changed an output');
      }
      return first!;
    });
    states.forEach((s, j) => {
      const fast = model.act(scenario, s);
      fast.forEach((v, e) => assert.ok(Math.abs(v - tensorPath[j]![e]!) < 1e-5, `${scenario} state ${j} dim ${e}: ${v} vs ${tensorPath[j]![e]}`));
    });
  }
  // Longer than N: only the last N items count.
  const long = [20, 21, 1, 2, 3, 4, 5, 6, 7];
  assert.deepEqual(model.act('entrance', long), model.act('entrance', long.slice(-7)));
  // Scores are a · e_k, ranked best first.
  const proto = model.act('detail', [1, 2]);
  const scores = model.score(proto, [3, 4, 5]);
  const e4 = model.itemEmbeddings.subarray(4 * 6, 5 * 6);
  assert.ok(Math.abs(scores[1]! - proto.reduce((s, v, i) => s + v * e4[i]!, 0)) < 1e-6);
  const top = model.recommend('detail', [1, 2], [3, 4, 5], 2);
  assert.equal(top.length, 2);
  assert.ok(top[0]!.score >= top[1]!.score);
  model.dispose();
});

test('training steps of DC-o (one actor), DC-f and the literal Eq. 1 run, stay finite and update every network', () => {
  for (const variant of [{ sharedActor: true }, { target: 'model-free' as const }, { target: 'literal' as const }]) {
    const random = seededRandom(8);
    const model = createDeepChain({ ...sizes, ...variant });
    withItems(model, 20, random);
    const buffer = new ReplayBuffer(100, 7);
    for (let i = 0; i < 100; i++) {
      const scenario = i % 2;
      const behaviour = i % 3;
      buffer.add({
        state: Array.from({ length: 1 + (i % 7) }, () => 1 + Math.floor(random() * 20)),
        action: 1 + (i % 20),
        scenario,
        behaviour,
        reward: [1, 0, -2][behaviour]!,
        nextScenario: model.layout.next[scenario]![behaviour]!,
      });
    }
    const before = model.snapshot({ items: false }).tensors;
    for (let k = 0; k < 3; k++) {
      const r = model.trainStep(buffer.sample(16, random));
      for (const v of [r.criticLoss, r.actorLoss, r.probabilityLoss, r.meanTarget]) assert.ok(Number.isFinite(v), JSON.stringify(variant));
      assert.ok(r.flops > 0);
    }
    const after = model.snapshot({ items: false }).tensors;
    for (const prefix of ['actor.', 'critic.', 'probability.', 'target.actor.', 'target.critic.']) {
      const changed = before.some((t, i) => t.name.startsWith(prefix) && t.values.some((v, j) => v !== after[i]!.values[j]));
      assert.ok(changed, `${JSON.stringify(variant)}: ${prefix} did not change`);
    }
    if (variant.sharedActor) assert.deepEqual(model.actorNames, ['shared']);
    model.dispose();
  }
});
