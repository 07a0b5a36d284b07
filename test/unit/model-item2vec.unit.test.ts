/** item2vec (services/model/item2vec.ts) and cosine candidate recall (services/model/recall.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CosineIndex, Item2Vec, seededRandom } from '../../services/model/index.js';

function sessions(clusters: string[][], count: number, random: () => number): string[][] {
  return Array.from({ length: count }, () => {
    const c = clusters[Math.floor(random() * clusters.length)]!;
    return Array.from({ length: 6 }, () => c[Math.floor(random() * c.length)]!);
  });
}

/** Share of items whose k nearest neighbours all come from their own cluster. */
function purity(model: Item2Vec, clusters: string[][], k: number): number {
  const index = new CosineIndex(model.vectors(), model.dimension);
  const clusterOf = new Map<number, number>();
  clusters.forEach((c, ci) => c.forEach((id) => clusterOf.set(model.vocabulary.indexOf(id)!, ci)));
  let pure = 0;
  for (const [item, ci] of clusterOf) if (index.neighbours(item, k).every((n) => clusterOf.get(n.index) === ci)) pure++;
  return pure / clusterOf.size;
}

const cluster = (name: string) => Array.from({ length: 8 }, (_, i) => `${name}${i}`);

test('items clicked in the same sessions become nearest neighbours, and new items keep arriving', () => {
  const random = seededRandom(1);
  const model = new Item2Vec({ dimension: 16, window: 3, negatives: 5, learningRate: 0.05, seed: 2 });
  const first = [cluster('a'), cluster('b'), cluster('c')];
  model.train(sessions(first, 600, random), 3);
  assert.ok(purity(model, first, 3) >= 0.9, `purity ${purity(model, first, 3)}`);
  const indexOfA0 = model.vocabulary.indexOf('a0');

  // A new cluster appears later; training continues on the same model.
  const all = [...first, cluster('d')];
  const stats = model.train(sessions(all, 600, random), 3);
  assert.ok(stats.pairs > 0 && Number.isFinite(stats.loss));
  assert.equal(model.vocabulary.indexOf('a0'), indexOfA0, 'indices are stable as items arrive');
  assert.equal(model.vectors().length, model.vocabulary.size * 16);
  assert.ok(purity(model, all, 3) >= 0.9, `purity after new items ${purity(model, all, 3)}`);
  assert.deepEqual([...model.vectors().subarray(0, 16)], new Array(16).fill(0), 'row 0 is padding');
});

test('CosineIndex returns exact cosine neighbours, best first, and recall takes the union', () => {
  // Items 1..4 on a circle at 0°, 10°, 90°, 180°; item 5 the zero vector.
  const deg = (d: number) => [Math.cos((d * Math.PI) / 180), Math.sin((d * Math.PI) / 180)];
  const v = Float32Array.from([0, 0, ...deg(0), ...deg(10).map((x) => x * 5), ...deg(90), ...deg(180), 0, 0]);
  const index = new CosineIndex(v, 2);
  const n = index.neighbours(1, 3);
  assert.deepEqual(n.map((x) => x.index), [2, 3, 5]);
  assert.ok(Math.abs(n[0]!.similarity - Math.cos((10 * Math.PI) / 180)) < 1e-6);
  assert.deepEqual(index.recall([1, 4], 1), [2, 3]);
});
