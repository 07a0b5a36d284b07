import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  addToCartProbabilities, addToCartProbability, affinity, clickProbability, DEFAULT_WALK, leaveProbability, logistic, pageAffinities,
  rewardOf, seeded, SIMULATOR_REWARDS, similarity, startWalk, validateWalk, walkPage, World, type Random, type WalkState,
} from '../../services/simulator/index.js';

const world = new World({ items: 80, clusters: 4, users: 30, dimension: 8, seed: 5 });
const user = world.users[0]!;
const inCluster = (c: number) => world.items.filter((i) => i.cluster === c).map((i) => i.id);
const favourite = inCluster(user.favourite);
const otherCluster = [0, 1, 2, 3].find((c) => c !== user.favourite && c !== user.second)!;
const foreign = inCluster(otherCluster);
const o = DEFAULT_WALK;
const interest = (id: string) => similarity(user.interest, world.item(id).vector);
const base = (a: number, position = 0) => (o.clickFloor + (o.clickMax - o.clickFloor) * logistic(a, o.threshold, o.sharpness)) * o.positionDecay ** position;
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);
/** A random stream that plays `draws` in order (then 0.5s): each page draws fatigue, add, checkout, one per slot, leave. */
const scripted = (...draws: number[]): Random => () => draws.shift() ?? 0.5;
const at = (page: WalkState['page'], rest: Partial<WalkState> = {}): WalkState => ({ ...startWalk(), page, ...rest });

test('the click model by hand: floor + (max − floor)·σ(sharpness·(affinity − threshold)), times the position bias', () => {
  const id = favourite[2]!;
  close(clickProbability(world, user, startWalk(), id, 0), base(interest(id)), 'first position');
  close(clickProbability(world, user, startWalk(), id, 3), base(interest(id), 3), 'fourth position');
  assert.equal(clickProbability(world, user, startWalk(), 'unknown-item', 0), 0);
});

test('scenarios have different objectives: entrance follows the interest, detail the page\'s item', () => {
  const entrance = startWalk();
  assert.ok(clickProbability(world, user, entrance, favourite[1]!, 0) > 10 * clickProbability(world, user, entrance, foreign[1]!, 0));
  const detail = at({ scenario: 'detail', itemId: foreign[0]! });
  const expected = o.detailWeight * similarity(world.item(foreign[0]!).vector, world.item(foreign[1]!).vector) + (1 - o.detailWeight) * interest(foreign[1]!);
  close(affinity(world, user, detail, foreign[1]!), expected, 'detail affinity');
  assert.ok(clickProbability(world, user, detail, foreign[1]!, 0) > 5 * clickProbability(world, user, entrance, foreign[1]!, 0), 'the neighbours of the item on show');
  assert.equal(clickProbability(world, user, detail, foreign[0]!, 0), 0, 'not the item already on show');
});

test('entrance diversity: each item of the same cluster higher on the page multiplies the click probability by `redundancy`', () => {
  const id = favourite[1]!;
  const alone = clickProbability(world, user, startWalk(), id, 2, o, [foreign[0]!, foreign[1]!]);
  const afterOne = clickProbability(world, user, startWalk(), id, 2, o, [favourite[0]!, foreign[1]!]);
  const afterTwo = clickProbability(world, user, startWalk(), id, 2, o, [favourite[0]!, favourite[2]!]);
  close(alone, base(interest(id), 2), 'no same-cluster item above');
  close(afterOne, o.redundancy * alone, 'one above');
  close(afterTwo, o.redundancy ** 2 * alone, 'two above');
  // So the best feed is not the k nearest items: a fresh cluster can beat a fourth item of the favourite one.
  const detail = at({ scenario: 'detail', itemId: favourite[3]! });
  close(clickProbability(world, user, detail, id, 2, o, [favourite[0]!, favourite[2]!]), clickProbability(world, user, detail, id, 2, o, []), 'no diversity rule on detail pages');
});

