import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SCENARIOS, type Transition, type UserEvent } from '../../services/common/index.js';
import { ItemVocabulary, resolveConfig, scenarioLayout, toReplayRecord } from '../../services/model/index.js';
import { flush, step, type DeadLetterNote } from '../../services/sessionizer/fold.js';
import { DEFAULT_SETTINGS, type SessionizerSettings, type UserState } from '../../services/sessionizer/state.js';

const S: SessionizerSettings = { ...DEFAULT_SETTINGS, graceMs: 0, sessionTimeoutMs: 60_000, waitWindowMs: 30_000 };

type Partial<E> = E extends UserEvent ? Omit<E, 'eventId' | 'userId' | 'sessionId' | 'scenario'> & { scenario?: E['scenario']; sessionId?: string } : never;
let n = 0;
function ev(e: Partial<UserEvent>): UserEvent {
  return { eventId: `e${n++}`, userId: 'u', sessionId: 's1', scenario: 'entrance', ...e } as UserEvent;
}
const rec = (t: number, requestId: string, items: string[], scenario: UserEvent['scenario'] = 'entrance', modelVersion = 7) =>
  ev({ type: 'recommendation', eventTime: t, scenario, requestId, items, propensities: items.map((_, i) => (i + 1) / 10), model: 'm', modelVersion });
const click = (t: number, requestId: string, itemId: string, position: number) => ev({ type: 'click', eventTime: t, requestId, itemId, position });
const skip = (t: number, requestId: string, itemId: string, position: number) => ev({ type: 'skip', eventTime: t, requestId, itemId, position });
const page = (t: number, from: UserEvent['scenario'], to: UserEvent['scenario'], itemId: string | null = null) =>
  ev({ type: 'page_change', eventTime: t, scenario: from, from, to, itemId });

/** Folds events in arrival order with the partition's stream time, as the loop does. */
function run(events: UserEvent[], settings = S, start?: UserState) {
  let state = start;
  let clock = Number.MIN_SAFE_INTEGER;
  const transitions: Transition[] = [];
  const deadLetters: DeadLetterNote[] = [];
  let duplicates = 0;
  for (const e of events) {
    clock = Math.max(clock, e.eventTime);
    const r = step(state, e, clock, settings);
    state = r.state;
    transitions.push(...r.transitions);
    deadLetters.push(...r.deadLetters);
    if (r.duplicate) duplicates++;
  }
  return { state: state!, transitions, deadLetters, duplicates, clock };
}
const brief = (t: Transition) => `${t.step}:${t.scenario}:${t.action}:${t.behaviour}`;

