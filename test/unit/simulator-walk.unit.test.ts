import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  clickProbability, DEFAULT_WALK, leaveProbability, seeded, startWalk, walkPage, World, type WalkState,
} from '../../services/simulator/index.js';

const world = new World({ items: 60, clusters: 4, users: 30, dimension: 8, seed: 5 });
const user = world.users[0]!;
const inCluster = (c: number) => world.items.filter((i) => i.cluster === c).map((i) => i.id);
const favourite = inCluster(user.favourite);
const other = (world.items.find((i) => i.cluster !== user.favourite && i.cluster !== user.second)!).cluster;
const foreign = inCluster(other);

test('entrance: clicks follow the user\'s broad interest; detail: similarity to the item on show', () => {
  const entrance = startWalk();
  const pEntranceFav = clickProbability(world, user, entrance, favourite[1]!, 0);
  const pEntranceForeign = clickProbability(world, user, entrance, foreign[1]!, 0);
  assert.ok(pEntranceFav > 10 * pEntranceForeign, `${pEntranceFav} vs ${pEntranceForeign}`);
  // On the detail page of a foreign item, its neighbours are what the user looks for, more than on the entrance page.
  const detail: WalkState = { ...entrance, page: { scenario: 'detail', itemId: foreign[0]! } };
  const pDetailForeign = clickProbability(world, user, detail, foreign[1]!, 0);
  assert.ok(pDetailForeign > 5 * pEntranceForeign, `${pDetailForeign} vs ${pEntranceForeign}`);
  assert.equal(clickProbability(world, user, detail, foreign[0]!, 0), 0, 'not the item already on show');
  assert.ok(clickProbability(world, user, entrance, favourite[1]!, 3) < pEntranceFav, 'lower positions are clicked less');
  assert.equal(clickProbability(world, user, entrance, 'unknown-item', 0), 0);
});

test('a click opens the clicked item\'s detail page, after explicit skips of the items above it', () => {
  const random = seeded(1);
  for (let i = 0; i < 50; i++) {
    const r = walkPage(world, user, startWalk(), [foreign[0]!, foreign[1]!, favourite[0]!, favourite[1]!], random, { ...DEFAULT_WALK, fatigue: 0 });
    if (r.clicked === null) continue;
    assert.deepEqual(r.actions.slice(0, r.clicked).map((a) => a.type), new Array(r.clicked).fill('skip'));
    assert.deepEqual(r.actions[r.clicked], { type: 'click', position: r.clicked });
    const shown = [foreign[0]!, foreign[1]!, favourite[0]!, favourite[1]!][r.clicked]!;
    assert.deepEqual(r.actions[r.clicked + 1], { type: 'page_change', from: 'entrance', to: 'detail', itemId: shown });
    assert.deepEqual(r.state.page, { scenario: 'detail', itemId: shown });
    assert.equal(r.state.poorPages, 0);
    return;
  }
  assert.fail('no click in 50 pages with two favourite items on show');
});

test('a leave follows the skips of every item but the last (the sessionizer gives that one the leave)', () => {
  const r = walkPage(world, user, startWalk(), foreign.slice(0, 4), seeded(2), { ...DEFAULT_WALK, fatigue: 1 });
  assert.deepEqual(r.actions.map((a) => a.type), ['skip', 'skip', 'skip', 'leave']);
  assert.equal(r.state.ended, true);
  assert.throws(() => walkPage(world, user, r.state, foreign.slice(0, 4), seeded(2)), /ended/);
});

test('patience: leaving gets likelier with each poor page in a row, and poor pages end sessions sooner', () => {
  const ps = [0, 1, 2, 3, 4].map((n) => leaveProbability(user, n));
  assert.equal(ps[0], 0);
  for (let i = 1; i < ps.length; i++) assert.ok(ps[i]! > ps[i - 1]!);
  const pagesUntilLeave = (shown: readonly string[], seed: number) => {
    const random = seeded(seed);
    let total = 0;
    for (let s = 0; s < 200; s++) {
      let state = startWalk();
      while (!state.ended) state = walkPage(world, user, state, shown, random).state;
      total += state.pages;
    }
    return total / 200;
  };
  const poor = pagesUntilLeave(foreign.slice(0, 5), 11);
  const good = pagesUntilLeave(favourite.slice(0, 5), 11);
  assert.ok(good > 2 * poor, `good pages keep users ${good} pages, poor ones ${poor}`);
});

test('the walk follows Figure 1 beyond the detail page: cart, then order with a purchase', () => {
  const random = seeded(3);
  const o = { ...DEFAULT_WALK, fatigue: 0, addToCart: 1, checkout: 1, clickMax: 0, clickFloor: 0 };
  const patient = { ...user, patience: 1e9 };
  let state: WalkState = { ...startWalk(), page: { scenario: 'detail', itemId: favourite[0]! } };
  const types: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = walkPage(world, patient, state, foreign.slice(0, 3), random, o);
    types.push(...r.actions.filter((a) => a.type !== 'skip').map((a) => (a.type === 'page_change' ? `${a.from}>${a.to}` : a.type)));
    state = r.state;
  }
  assert.deepEqual(types, ['add_to_cart', 'detail>cart', 'cart>order', 'purchase', 'order>entrance']);
  assert.deepEqual(state.ordered, [favourite[0]]);
  assert.deepEqual(state.cart, []);
});