test('cart: items that go with the basket (the hidden complement cluster), blended with the interest', () => {
  const a = world.item(favourite[0]!);
  const cart = at({ scenario: 'cart' }, { cart: [a.id], lastDetail: a.id });
  const partner = inCluster(world.complement[a.cluster]!)[0]!;
  const sibling = favourite[1]!;
  for (const id of [partner, sibling]) {
    close(affinity(world, user, cart, id), o.basketWeight * world.goesWith(a, world.item(id)) + (1 - o.basketWeight) * interest(id), `cart affinity of ${id}`);
  }
  assert.ok(clickProbability(world, user, cart, partner, 0) > clickProbability(world, user, cart, sibling, 0), 'what goes with the cart beats more of the same');
  assert.equal(clickProbability(world, user, cart, a.id, 0), 0, 'not what is in the cart already');
  // The best fit over the basket's items counts.
  const b = world.item(foreign[0]!);
  const two = at({ scenario: 'cart' }, { cart: [a.id, b.id] });
  close(affinity(world, user, two, partner), o.basketWeight * Math.max(world.goesWith(a, world.item(partner)), world.goesWith(b, world.item(partner))) + (1 - o.basketWeight) * interest(partner), 'two items');
  // Order page: like what was bought.
  const order = at({ scenario: 'order' }, { ordered: [a.id] });
  close(affinity(world, user, order, sibling), o.basketWeight * similarity(a.vector, world.item(sibling).vector) + (1 - o.basketWeight) * interest(sibling), 'order affinity');
});

test('fatigue from repetition: each earlier showing in the session multiplies an item\'s click probability by `repeatDecay`', () => {
  const id = favourite[1]!;
  const fresh = clickProbability(world, user, startWalk(), id, 0);
  close(clickProbability(world, user, at({ scenario: 'entrance' }, { seen: [id, favourite[2]!] }), id, 0), o.repeatDecay * fresh, 'shown once');
  close(clickProbability(world, user, at({ scenario: 'entrance' }, { seen: [id, id] }), id, 0), o.repeatDecay ** 2 * fresh, 'shown twice');
  // The walk records what it showed.
  const r = walkPage(world, user, startWalk(), [id, foreign[0]!], scripted(0.99, 0.5, 0.5, 0.99, 0.99, 0.99));
  assert.deepEqual(r.state.seen, [id, foreign[0]!]);
});

test('add to cart: addToCart·σ(buySharpness·(want − buyThreshold)), want the better of interest fit and fit to the cart', () => {
  const ids = favourite.concat(foreign);
  const byWant = [...ids].sort((x, y) => interest(y) - interest(x));
  const wanted = byWant[0]!;
  const unwanted = byWant.at(-1)!;
  const none = startWalk();
  close(addToCartProbability(world, user, none, wanted), o.addToCart * logistic(interest(wanted), o.buyThreshold, o.buySharpness), 'empty cart');
  assert.ok(addToCartProbability(world, user, none, wanted) > 0.3 && addToCartProbability(world, user, none, unwanted) < 0.01,
    `wanted ${addToCartProbability(world, user, none, wanted)}, unwanted ${addToCartProbability(world, user, none, unwanted)}`);
  const a = world.item(unwanted);
  const partner = inCluster(world.complement[a.cluster]!).sort((x, y) => world.goesWith(a, world.item(y)) - world.goesWith(a, world.item(x)))[0]!;
  const withCart = at({ scenario: 'detail', itemId: partner }, { cart: [a.id] });
  const want = Math.max(interest(partner), world.goesWith(a, world.item(partner)));
  close(addToCartProbability(world, user, withCart, partner), o.addToCart * logistic(want, o.buyThreshold, o.buySharpness), 'with a cart');
  assert.equal(addToCartProbability(world, user, withCart, a.id), 0, 'in the cart already');
  assert.equal(addToCartProbability(world, user, at({ scenario: 'entrance' }, { purchased: [wanted] }), wanted), 0, 'bought in this session already');
});

test('cross-page: a clicked item reaches the cart with its add-to-cart probability, straight from the click (its list never shown)', () => {
  const wanted = [...favourite].sort((x, y) => interest(y) - interest(x))[0]!;
  const unwanted = [...foreign].sort((x, y) => interest(x) - interest(y))[0]!;
  const p = addToCartProbability(world, user, startWalk(), wanted);
  const click0 = (id: string, add: number) => {
    const q = clickProbability(world, user, startWalk(), id, 0);
    return walkPage(world, user, startWalk(), [id, foreign[5]!], scripted(0.99, add, 0.99, q - 1e-9));
  };
  const added = click0(wanted, p - 1e-9);
  assert.deepEqual(added.actions, [
    { type: 'click', position: 0 }, { type: 'page_change', from: 'entrance', to: 'detail', itemId: wanted },
    { type: 'add_to_cart', itemId: wanted }, { type: 'page_change', from: 'detail', to: 'cart', itemId: null },
  ]);
  assert.equal(added.clicked, 0);
  assert.deepEqual(added.state.cart, [wanted]);
  assert.deepEqual(added.state.page, { scenario: 'cart' });
  assert.equal(added.state.lastDetail, wanted);
  const kept = click0(wanted, p + 1e-9);
  assert.deepEqual(kept.state.cart, [], 'a draw above the probability: not added');
  assert.deepEqual(kept.state.page, { scenario: 'detail', itemId: wanted });
  // So what a page shows decides what can reach the cart: a click on an unwanted item loses the purchase.
  assert.ok(addToCartProbability(world, user, startWalk(), unwanted) < 0.01);
  assert.ok(!click0(unwanted, p - 1e-9).actions.some((a) => a.type === 'add_to_cart'));
});