test('the whole chain: entrance → detail → detail → back to entrance → cart → order → leave', () => {
  const events = [
    rec(1000, 'r1', ['a', 'b', 'c']),
    click(2000, 'r1', 'b', 1),
    page(2100, 'entrance', 'detail', 'b'),
    rec(2200, 'r2', ['d', 'e'], 'detail'),
    click(3000, 'r2', 'e', 1),
    page(3100, 'detail', 'detail', 'e'),
    rec(3200, 'r3', ['f', 'g'], 'detail'),
    page(4000, 'detail', 'entrance'),
    rec(4100, 'r4', ['h', 'i'], 'entrance', 8),
    ev({ type: 'add_to_cart', eventTime: 4500, itemId: 'h' }),
    page(4600, 'entrance', 'cart'),
    rec(4700, 'r5', ['j'], 'cart'),
    page(5000, 'cart', 'order'),
    rec(5100, 'r6', ['k', 'l', 'm'], 'order'),
    ev({ type: 'purchase', eventTime: 6000, scenario: 'order', itemIds: ['l'] }),
    rec(6100, 'r7', ['n', 'o'], 'order'),
    ev({ type: 'leave', eventTime: 7000, scenario: 'order' }),
  ];
  const { state, transitions, deadLetters } = run(events);
  assert.deepEqual(deadLetters, []);
  assert.deepEqual(transitions.map(brief), [
    '0:entrance:a:skip', '1:entrance:b:click',
    '2:detail:d:skip', '3:detail:e:click',
    '4:detail:f:skip', '5:detail:g:skip', // passed over when the entrance list replaced them
    '6:entrance:h:skip', '7:entrance:i:skip',
    '8:cart:j:skip',
    '9:order:k:skip', '10:order:l:purchase',
    '11:order:n:skip', '12:order:o:leave',
  ]);
  // Each transition names its item's place in its list: a new list starts again at 0.
  assert.deepEqual(transitions.map((t) => t.position), [0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1]);
  const byStep = (s: number) => transitions[s]!;
  assert.deepEqual(byStep(1), {
    userId: 'u', sessionId: 's1', step: 1, scenario: 'entrance', state: [], action: 'b', behaviour: 'click', reward: 1,
    nextState: ['b'], nextScenario: 'detail', terminal: false, eventTime: 2000, modelVersion: 7, propensity: 0.2, position: 1,
  });
  assert.equal(byStep(0).nextScenario, 'entrance', 'skip on the entrance page stays there (graph)');
  assert.deepEqual(byStep(3).state, ['b']);
  assert.deepEqual(byStep(3).nextState, ['b', 'e']);
  assert.equal(byStep(4).nextScenario, 'entrance', 'skip on a detail page → entrance (paper Eq. 1)');
  assert.equal(byStep(4).eventTime, 4100, 'passed-over items are dated by the event that passed them over');
  assert.equal(byStep(6).modelVersion, 8);
  assert.equal(byStep(8).nextScenario, 'detail', 'cart skip → detail (graph)');
  assert.deepEqual(byStep(10).nextState, ['b', 'e', 'l'], 'purchases join the state like clicks');
  assert.equal(byStep(10).reward, 1);
  const leave = byStep(12);
  assert.equal(leave.reward, -2);
  assert.equal(leave.terminal, true);
  assert.equal(leave.nextScenario, null);
  assert.equal(leave.eventTime, 7000);
  assert.deepEqual(state.history, ['b', 'e', 'l'], 'history carries across sessions');
  assert.equal(state.session, null);
  assert.deepEqual(state.closedSessions, ['s1']);
  assert.equal(transitions.reduce((sum, t) => sum + t.reward, 0), 1 + 1 + 1 - 2);
});

test('a purchase of several items: one transition per purchased item, in display order, each of which the learner accepts', () => {
  const buy = (t: number, itemIds: string[]) => ev({ type: 'purchase', eventTime: t, scenario: 'order', itemIds });
  const { state, transitions, deadLetters } = run([
    rec(0, 'r0', ['h']),
    click(10, 'r0', 'h', 0),
    rec(20, 'r', ['k', 'l', 'm', 'n', 'o'], 'order'),
    // Listed out of display order, with an item the page did not show.
    buy(30, ['n', 'x', 'l']),
    rec(40, 'q', ['p'], 'order'),
  ]);
  assert.deepEqual(deadLetters, []);
  assert.deepEqual(transitions.map(brief), [
    '0:entrance:h:click',
    '1:order:k:skip', '2:order:l:purchase', '3:order:m:skip', '4:order:n:purchase', // o was not passed over
  ]);
  const order = transitions.slice(1);
  assert.deepEqual(order.map((t) => [t.state, t.nextState]), [
    [['h'], ['h']],
    [['h'], ['h', 'l']],
    [['h', 'l'], ['h', 'l']],
    [['h', 'l'], ['h', 'l', 'n']],
  ]);
  for (let i = 1; i < order.length; i++) assert.deepEqual(order[i]!.state, order[i - 1]!.nextState, 'each state is the previous next state');
  assert.ok(order.filter((t) => t.behaviour === 'purchase').every((t) => t.reward === S.rewards.purchase && t.nextScenario === 'order' && !t.terminal));
  assert.deepEqual(state.history, ['h', 'l', 'n', 'x'], 'the item the page did not show joins the history after them');
  // The learner's own check (services/model toReplayRecord) takes every one of them, as N = S.historyLength.
  const layout = scenarioLayout(resolveConfig({ scenarios: [...SCENARIOS] }));
  const vocabulary = new ItemVocabulary();
  for (const t of transitions) assert.doesNotThrow(() => toReplayRecord(t, vocabulary, layout, S.historyLength), `${brief(t)}`);
  // The same basket bought twice over one list (ids repeated): each id claims one shown item, once.
  const twice = run([rec(0, 'r', ['a', 'b', 'a'], 'order'), buy(10, ['a', 'a', 'a'])]);
  assert.deepEqual(twice.transitions.map(brief), ['0:order:a:purchase', '1:order:b:skip', '2:order:a:purchase']);
  assert.deepEqual(twice.state.history, ['a', 'a', 'a']);
  for (const t of twice.transitions) assert.doesNotThrow(() => toReplayRecord(t, vocabulary, layout, S.historyLength));
  // Replayed (same eventId), the purchase changes nothing.
  const p = buy(30, ['n', 'l']);
  const again = run([rec(20, 'r', ['k', 'l', 'm', 'n'], 'order'), p, p]);
  assert.equal(again.duplicates, 1);
  assert.deepEqual(again.transitions.map(brief), ['0:order:k:skip', '1:order:l:purchase', '2:order:m:skip', '3:order:n:purchase']);
});

