import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import {
  clickProbability, DEFAULT_WALK, fork, oraclePolicy, ORACLES, rewardOf, runOracles, runSessions, sample, startWalk, walkSession, World,
  type PagePolicy, type PageRequest,
} from '../../services/simulator/index.js';

test('on the default world, look-ahead beats greedy and scenario-specific beats shared, paired over the same sessions', () => {
  const r = runOracles({}, {}, { sessions: 250 });
  assert.equal(r.sessions, 250);
  const d = r.lookahead_minus_greedy;
  assert.ok(d.ci95[0] > 0 && d.relative > 0.2, `look-ahead − greedy ${d.mean.toFixed(2)} [${d.ci95.map((x) => x.toFixed(2))}], ${(100 * d.relative).toFixed(1)}% of greedy`);
  const s = r.scenario_specific_minus_shared;
  assert.ok(s.ci95[0] > 0 && s.relative > 0.5, `scenario-specific − shared ${s.mean.toFixed(2)} [${s.ci95.map((x) => x.toFixed(2))}]`);
  // Look-ahead trades a few clicks for purchases: where its edge comes from.
  assert.ok(r.lookahead.purchases > r.greedy.purchases);
  for (const name of ['lookahead', 'greedy', 'scenario_specific', 'shared'] as const) {
    const o = r[name];
    assert.ok(o.ci95[0] < o.mean && o.mean < o.ci95[1], `${name} interval`);
  }
});

const world = new World({ items: 300, clusters: 6, users: 60, dimension: 8, seed: 3 });

test('common random numbers: session i meets the same user with the same draws whatever the policy, and a policy run twice gives the same sessions', () => {
  const greedy = oraclePolicy(world, ORACLES.greedy);
  const options = { sessions: 40, seed: 9, k: 4 };
  const a = runSessions(world, greedy, options);
  const b = runSessions(world, oraclePolicy(world, ORACLES.greedy), options);
  assert.deepEqual(b, a);
  const random = (seed: number): PagePolicy => {
    const r = fork(seed, 0);
    return (q) => sample(r, q.candidates, q.k);
  };
  const c = runSessions(world, random(1), options);
  assert.deepEqual(c.map((s) => s.userId), a.map((s) => s.userId), 'the same users, session by session');
  // The first page's draws are the same too: with a policy that shows nothing clickable, both leave (or not) alike.
  const dull: PagePolicy = (q) => q.candidates.slice(0, q.k);
  const d1 = runSessions(world, dull, options).map((s) => s.records[0]!.result.actions.map((x) => x.type).join());
  const d2 = runSessions(world, dull, { ...options, histories: new Map() }).map((s) => s.records[0]!.result.actions.map((x) => x.type).join());
  assert.deepEqual(d1, d2);
  assert.notDeepEqual(runSessions(world, greedy, { ...options, seed: 10 }).map((s) => s.userId), a.map((s) => s.userId), 'another seed, other users');
});

test('a session: policies see ids only and the catalogue without the detail page\'s item; rewards add up; the history grows with clicks and purchases', () => {
  const seen: PageRequest[] = [];
  const oracle = oraclePolicy(world, ORACLES.lookahead);
  const spy: PagePolicy = (q) => {
    seen.push(q);
    return oracle(q);
  };
  const history = ['item-1'];
  const user = world.users[5]!;
  const out = walkSession(world, user, spy, { k: 4, sessionId: 's1', history }, fork(4, 4));
  assert.equal(out.pages, seen.length);
  assert.equal(out.records.length, out.pages);
  seen.forEach((q, step) => {
    assert.equal(q.step, step);
    assert.equal(q.userId, user.id);
    assert.equal(q.sessionId, 's1');
    if (q.scenario === 'detail') {
      assert.equal(q.candidates.length, world.items.length - 1);
      assert.ok(!q.candidates.includes(q.context!));
    } else assert.equal(q.candidates.length, world.items.length);
  });
  assert.equal(out.reward, out.records.reduce((a, r) => a + r.reward, 0));
  for (const r of out.records) {
    assert.equal(r.reward, rewardOf(r.result.actions));
    assert.ok(!('candidates' in r.request));
  }
  const clicked = out.records.flatMap((r) => (r.result.clicked === null ? [] : [r.shown[r.result.clicked]!]));
  const bought = out.records.flatMap((r) => r.result.actions.flatMap((a) => (a.type === 'purchase' ? a.itemIds : [])));
  assert.equal(out.clicks, clicked.length);
  assert.equal(out.purchases, bought.length);
  assert.equal(history.length, 1 + clicked.length + bought.length, 'appended in place');
  assert.deepEqual(seen[0]!.history, ['item-1']);
  assert.deepEqual(out.records.at(-1)!.request.history, history.slice(0, out.records.at(-1)!.request.history.length), 'each page sees a snapshot');
});