test('checkout turns the cart into a purchase, and a purchased item is worth more than a click', () => {
  const wanted = [...favourite].sort((x, y) => interest(y) - interest(x))[0]!;
  const inCart = foreign[0]!;
  const state = at({ scenario: 'detail', itemId: favourite[4]! }, { cart: [inCart] });
  const q = clickProbability(world, user, state, wanted, 0);
  const p = addToCartProbability(world, user, state, wanted);
  const r = walkPage(world, user, state, [wanted, foreign[6]!], scripted(0.99, p - 1e-9, o.checkout - 1e-9, q - 1e-9));
  const cart = [inCart, wanted];
  assert.deepEqual(r.actions.slice(2), [
    { type: 'add_to_cart', itemId: wanted }, { type: 'page_change', from: 'detail', to: 'cart', itemId: null },
    { type: 'page_change', from: 'cart', to: 'order', itemId: null }, { type: 'purchase', itemIds: cart },
  ]);
  assert.deepEqual(r.state.cart, []);
  assert.deepEqual(r.state.ordered, cart);
  assert.deepEqual(r.state.purchased, cart);
  assert.deepEqual(r.state.page, { scenario: 'order' });
  assert.equal(rewardOf(r.actions), SIMULATOR_REWARDS.click + 2 * SIMULATOR_REWARDS.purchase);
  assert.ok(SIMULATOR_REWARDS.purchase > SIMULATOR_REWARDS.click);
  assert.deepEqual(SIMULATOR_REWARDS, { click: 1, skip: 0, leave: -2, purchase: 5 });
  const noCheckout = walkPage(world, user, state, [wanted, foreign[6]!], scripted(0.99, p - 1e-9, o.checkout + 1e-9, q - 1e-9));
  assert.deepEqual(noCheckout.state.cart, cart, 'a draw above `checkout`: the cart waits');
  assert.deepEqual(noCheckout.state.page, { scenario: 'cart' });
  // By hand: two skips, a click, a leave elsewhere; rewards configurable.
  assert.equal(rewardOf([{ type: 'skip', position: 0 }, { type: 'click', position: 1 }]), 1);
  assert.equal(rewardOf([{ type: 'skip', position: 0 }, { type: 'leave' }]), -2);
  assert.equal(rewardOf([{ type: 'purchase', itemIds: ['a', 'b', 'c'] }], { click: 1, skip: 0, leave: -2, purchase: 2 }), 6);
});

test('a click opens the clicked item\'s detail page, after explicit skips of the items above it', () => {
  const shown = [foreign[0]!, foreign[1]!, favourite[0]!, favourite[1]!];
  const p2 = clickProbability(world, user, startWalk(), favourite[0]!, 2, o, shown.slice(0, 2));
  const r = walkPage(world, user, startWalk(), shown, scripted(0.99, 0.99, 0.5, 0.99, 0.99, p2 - 1e-9, 0.5, 0.5));
  assert.equal(r.clicked, 2);
  assert.deepEqual(r.actions, [
    { type: 'skip', position: 0 }, { type: 'skip', position: 1 }, { type: 'click', position: 2 },
    { type: 'page_change', from: 'entrance', to: 'detail', itemId: favourite[0] },
  ]);
  assert.deepEqual(r.state.page, { scenario: 'detail', itemId: favourite[0] });
  assert.equal(r.state.lastDetail, favourite[0]);
  assert.equal(r.state.poorPages, 0);
});

