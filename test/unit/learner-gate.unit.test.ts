/**
 * The release gate (services/learner/validation.ts) on a trained model and the same model ranking in
 * reverse: logged pages from held-out transitions, the re-ordering policy's π, and the decisions.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { Transition } from '../../services/common/index.js';
import { deepChainFromWeights, encodeWeights, selectBackend, type DeepChainModel } from '../../services/model/index.js';
import {
  challengerEligible, DEFAULT_GATE, judgeSnapshot, loggedPages, reorderingFromScores, reorderingProbabilities, type PublishRules, type Verdict,
} from '../../services/learner/validation.js';
import { gateTrainer, syntheticTransitions } from '../support/transitions.js';

const losses = { criticLoss: 1, actorLoss: -1, probabilityLoss: 0.5, meanTarget: 0, flops: 0 };
const rules: PublishRules = {
  everySteps: 10, everyMs: 1000, maxLoss: 100,
  gate: { ...DEFAULT_GATE, minPages: 200, minEffectiveSampleSize: 20, resamples: 300 },
};

let trained: DeepChainModel;
let reversed: DeepChainModel;
let heldOut: readonly Transition[];

/** The same actors with the output layer negated: a_t → −a_t, so every ranking is reversed. */
function reverse(model: DeepChainModel): DeepChainModel {
  const snapshot = model.snapshot({ only: 'actors' });
  const tensors = snapshot.tensors.map((t) => (/^actor\.[a-z]+\.out\./.test(t.name) ? { ...t, values: t.values.map((v) => -v) } : t));
  return deepChainFromWeights(encodeWeights({ ...snapshot, tensors }));
}

before(async () => {
  await selectBackend({ prefer: 'cpu' });
  const trainer = gateTrainer();
  trainer.ingest(syntheticTransitions(1500, 7, 300, 0.1));
  for (let i = 0; i < 300; i++) trainer.step();
  trainer.refreshEmbeddings();
  trained = trainer.model;
  reversed = reverse(trained);
  heldOut = trainer.heldOut;
});

const t = (over: Partial<Transition>): Transition => ({
  userId: 'u', sessionId: 's', step: 0, scenario: 'entrance', state: [], action: 'x', behaviour: 'skip', reward: 0,
  nextState: [], nextScenario: 'entrance', terminal: false, eventTime: 0, modelVersion: 1, propensity: 0.5, ...over,
});

test('logged pages: one per user, session, scenario and state, in step order; pages missing a propensity or an agent are left out', () => {
  const { pages, views } = loggedPages([
    t({ step: 1, action: 'b', propensity: 0.25 }),
    t({ step: 0, action: 'a', propensity: 0.9 }),
    t({ step: 2, action: 'c', behaviour: 'click', reward: 1 }),
    t({ step: 3, state: ['c'], scenario: 'detail', action: 'd' }),
    t({ step: 4, state: ['c'], scenario: 'detail', action: 'e', propensity: null }),
    t({ sessionId: 's2', step: 0, scenario: 'cart', action: 'f' }),
  ], ['entrance', 'detail']);
  assert.equal(pages.length, 1);
  assert.deepEqual(pages[0]!.shown, [
    { item: 'a', propensity: 0.9, reward: 0 }, { item: 'b', propensity: 0.25, reward: 0 }, { item: 'c', propensity: 0.5, reward: 1 },
  ]);
  assert.deepEqual(views, [{ scenario: 'entrance', state: [], items: ['a', 'b', 'c'] }]);
});

test('two lists shown in the same state are two pages: a page ends where the list position does not increase', () => {
  const { views } = loggedPages([
    t({ step: 0, action: 'a', position: 0 }),
    t({ step: 1, action: 'b', position: 1 }),
    t({ step: 2, action: 'c', position: 0 }),
    t({ step: 3, action: 'd', position: 1 }),
    t({ step: 4, action: 'e', position: 2 }),
    t({ step: 5, action: 'f', position: 0 }),
  ], ['entrance']);
  assert.deepEqual(views.map((v) => v.items), [['a', 'b'], ['c', 'd', 'e'], ['f']]);
  const { views: old } = loggedPages([t({ step: 0, action: 'a' }), t({ step: 1, action: 'b' })], ['entrance']);
  assert.deepEqual(old.map((v) => v.items), [['a', 'b']], 'without positions, one page per state as before');
});

