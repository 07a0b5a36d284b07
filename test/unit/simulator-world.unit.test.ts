import assert from 'node:assert/strict';
import { test } from 'node:test';
import { similarity, World } from '../../services/simulator/index.js';

const small = { items: 30, clusters: 3, users: 20, dimension: 8 };

test('the same seed makes the same world; another seed another one', () => {
  const a = new World({ ...small, seed: 7 });
  const b = new World({ ...small, seed: 7 });
  const c = new World({ ...small, seed: 8 });
  assert.deepEqual(a.items.map((i) => [...i.vector]), b.items.map((i) => [...i.vector]));
  assert.deepEqual(a.users.map((u) => [u.favourite, u.second, u.patience, ...u.interest]), b.users.map((u) => [u.favourite, u.second, u.patience, ...u.interest]));
  assert.notDeepEqual(a.users.map((u) => [...u.interest]), c.users.map((u) => [...u.interest]));
});

test('items lie in clusters: an item is closer to its own cluster than to others, and users lean to their favourite', () => {
  const w = new World({ ...small, seed: 3, itemSpread: 0.3 });
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

test('ids are the only names the world gives out, and bad options are refused with the option named', () => {
  const w = new World({ ...small, seed: 1 });
  assert.ok(w.itemIds.every((id) => /^item-\d+$/.test(id)));
  assert.ok(w.users.every((u) => /^user-\d+$/.test(u.id)));
  assert.equal(w.item('item-4').id, 'item-4');
  assert.throws(() => w.item('nope'), /not in the simulated catalogue/);
  assert.throws(() => new World({ items: 0 }), /items must be a positive integer/);
  assert.throws(() => new World({ items: 3, clusters: 5 }), /clusters \(5\) must not exceed items/);
  assert.throws(() => new World({ interestDiversity: 2 }), /interestDiversity/);
});