test('histories carry across sessions: a user\'s next session starts from what they clicked and bought before', () => {
  const histories = new Map<string, string[]>();
  const out = runSessions(world, oraclePolicy(world, ORACLES.greedy), { sessions: 120, seed: 2, k: 4, histories });
  const byUser = new Map<string, number>();
  for (const s of out) {
    const first = s.records[0]!.request.history.length;
    assert.equal(first, byUser.get(s.userId) ?? 0, `${s.sessionId} starts from the user's earlier sessions`);
    byUser.set(s.userId, first + s.clicks + s.purchases);
  }
  for (const [id, n] of byUser) assert.equal(histories.get(id)!.length, n);
});

test('a policy must answer k distinct candidates', () => {
  const user = world.users[0]!;
  const run = (policy: PagePolicy) => () => walkSession(world, user, policy, { k: 3, sessionId: 'x' }, fork(1, 1));
  assert.throws(run((q) => q.candidates.slice(0, 2)), /answered 2 items for a page of 3/);
  assert.throws(run((q) => [q.candidates[0]!, q.candidates[0]!, q.candidates[1]!]), /the same item twice/);
  assert.throws(run(() => ['item-0', 'item-1', 'nope']), /'nope', which is not a candidate/);
  assert.doesNotThrow(run((q) => q.candidates.slice(0, 10)), 'a longer ranking: the first k are shown');
  assert.throws(() => walkSession(world, user, (q) => q.candidates.slice(0, 3), { k: 3, sessionId: 'x', walk: { ...DEFAULT_WALK, fatigue: 2 } }, fork(1, 1)), /fatigue/);
});

test('the greedy oracle shows, slot by slot, the item most likely to be clicked there; the entrance feed is diverse', () => {
  const user = world.users[1]!;
  const page = oraclePolicy(world, ORACLES.greedy)({
    userId: user.id, sessionId: 's', scenario: 'entrance', context: null, state: startWalk(),
    history: [], shownThisSession: [], candidates: world.itemIds, k: 5, step: 0,
  });
  assert.equal(page.length, 5);
  page.forEach((id, slot) => {
    const p = (x: string) => clickProbability(world, user, startWalk(), x, slot, DEFAULT_WALK, page.slice(0, slot));
    const best = Math.max(...world.itemIds.filter((x) => !page.slice(0, slot).includes(x)).map(p));
    assert.ok(Math.abs(p(id) - best) < 1e-12, `slot ${slot}: ${p(id)} vs the best ${best}`);
  });
  assert.ok(new Set(page.map((id) => world.item(id).cluster)).size >= 2, 'not the five nearest items of one cluster');
});

const deepchain = (args: string[]) => spawnSync(process.execPath, ['services/cli/bin.mjs', ...args], { encoding: 'utf8' });

test('`deepchain simulate oracles` prints one JSON line for any world, and refuses bad flags naming them', () => {
  const r = deepchain(['simulate', 'oracles', '--sessions', '30', '--items', '300', '--users', '100', '--clusters', '6', '--patience', '3', '--redundancy', '0.4', '--reward-purchase', '4']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]!) as Record<string, any>;
  assert.equal(line.oracles, 'simulator');
  for (const k of ['lookahead', 'greedy', 'scenario_specific', 'shared']) {
    assert.equal(typeof line[k].mean, 'number');
    assert.equal(line[k].ci95.length, 2);
  }
  assert.equal(line.lookahead_minus_greedy.ci95.length, 2);
  assert.equal(line.sessions, 30);
  assert.equal(line.world.items, 300);
  assert.equal(line.world.patience, 3);
  assert.equal(line.walk.redundancy, 0.4);
  assert.equal(line.rewards.purchase, 4);
  const worse = deepchain(['simulate', 'oracles', '--redundancy', 'lots']);
  assert.notEqual(worse.status, 0);
  assert.match(worse.stderr, /--redundancy expects a number, got 'lots'/);
  const walk = deepchain(['simulate', 'oracles', '--sessions', '5', '--items', '100', '--users', '20', '--checkout', '1.5']);
  assert.notEqual(walk.status, 0);
  assert.match(walk.stderr, /checkout must be in \[0, 1\]/);
  assert.doesNotMatch(walk.stderr, /at .*\.ts/, 'no stack trace');
});