test('the re-ordering policy picks, at each position, its best-scored item among that one and those below', () => {
  const { views } = loggedPages(heldOut, ['entrance', 'detail']);
  const pi = reorderingProbabilities(trained, views);
  const piReversed = reorderingProbabilities(reversed, views);
  let checked = 0;
  views.slice(0, 50).forEach((view, p) => {
    const index = (id: string) => trained.vocabulary.indexOf(id)!;
    const scores = trained.score(trained.act(view.scenario, view.state.map(index)), view.items.map(index));
    view.items.forEach((_, k) => {
      const rest = Array.from(scores.slice(k));
      const expected = rest.every((s, j) => j === 0 || s <= scores[k]!) ? 1 : 0;
      assert.equal(pi[p]![k], expected, `page ${p} position ${k}`);
      // Reversed, the last position is the only choice left, and a strict best becomes a strict worst.
      if (k === view.items.length - 1) assert.equal(piReversed[p]![k], 1);
      checked++;
    });
  });
  assert.ok(checked > 50);
  const unknown = reorderingProbabilities(trained, [{ scenario: 'entrance', state: [], items: ['never-seen', views[0]!.items[0]!] }]);
  assert.deepEqual(unknown, [[0, 1]], 'an item without an embedding is never the first choice');
});

test('a memo of the served version\'s π scores each page once, gives the same π, and drops pages gone from the window', () => {
  const { views } = loggedPages(heldOut, ['entrance', 'detail']);
  let acts = 0;
  const counting = new Proxy(reversed, {
    get: (target, name, receiver) => (name === 'act' ? (...a: Parameters<DeepChainModel['act']>) => { acts++; return target.act(...a); } : Reflect.get(target, name, receiver)),
  });
  const memo = new Map<string, readonly number[]>();
  const first = reorderingProbabilities(counting, views.slice(0, 40), memo);
  assert.deepEqual(first, reorderingProbabilities(reversed, views.slice(0, 40)));
  const scoredFirst = acts;
  assert.ok(scoredFirst > 0 && memo.size <= 40);
  // The window moves by 10 pages: at most those 10 are scored, and the pages that left are forgotten.
  const second = reorderingProbabilities(counting, views.slice(10, 50), memo);
  assert.deepEqual(second, reorderingProbabilities(reversed, views.slice(10, 50)));
  assert.ok(acts - scoredFirst <= 10, `${acts - scoredFirst} pages scored again`);
  assert.equal(memo.size, new Set(views.slice(10, 50).map((v) => JSON.stringify(v))).size);
  const scoredSecond = acts;
  assert.deepEqual(reorderingProbabilities(counting, views.slice(10, 50), memo), second);
  assert.equal(acts, scoredSecond, 'the same window again scores nothing');
});

test('the re-ordering rule from scores: 1 where a position\'s score is the best of it and those below, ties to the higher position', () => {
  assert.deepEqual(reorderingFromScores([3, 1, 2]), [1, 0, 1]);
  assert.deepEqual(reorderingFromScores([1, 2, 3]), [0, 0, 1]);
  assert.deepEqual(reorderingFromScores([2, 2, 1]), [1, 1, 1]);
  assert.deepEqual(reorderingFromScores([1, 3, 3]), [0, 1, 1]);
  assert.deepEqual(reorderingFromScores([Number.NEGATIVE_INFINITY, 5]), [0, 1]);
  assert.deepEqual(reorderingFromScores([Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY]), [1, 1]);
  assert.deepEqual(reorderingFromScores([]), []);
  // The model's π is the rule applied to its scores of the shown items.
  const { views } = loggedPages(heldOut, ['entrance', 'detail']);
  const index = (id: string) => trained.vocabulary.indexOf(id)!;
  const pi = reorderingProbabilities(trained, views.slice(0, 20));
  views.slice(0, 20).forEach((view, p) => {
    const scores = Array.from(trained.score(trained.act(view.scenario, view.state.map(index)), view.items.map(index)));
    assert.deepEqual(pi[p], reorderingFromScores(scores), `page ${p}`);
  });
});