test('every page draws the same number of random numbers, whatever happens on it (common random numbers)', () => {
  const counting = () => {
    const r = seeded(3);
    const c = { n: 0, random: () => (c.n++, r()) };
    return c;
  };
  for (const [state, shown] of [
    [startWalk(), favourite.slice(0, 4)], [startWalk(), foreign.slice(0, 4)],
    [at({ scenario: 'detail', itemId: favourite[0]! }), favourite.slice(1, 5)], [at({ scenario: 'cart' }, { cart: [favourite[0]!] }), foreign.slice(0, 4)],
  ] as const) {
    for (let i = 0; i < 20; i++) {
      const c = counting();
      for (let j = 0; j < i; j++) c.random();
      const before = c.n;
      walkPage(world, user, state, shown, c.random);
      assert.equal(c.n - before, shown.length + 4);
    }
  }
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
  // Repetition off, so a page shown again is as good (or poor) as the first time.
  const walk = { ...DEFAULT_WALK, repeatDecay: 1, addToCart: 0 };
  const pagesUntilLeave = (shown: readonly string[], seed: number) => {
    const random = seeded(seed);
    let total = 0;
    for (let s = 0; s < 200; s++) {
      let state = startWalk();
      while (!state.ended) state = walkPage(world, user, state, state.page.scenario === 'detail' ? shown.filter((id) => id !== (state.page as { itemId: string }).itemId).slice(0, 4) : shown.slice(0, 4), random, walk).state;
      total += state.pages;
    }
    return total / 200;
  };
  const poor = pagesUntilLeave(foreign.slice(0, 5), 11);
  const good = pagesUntilLeave([...favourite].sort((x, y) => interest(y) - interest(x)).slice(0, 5), 11);
  assert.ok(good > 2 * poor, `good pages keep users ${good} pages, poor ones ${poor}`);
});

test('the walk follows Figure 1 beyond the detail page: cart, then order with a purchase, and back', () => {
  const walk = { ...DEFAULT_WALK, fatigue: 0, addToCart: 1, buyThreshold: -1, checkout: 1, clickFloor: 1, clickMax: 1 };
  const patient = { ...user, patience: 1e9 };
  const types = (r: ReturnType<typeof walkPage>) => r.actions.filter((a) => a.type !== 'skip').map((a) => (a.type === 'page_change' ? `${a.from}>${a.to}` : a.type));
  const bought = walkPage(world, patient, startWalk(), [favourite[0]!], seeded(3), walk);
  assert.deepEqual(types(bought), ['click', 'entrance>detail', 'add_to_cart', 'detail>cart', 'cart>order', 'purchase']);
  assert.deepEqual(bought.state.ordered, [favourite[0]]);
  assert.deepEqual(bought.state.cart, []);
  const none = { ...walk, clickFloor: 0, clickMax: 0 };
  assert.deepEqual(types(walkPage(world, patient, bought.state, foreign.slice(0, 3), seeded(3), none)), ['order>entrance']);
  const waiting = at({ scenario: 'cart' }, { cart: [favourite[0]!], lastDetail: favourite[0]! });
  const back = walkPage(world, patient, waiting, foreign.slice(0, 3), seeded(3), none);
  assert.deepEqual(types(back), ['cart>detail']);
  assert.deepEqual(back.state.page, { scenario: 'detail', itemId: favourite[0] });
  assert.deepEqual(types(walkPage(world, patient, back.state, foreign.slice(0, 3), seeded(3), none)), ['detail>entrance']);
});

test('the whole-catalogue scoring the oracles use gives the same numbers as the per-item functions', () => {
  const a = favourite[0]!;
  const states: WalkState[] = [
    startWalk(), at({ scenario: 'detail', itemId: foreign[2]! }), at({ scenario: 'cart' }, { cart: [a, foreign[1]!] }),
    at({ scenario: 'order' }, { ordered: [a] }), at({ scenario: 'cart' }, { cart: [] }), at({ scenario: 'entrance' }, { cart: [a], purchased: [foreign[3]!] }),
  ];
  for (const state of states) {
    const all = pageAffinities(world, user, state);
    const buy = addToCartProbabilities(world, user, state);
    world.items.forEach((item, n) => {
      close(all[n]!, affinity(world, user, state, item.id), `${state.page.scenario} affinity of ${item.id}`);
      close(buy[n]!, addToCartProbability(world, user, state, item.id), `add-to-cart of ${item.id}`);
    });
  }
});

test('walk options out of range are refused with the option named', () => {
  assert.doesNotThrow(() => validateWalk(DEFAULT_WALK));
  assert.throws(() => validateWalk({ ...DEFAULT_WALK, redundancy: 1.5 }), /redundancy must be in \[0, 1\]/);
  assert.throws(() => validateWalk({ ...DEFAULT_WALK, clickFloor: 0.9 }), /clickFloor \(0.9\) must not exceed clickMax/);
  assert.throws(() => validateWalk({ ...DEFAULT_WALK, buyThreshold: 2 }), /buyThreshold must be in/);
  assert.throws(() => validateWalk({ ...DEFAULT_WALK, maxPages: 0 }), /maxPages must be a positive integer/);
  assert.throws(() => validateWalk({ ...DEFAULT_WALK, buySharpness: 0 }), /buySharpness must be a finite number > 0/);
});