test('skips with and without explicit skip events give the same transitions', () => {
  const explicit = run([rec(0, 'r', ['a', 'b', 'c']), skip(10, 'r', 'a', 0), skip(20, 'r', 'b', 1), click(30, 'r', 'c', 2)]);
  const implicit = run([rec(0, 'r', ['a', 'b', 'c']), click(30, 'r', 'c', 2)]);
  assert.deepEqual(explicit.transitions.map(brief), ['0:entrance:a:skip', '1:entrance:b:skip', '2:entrance:c:click']);
  assert.deepEqual(implicit.transitions.map(brief), explicit.transitions.map(brief));
  assert.deepEqual(explicit.transitions.map((t) => t.eventTime), [10, 20, 30]);
  assert.deepEqual(implicit.transitions.map((t) => t.eventTime), [30, 30, 30]);
  // Skipping every item explicitly resolves the list: a later leave has nothing to attach to.
  const allSkipped = run([rec(0, 'r', ['a', 'b']), skip(10, 'r', 'a', 0), skip(20, 'r', 'b', 1), ev({ type: 'leave', eventTime: 30 })]);
  assert.deepEqual(allSkipped.transitions.map(brief), ['0:entrance:a:skip', '1:entrance:b:skip']);
});

test('a session idle past the timeout is closed with an implied leave, by a later event or by flush alone', () => {
  const { state, transitions } = run([rec(1000, 'r', ['a', 'b'])]);
  assert.deepEqual(transitions, []);
  assert.deepEqual(flush(state, 1000 + S.sessionTimeoutMs - 1, S).transitions, [], 'not yet idle long enough');
  const closed = flush(state, 1000 + S.sessionTimeoutMs, S);
  assert.deepEqual(closed.transitions.map(brief), ['0:entrance:a:skip', '1:entrance:b:leave']);
  assert.equal(closed.transitions[1]!.eventTime, 1000 + S.sessionTimeoutMs);
  assert.equal(closed.state.session, null);
  // Same outcome when the next event (a new session) arrives first; a late event of the closed one is refused.
  const later = run([
    rec(1000, 'r', ['a', 'b']),
    { ...rec(1000 + S.sessionTimeoutMs + 5, 'q', ['x']), sessionId: 's2' },
    { ...click(1000 + S.sessionTimeoutMs + 6, 'r', 'a', 0), sessionId: 's1' },
  ]);
  assert.deepEqual(later.transitions.map(brief), closed.transitions.map(brief));
  assert.deepEqual(later.transitions.map((t) => t.eventTime), closed.transitions.map((t) => t.eventTime));
  assert.equal(later.deadLetters.length, 1);
  assert.match(later.deadLetters[0]!.reason, /session s1 is already closed/);
  // With grace, the timeout waits for the watermark (stream time − grace).
  const graced: SessionizerSettings = { ...S, graceMs: 500 };
  const g = run([rec(1000, 'r', ['a'])], graced);
  assert.deepEqual(flush(g.state, 1000 + S.sessionTimeoutMs + 499, graced).transitions, []);
  assert.equal(flush(g.state, 1000 + S.sessionTimeoutMs + 500, graced).transitions.length, 1);
});