test('the gate promotes a trained candidate over a reversed served version, and rejects the reverse, with its numbers', () => {
  const better = judgeSnapshot({ losses, candidate: trained, served: { version: 4, pinned: false, model: reversed }, heldOut, rules });
  assert.equal(better.ok, true, better.reasons.join('; '));
  assert.equal(better.decision.outcome, 'promoted');
  assert.equal(better.decision.baselineVersion, 4);
  assert.ok(better.metrics.differenceLow! > 0, `lower bound ${better.metrics.differenceLow}`);
  assert.ok(better.metrics.gatePages! >= rules.gate.minPages);
  assert.match(better.reasons[0]!, /snips reward per page, candidate − live version 4: .* lower bound clears the margin 0/);

  const worse = judgeSnapshot({ losses, candidate: reversed, served: { version: 5, pinned: true, model: trained }, heldOut, rules });
  assert.equal(worse.ok, false);
  assert.equal(worse.decision.outcome, 'rejected');
  assert.equal(worse.decision.baselinePinned, true);
  assert.ok(worse.metrics.differenceHigh! < 0);
  assert.match(worse.reasons[0]!, /candidate − pinned version 5: .* lower bound does not clear the margin 0/);
  assert.deepEqual(worse.decision.numbers, worse.metrics);
});

test('a candidate that orders every page as the served version does shows no improvement and is not promoted', () => {
  const same = judgeSnapshot({ losses, candidate: trained, served: { version: 1, pinned: false, model: trained }, heldOut, rules });
  assert.equal(same.metrics.difference, 0);
  assert.equal(same.metrics.differenceLow, 0);
  assert.equal(same.ok, false);
  assert.match(same.reasons[0]!, /lower bound does not clear the margin 0/);
  const lenient = judgeSnapshot({ losses, candidate: trained, served: { version: 1, pinned: false, model: trained }, heldOut, rules: { ...rules, gate: { ...rules.gate, margin: -0.01 } } });
  assert.equal(lenient.ok, true, 'a negative margin accepts a candidate no worse than that');
});

test('too little held-out data, diverged losses, the first version and a switched-off gate', () => {
  const few = judgeSnapshot({ losses, candidate: trained, served: { version: 2, pinned: false, model: reversed }, heldOut: heldOut.slice(0, 100), rules });
  assert.equal(few.ok, false);
  assert.match(few.reasons[0]!, /not enough held-out data to compare with the live version 2: \d+ logged pages, fewer than the minimum of 200/);

  const diverged = judgeSnapshot({ losses: { ...losses, criticLoss: Number.NaN }, candidate: trained, served: null, heldOut, rules });
  assert.equal(diverged.ok, false);
  assert.match(diverged.reasons[0]!, /critic loss NaN diverged/);
  assert.equal(judgeSnapshot({ losses: { ...losses, probabilityLoss: 1e6 }, candidate: trained, served: null, heldOut, rules }).ok, false);

  const first = judgeSnapshot({ losses, candidate: trained, served: null, heldOut, rules });
  assert.equal(first.ok, true);
  assert.equal(first.decision.baselineVersion, null);
  assert.ok(Number.isFinite(first.metrics.estimate), 'its own estimate is recorded');

  const off = judgeSnapshot({ losses, candidate: reversed, served: { version: 3, pinned: false, model: trained }, heldOut, rules: { ...rules, gate: { ...rules.gate, kind: 'none' } } });
  assert.equal(off.ok, true);
  assert.match(off.reasons[0]!, /release gate off/);
});

test('a rejected snapshot is a challenger only when the gate compared it and did not find it worse', () => {
  const verdict = (ok: boolean, metrics: Record<string, number>): Verdict => ({
    ok, reasons: [], metrics, decision: { outcome: ok ? 'promoted' : 'rejected', reasons: [], baselineVersion: 1, baselinePinned: false, numbers: metrics },
  });
  assert.equal(challengerEligible(verdict(false, { difference: 0.01, differenceLow: -0.02, differenceHigh: 0.04 })), true);
  assert.equal(challengerEligible(verdict(false, { difference: -0.01, differenceLow: -0.03, differenceHigh: 0 })), true, 'an upper bound of exactly 0: not shown worse');
  assert.equal(challengerEligible(verdict(false, { difference: -0.05, differenceLow: -0.08, differenceHigh: -0.01 })), false, 'estimated worse');
  assert.equal(challengerEligible(verdict(false, { criticLoss: Number.NaN })), false, 'diverged: no comparison');
  assert.equal(challengerEligible(verdict(false, { gatePages: 12 })), false, 'too little data to compare');
  assert.equal(challengerEligible(verdict(true, { differenceLow: 0.1, differenceHigh: 0.2 })), false, 'a promoted snapshot is live, not a challenger');
});
