import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_WORLD, similarity, World } from '../../services/simulator/index.js';

const small = { items: 30, clusters: 3, users: 20, dimension: 8 };

test('the same seed makes the same world; another seed another one', () => {
  const a = new World({ ...small, seed: 7 });
  const b = new World({ ...small, seed: 7 });
  const c = new World({ ...small, seed: 8 });
  assert.deepEqual(a.items.map((i) => [...i.vector]), b.items.map((i) => [...i.vector]));
  assert.deepEqual(a.users.map((u) => [u.favourite, u.second, u.patience, ...u.interest]), b.users.map((u) => [u.favourite, u.second, u.patience, ...u.interest]));
  assert.deepEqual(a.complement, b.complement);
  assert.notDeepEqual(a.users.map((u) => [...u.interest]), c.users.map((u) => [...u.interest]));
});

test('items lie in clusters: an item is closer to its own cluster than to others, and users lean to their favourite', () => {
  const w = new World({ ...small, seed: 3, itemSpread: 0.3, interestSpread: 0.2, interestDiversity: 0.3 });
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const within: number[] = [];
  const across: number[] = [];
  for (const a of w.items) for (const b of w.items) if (a !== b) (a.cluster === b.cluster ? within : across).push(similarity(a.vector, b.vector));
  assert.ok(mean(within) > 0.8 && mean(across) < 0.2, `within ${mean(within)}, across ${mean(across)}`);
  for (const u of w.users) {
    const fav = mean(w.items.filter((i) => i.cluster === u.favourite).map((i) => similarity(u.interest, i.vector)));
    const other = mean(w.items.filter((i) => i.cluster !== u.favourite).map((i) => similarity(u.interest, i.vector)));
    assert.ok(fav > other + 0.4, `user ${u.id}: favourite ${fav} vs others ${other}`);
    assert.ok(u.patience > 0);
  }
  for (const i of w.items) assert.ok(Math.abs(similarity(i.vector, i.vector) - 1) < 1e-9, 'unit vectors');
});

test('personal taste: with a larger interest spread, one cluster\'s items differ more in how much a user likes them', () => {
  const spreadOfFavourite = (interestSpread: number) => {
    const w = new World({ items: 400, clusters: 4, users: 40, dimension: 8, seed: 2, interestSpread });
    let sum = 0;
    for (const u of w.users) {
      const s = w.items.filter((i) => i.cluster === u.favourite).map((i) => similarity(u.interest, i.vector));
      const m = s.reduce((a, x) => a + x, 0) / s.length;
      sum += Math.sqrt(s.reduce((a, x) => a + (x - m) ** 2, 0) / s.length);
    }
    return sum / w.users.length;
  };
  assert.ok(spreadOfFavourite(0.8) > 1.2 * spreadOfFavourite(0.1), `${spreadOfFavourite(0.8)} vs ${spreadOfFavourite(0.1)}`);
});

test('goes-with: each cluster has another cluster as its complement, and goesWith(a, b) is b\'s cosine to that cluster\'s centre', () => {
  const w = new World({ items: 60, clusters: 6, users: 5, dimension: 8, seed: 4 });
  assert.deepEqual([...w.complement].sort(), [0, 1, 2, 3, 4, 5], 'a permutation of the clusters');
  w.complement.forEach((c, k) => assert.notEqual(c, k, `cluster ${k} does not go with itself`));
  const a = w.items[0]!;
  for (const b of w.items.slice(1, 12)) {
    assert.ok(Math.abs(w.goesWith(a, b) - similarity(b.vector, w.centres[w.complement[a.cluster]!]!)) < 1e-12);
  }
  const partner = w.items.find((i) => i.cluster === w.complement[a.cluster])!;
  const sibling = w.items.find((i) => i !== a && i.cluster === a.cluster)!;
  assert.ok(w.goesWith(a, partner) > 0.5 && w.goesWith(a, sibling) < 0.3, 'an item of the complement cluster goes with a; one of its own cluster does not');
  assert.deepEqual(new World({ items: 4, clusters: 1, users: 1, dimension: 2 }).complement, [0], 'one cluster goes with itself');
});

test('the flat matrix, the similarities and the index lookups agree with the items', () => {
  const w = new World({ items: 50, clusters: 5, users: 3, dimension: 8, seed: 6 });
  const u = w.users[0]!;
  const s = w.similarities(u.interest);
  w.items.forEach((item, n) => {
    assert.deepEqual([...w.matrix.subarray(n * 8, n * 8 + 8)], [...item.vector]);
    assert.ok(Math.abs(s[n]! - similarity(u.interest, item.vector)) < 1e-12);
    assert.equal(w.itemCluster[n], item.cluster);
    assert.equal(w.indexOf(item.id), n);
  });
  const ids = w.itemIds.filter((_, n) => n !== 7);
  assert.deepEqual([...w.indicesOf(ids)], ids.map((id) => w.indexOf(id)));
  assert.deepEqual([...w.indicesOf(['item-9', 'item-2', 'item-40'])], [9, 2, 40], 'any order');
  assert.equal(w.user('user-2').id, 'user-2');
  assert.throws(() => w.user('user-99'), /not in the simulated population/);
});

test('the default world is big enough that memorising is not enough, and it builds in well under a second', () => {
  assert.ok(DEFAULT_WORLD.items >= 2000 && DEFAULT_WORLD.users >= 2000, JSON.stringify(DEFAULT_WORLD));
  assert.ok(DEFAULT_WORLD.dimension >= DEFAULT_WORLD.clusters, 'cluster centres orthogonal');
  const t0 = performance.now();
  const w = new World();
  const ms = performance.now() - t0;
  assert.equal(w.items.length, DEFAULT_WORLD.items);
  assert.ok(ms < 1000, `built in ${ms.toFixed(0)} ms`);
});

test('ids are the only names the world gives out, and bad options are refused with the option named', () => {
  const w = new World({ ...small, seed: 1 });
  assert.ok(w.itemIds.every((id) => /^item-\d+$/.test(id)));
  assert.ok(w.users.every((u) => /^user-\d+$/.test(u.id)));
  assert.equal(w.item('item-4').id, 'item-4');
  assert.throws(() => w.item('nope'), /not in the simulated catalogue/);
  assert.throws(() => new World({ items: 0 }), /items must be a positive integer/);
  assert.throws(() => new World({ items: 3, clusters: 5 }), /clusters \(5\) must not exceed items/);
  assert.throws(() => new World({ interestDiversity: 2 }), /interestDiversity/);
  assert.throws(() => new World({ interestSpread: -1 }), /interestSpread must be a finite number ≥ 0/);
  assert.throws(() => new World({ seed: 1.5 }), /seed must be an integer/);
  assert.throws(() => new World({ patience: 0 }), /patience must be a finite number > 0/);
});
