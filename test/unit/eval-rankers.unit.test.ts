/**
 * The offline test's pieces on a tiny dataset: page views → transitions, Algorithm 3's loop, and every
 * ranker's train/rank (a few steps each; what they learn is the evaluation's business, not this test's).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { selectBackend } from '../../services/model/index.js';
import type { PageView } from '../../services/eval/logged-session.js';
import { makeRanker, MODEL_NAMES, TRAINING_SPECS, type ModelName, type ModelSizes } from '../../services/eval/models.js';
import { meansOf, scoreViews } from '../../services/eval/scoring.js';
import { ItemSpace } from '../../services/eval/item-space.js';
import { algorithm3, observerOf, orderByScore, queryOf } from '../../services/eval/ranker.js';
import { clickSequences, viewsToTransitions } from '../../services/eval/transitions.js';
import { attentionWeights, meanLastWeights, snapshotTensors } from '../../services/eval/attention.js';
import { DeepChainRanker } from '../../services/eval/rankers/deepchain.js';

before(async () => {
  await selectBackend({ prefer: 'wasm' });
});

const items = (spec: string) => spec.split(' ').map((s) => {
  const [id, b] = s.split(':') as [string, string];
  return { id, behaviour: ({ c: 'click', s: 'skip', l: 'leave' } as const)[b as 'c' | 's' | 'l'] };
});

/** Users who click items of "their" group: u0 likes a*, u1 likes b*. */
function tinyViews(): PageView[] {
  const views: PageView[] = [];
  let time = 0;
  for (let s = 0; s < 24; s++) {
    const u = s % 2;
    const mine = u === 0 ? ['a1', 'a2', 'a3'] : ['b1', 'b2', 'b3'];
    const other = u === 0 ? ['b1', 'b2'] : ['a1', 'a2'];
    const history = views.filter((v) => v.userId === `u${u}`).flatMap((v) => v.items.filter((i) => i.behaviour === 'click').map((i) => i.id)).slice(-5);
    const click = mine[s % 3]!;
    views.push({ userId: `u${u}`, sessionId: `s${s}`, time: time++, step: 0, scenario: 'entrance', history, context: null, items: items(`${other[0]}:s ${click}:c ${other[1]}:s`) });
    views.push({ userId: `u${u}`, sessionId: `s${s}`, time: time++, step: 1, scenario: 'detail', history: [...history, click], context: click, items: items(`${other[1]}:s ${mine[(s + 1) % 3]}:c ${other[0]}:l`) });
  }
  return views;
}

const tiny: ModelSizes = {
  historyLength: 3,
  scenarios: ['entrance', 'detail'],
  deepchain: { hiddenSize: 4, attentionSize: 3, headHidden: [4], batchSize: 8, gamma: 0.95 },
  baselines: { hiddenSize: 4, mlpHidden: [4], batchSize: 8, fmFactors: 2 },
};
const tinyEmbedding = { dimension: 4, epochs: 2, lists: false };
/** Each model at its grid's first point, for `units` steps or epochs. */
const build = (name: ModelName, space: ItemSpace, seed: number, units = 3, sizes = tiny) => makeRanker(name, space, sizes, TRAINING_SPECS[name].grid[0]!, units, seed);

test('views become transitions: skips before the click, the click appends, nothing after the last feedback', () => {
  const v: PageView[] = [
    { userId: 'u', sessionId: 's', time: 1, step: 0, scenario: 'entrance', history: ['h'], context: null, items: items('x:s y:c z:s') },
    { userId: 'u', sessionId: 's', time: 2, step: 1, scenario: 'detail', history: ['h', 'y'], context: 'y', items: items('p:s q:l r:s') },
  ];
  const { transitions, impossible } = viewsToTransitions(v);
  assert.equal(impossible, 0);
  assert.deepEqual(transitions.map((t) => `${t.scenario}/${t.action}/${t.behaviour}/${t.reward}/${t.nextScenario}/${t.terminal}`), [
    'entrance/x/skip/0/entrance/false', 'entrance/y/click/1/detail/false', 'detail/p/skip/0/entrance/false', 'detail/q/leave/-2/null/true',
  ]);
  assert.deepEqual(transitions[1]!.nextState, ['h', 'y']);
  assert.deepEqual(transitions[0]!.nextState, ['h']);
  assert.deepEqual(transitions.map((t) => t.step), [0, 1, 2, 3]);
  // The last click of a session's last view is a terminal click (a successful exit).
  const end = viewsToTransitions([v[0]!]).transitions;
  assert.equal(end.at(-1)!.terminal, true);
  assert.deepEqual(clickSequences(v), [['y']]);
});

test('Algorithm 3: scores are recomputed after a click and each item is placed once', () => {
  const seen: string[][] = [];
  const order = algorithm3(
    ['a', 'b', 'c', 'd'],
    [] as string[],
    (state, ids) => {
      seen.push([...state]);
      // Before any click prefer a > b > c > d; after clicking a, prefer d.
      return ids.map((id) => (state.includes('a') ? (id === 'd' ? 9 : 0) : 4 - ids.indexOf(id)));
    },
    (state, clicked) => [...state, clicked],
    (id) => (id === 'a' ? 'click' : 'skip'),
  );
  assert.deepEqual(order, ['a', 'd', 'b', 'c']);
  assert.deepEqual(seen, [[], ['a']]);
  assert.deepEqual(orderByScore(['x', 'y', 'z'], [1, 2, 1]), ['y', 'x', 'z'], 'ties keep display order');
});