test('another session of the same user closes the open one', () => {
  const { transitions } = run([rec(0, 'r', ['a', 'b']), { ...rec(100, 'q', ['c']), sessionId: 's2' }, { ...ev({ type: 'leave', eventTime: 200 }), sessionId: 's2' }]);
  assert.deepEqual(transitions.map((t) => `${t.sessionId}/${brief(t)}`), ['s1/0:entrance:a:skip', 's1/1:entrance:b:leave', 's2/0:entrance:c:leave']);
});

test('duplicate events (same event id) are dropped', () => {
  const r = rec(0, 'r', ['a', 'b']);
  const c = click(10, 'r', 'b', 1);
  const once = run([r, c]);
  const twice = run([r, r, c, c, r]);
  assert.equal(twice.duplicates, 3);
  assert.deepEqual(twice.transitions, once.transitions);
  assert.deepEqual(twice.deadLetters, []);
});

test('late events within grace are applied in event order; later ones are dead-lettered with the reason', () => {
  const graced: SessionizerSettings = { ...S, graceMs: 5_000 };
  const events = [rec(1000, 'r', ['a', 'b', 'c']), click(3000, 'r', 'c', 2), skip(2000, 'r', 'a', 0)];
  const held = run(events, graced);
  assert.deepEqual(held.transitions, [], 'nothing is applied before the watermark passes it');
  assert.equal(held.state.buffer.length, 3);
  const out = flush(held.state, 8000, graced);
  assert.deepEqual(out.transitions.map(brief), ['0:entrance:a:skip', '1:entrance:b:skip', '2:entrance:c:click']);
  assert.deepEqual(out.transitions.map((t) => t.eventTime), [2000, 3000, 3000], 'the explicit skip at 2000 came first');
  assert.deepEqual(out.deadLetters, []);

  // Below the watermark and before what the state already applied (the click at 3000): out of order for good.
  const tooLate = run([...events, rec(20_000, 'q', ['x']), skip(2_500, 'r', 'b', 1)], graced);
  assert.equal(tooLate.deadLetters.length, 1);
  assert.match(tooLate.deadLetters[0]!.reason, /^late: event time 2500 is 12500 ms before the watermark .* and 500 ms before the latest event its user's state reflects \(3000\)/);
});

test('an event below the watermark that is still in order for its user is applied, as after an outage', () => {
  const graced: SessionizerSettings = { ...S, graceMs: 5_000 };
  // Another user's events (or the wall clock) moved the partition's clock a minute ahead while this user's
  // client could not deliver: its click, a minute old, comes after everything its user has applied.
  const shown = run([rec(1_000, 'r', ['a', 'b'])], graced);
  const applied = flush(shown.state, 10_000, graced).state;
  assert.equal(applied.session?.lastActivity, 1_000);
  const late = step(applied, click(2_000, 'r', 'b', 1), 62_000, graced);
  assert.deepEqual(late.deadLetters, []);
  assert.deepEqual(late.transitions.map(brief), ['0:entrance:a:skip', '1:entrance:b:click']);
  // A second copy of it is a duplicate, and an event older than the click is now out of order.
  assert.equal(step(late.state, { ...click(2_000, 'r', 'b', 1), eventId: late.state.recentIds.at(-1)! }, 62_000, graced).duplicate, true);
  assert.match(step(late.state, skip(1_500, 'r', 'a', 0), 62_000, graced).deadLetters[0]!.reason, /^late: /);
});

test('an item without feedback within the wait window becomes a skip; feedback after it is dead-lettered', () => {
  const { transitions, deadLetters } = run([
    rec(0, 'r', ['a', 'b']),
    page(S.waitWindowMs + 1, 'entrance', 'cart'),
    click(S.waitWindowMs + 2, 'r', 'b', 1),
  ]);
  assert.deepEqual(transitions.map(brief), ['0:entrance:a:skip', '1:entrance:b:skip']);
  assert.deepEqual(transitions.map((t) => t.eventTime), [S.waitWindowMs + 1, S.waitWindowMs + 1]);
  assert.equal(deadLetters.length, 1);
  assert.match(deadLetters[0]!.reason, /click on request r, which has no items waiting for feedback/);
  // Within the window the list keeps waiting, even across a page change.
  const within = run([rec(0, 'r', ['a', 'b']), page(10, 'entrance', 'cart'), click(20, 'r', 'b', 1)]);
  assert.deepEqual(within.transitions.map(brief), ['0:entrance:a:skip', '1:entrance:b:click']);
});

test('feedback that cannot be joined is dead-lettered and changes nothing', () => {
  const { transitions, deadLetters, state } = run([
    click(0, 'nope', 'a', 0),
    rec(10, 'r', ['a', 'b']),
    click(20, 'r', 'x', 1),
    click(30, 'r', 'a', 5),
    skip(40, 'r', 'a', 0),
    skip(50, 'r', 'a', 0),
    ev({ type: 'recommendation', eventTime: 60, requestId: 'z', items: [], propensities: [], model: 'm', modelVersion: 1 }),
  ]);
  assert.deepEqual(transitions.map(brief), ['0:entrance:a:skip']);
  assert.equal(deadLetters.length, 5);
  assert.match(deadLetters[1]!.reason, /item x at position 1 of request r: not an item still waiting/);
  assert.match(deadLetters[3]!.reason, /waiting: positions 1\.\.1/);
  assert.match(deadLetters[4]!.reason, /shows no items/);
  assert.equal(state.session!.pending!.next, 1);
});

test('the state holds at most N items, oldest dropped first', () => {
  const small: SessionizerSettings = { ...S, historyLength: 3 };
  const events: UserEvent[] = [];
  for (let i = 0; i < 6; i++) events.push(rec(i * 100, `r${i}`, [`x${i}`]), click(i * 100 + 50, `r${i}`, `x${i}`, 0));
  const { state, transitions } = run(events, small);
  assert.deepEqual(state.history, ['x3', 'x4', 'x5']);
  assert.ok(transitions.every((t) => t.state.length <= 3 && t.nextState.length <= 3));
  assert.deepEqual(transitions[5]!.state, ['x2', 'x3', 'x4']);
});

test('rewards come from the settings', () => {
  const custom: SessionizerSettings = { ...S, rewards: { click: 5, skip: -0.5, leave: -10, purchase: 20 } };
  const { transitions } = run([rec(0, 'r', ['a', 'b', 'c']), click(10, 'r', 'b', 1), rec(20, 'q', ['d', 'e']), ev({ type: 'leave', eventTime: 30 })], custom);
  assert.deepEqual(transitions.map((t) => t.reward), [-0.5, 5, -0.5, -10]);
});

test('inputs are never changed: the fold is pure', () => {
  const events = [rec(0, 'r', ['a', 'b']), click(10, 'r', 'b', 1)];
  const first = run(events.slice(0, 1));
  const frozen = JSON.stringify(first.state);
  step(first.state, events[1]!, 10, S);
  flush(first.state, 10 ** 9, S);
  assert.equal(JSON.stringify(first.state), frozen);
});