test('every ranker trains on the tiny data and ranks each view as a permutation of its items', async () => {
  const views = tinyViews();
  const train = views.slice(0, 36);
  const test = views.slice(36);
  const space = ItemSpace.train(train, { ...tinyEmbedding, seed: 1 });
  assert.ok(space.clickedItems > 0);
  for (const name of MODEL_NAMES) {
    const ranker = build(name, space, 1);
    let progress = 0;
    await ranker.train(train, (done, total) => {
      assert.ok(done <= total);
      progress = done / total;
    });
    assert.equal(progress, 1, `${name} reported its progress to the end`);
    for (const v of test) {
      const r = ranker.rank(queryOf(v), observerOf(v));
      assert.deepEqual([...r].sort(), v.items.map((i) => i.id).sort(), name);
    }
    const scored = scoreViews(ranker, test, 10);
    for (const s of ['entrance', 'detail', 'all'] as const) {
      const m = meansOf(scored, s)!;
      assert.ok(m.ndcg >= 0 && m.ndcg <= 1, `${name} ${s}`);
      assert.ok(m.map > 0 && m.map <= 1, `${name} ${s}`);
      assert.ok(m.mrr > 0 && m.mrr <= 1 && m.hr >= 0 && m.hr <= 1, `${name} ${s}`);
    }
    if (name === 'logged') {
      const entrance = meansOf(scored, 'entrance')!;
      assert.ok(Math.abs(entrance.ndcg - 1 / Math.log2(3)) < 1e-12, 'the logged order puts the click second');
      assert.equal(entrance.mrr, 0.5);
    }
    ranker.dispose();
  }
});

test('attention weights from a snapshot form a distribution over the state, and Figure 8 averages the last five', async () => {
  const views = tinyViews();
  const space = ItemSpace.train(views, { ...tinyEmbedding, seed: 2 });
  const r = build('DeepChain', space, 2, 3, { ...tiny, historyLength: 6 }) as DeepChainRanker;
  await r.train(views, () => {});
  const t = snapshotTensors(r.model!.snapshot({ items: false }));
  const state = space.historyIndices(['a1', 'a2', 'b1', 'a3', 'b2', 'a1']);
  for (const [prefix, head] of [['actor.entrance', 0], ['actor.detail', 0], ['critic', 0], ['critic', 1]] as const) {
    const w = attentionWeights(t, prefix, head, space.vectors, space.dimension, state);
    assert.equal(w.length, state.length);
    assert.ok(Math.abs(w.reduce((a, b) => a + b, 0) - 1) < 1e-9);
    assert.ok(w.every((x) => x > 0));
  }
  assert.throws(() => attentionWeights(t, 'critic', 2, space.vectors, space.dimension, state), /2 attention heads/);
  const m = meanLastWeights([[0.5, 0.1, 0.1, 0.1, 0.1, 0.1], [0.2, 0.2, 0.2, 0.2, 0.2], [1]], 5);
  assert.equal(m.states, 2);
  assert.ok(Math.abs(m.mean[0]! - 0.15) < 1e-12 && Math.abs(m.mean[4]! - 0.15) < 1e-12);
  r.dispose();
});

test('GRU4Rec trains when a whole batch has empty histories (no gradient reaches the inputs)', async () => {
  // 65 examples in batches of 64: one batch holds the single non-empty history, the other only empty ones.
  const views: PageView[] = Array.from({ length: 65 }, (_, s) => ({
    userId: `u${s}`, sessionId: `s${s}`, time: s, step: 0, scenario: 'entrance', history: s < 64 ? [] : ['a1'], context: null, items: items('a1:s b1:c'),
  }));
  const space = ItemSpace.train(views, { ...tinyEmbedding, seed: 3 });
  const r = build('GRU4Rec', space, 3, 2, { ...tiny, baselines: { ...tiny.baselines, hiddenSize: 5 } });
  await r.train(views, () => {});
  assert.equal(r.rank(queryOf(views[0]!), observerOf(views[0]!)).length, 2);
  r.dispose();
});

test('a checkpoint sees every `every` units and the last one, and stops training when it answers false', async () => {
  const views = tinyViews();
  const space = ItemSpace.train(views, { ...tinyEmbedding, seed: 4 });
  for (const [name, units] of [['DeepChain', 7], ['DDPG', 7], ['MA-RDPG', 7], ['GRU4Rec', 3], ['FM', 3]] as const) {
    const seen: number[] = [];
    const r = build(name, space, 4, units);
    await r.train(views, () => {}, { every: 2, at: (done) => {
      seen.push(done);
      // The ranker can rank at a checkpoint.
      assert.equal(r.rank(queryOf(views[1]!), observerOf(views[1]!)).length, views[1]!.items.length);
      return true;
    } });
    assert.deepEqual(seen, units === 7 ? [2, 4, 6, 7] : [2, 3], name);
    r.dispose();
    const stopped: number[] = [];
    const s = build(name, space, 4, units);
    await s.train(views, () => {}, { every: 1, at: (done) => (stopped.push(done), done < 2) });
    assert.deepEqual(stopped, [1, 2], `${name} stops at the checkpoint that answers false`);
    s.dispose();
  }
});
