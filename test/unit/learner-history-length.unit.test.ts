/**
 * One source of truth for the history length N (HISTORY_LENGTH, common/infra-config.ts): the sessionizer keeps
 * the last N items in every state, so a transition whose state holds more than the learner's N was built with a
 * larger one. The learner's triage (learner/intake.ts) dead-letters it with a reason naming both lengths and the
 * variable, as it does a transition built with other rewards; and a record of another schema that decodes is
 * told apart from a transition before anything reads its fields.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Transition } from '../../services/common/index.js';
import { historyLengthMismatch, notATransition, triage, type ReadRecord } from '../../services/learner/intake.js';

const N = 10;

const items = (n: number) => Array.from({ length: n }, (_, i) => `i${i}`);
const transition = (stateLength: number, behaviour: Transition['behaviour'] = 'click'): Transition => {
  const state = items(stateLength);
  const nextState = behaviour === 'click' ? [...state, 'x'].slice(-(stateLength + 1)) : state;
  return {
    userId: 'u1', sessionId: 's1', step: 0, scenario: 'entrance', state, action: 'x', behaviour, reward: behaviour === 'click' ? 1 : 0,
    nextState, nextScenario: 'detail', terminal: false, eventTime: 1, modelVersion: null, propensity: null, position: 0,
  };
};
const rec = (offset: number, decoded: ReadRecord['decoded'], refill = false): ReadRecord =>
  ({ offset: String(offset), key: Buffer.from('u1'), value: Buffer.from([offset]), decoded, refill });
const usable = () => null;

test('states of at most N items fit; a longer state or next state is a reason naming both lengths and HISTORY_LENGTH', () => {
  assert.equal(historyLengthMismatch(N, transition(0)), null);
  assert.equal(historyLengthMismatch(N, transition(N - 1)), null, 'a click onto N − 1 items makes a next state of N');
  assert.equal(historyLengthMismatch(N, transition(N, 'skip')), null);
  assert.equal(historyLengthMismatch(N, transition(50, 'skip')),
    "its state holds 50 items, more than the learner's history length 10: it was built with a history length of at least 50; " +
    'set the same HISTORY_LENGTH on the sessionizer and the learner');
  // A click onto N items: the next state holds N + 1 (the state itself still fits).
  assert.match(historyLengthMismatch(N, transition(N))!, /^its nextState holds 11 items, more than the learner's history length 10/);
});

test('the triage dead-letters a transition built with a larger N, with where it came from; the rest goes on as before', () => {
  const fits = transition(3);
  const longer = transition(20, 'skip');
  const intake = triage({ topic: 'p.transitions', partition: 2 }, [rec(7, { transition: longer }), rec(8, { transition: fits })], usable, 99, N);
  assert.deepEqual(intake.fresh, [fits], 'the transition after it is used');
  assert.equal(intake.rejected, 1);
  assert.equal(intake.letters.length, 1);
  const [letter] = intake.letters;
  assert.equal(letter!.source, 'learner');
  assert.equal(letter!.sourceTopic, 'p.transitions');
  assert.equal(letter!.sourcePartition, 2);
  assert.equal(letter!.sourceOffset, '7');
  assert.deepEqual(letter!.value, Buffer.from([7]));
  assert.match(letter!.reason, /^transition rejected: its state holds 20 items, more than the learner's history length 10.*HISTORY_LENGTH/);
  // Checked before the trainer's own judgement, which never sees it.
  const judged: Transition[] = [];
  triage({ topic: 'p.transitions', partition: 2 }, [rec(7, { transition: longer })], (t) => { judged.push(t); return null; }, 99, N);
  assert.deepEqual(judged, []);
});

test('without a history length the triage judges as before; refills are not judged again', () => {
  const longer = transition(20, 'skip');
  assert.deepEqual(triage({ topic: 't', partition: 0 }, [rec(1, { transition: longer })], usable, 1).fresh, [longer]);
  const refill = triage({ topic: 't', partition: 0 }, [rec(1, { transition: longer }, true)], usable, 1, N);
  assert.deepEqual(refill.refill, [longer]);
  assert.equal(refill.letters.length, 0);
});

test('a record of another schema that decodes is not a transition: undecodable, with the fields that are wrong, never judged', () => {
  assert.equal(notATransition(transition(2)), null);
  const event = { eventId: 'e1', userId: 'u1', sessionId: 's1', eventTime: 1, scenario: 'entrance', payload: {} };
  assert.equal(notATransition(event),
    'not a transition record (written with another schema?): state, action, behaviour, reward, nextState, terminal missing or of the wrong type');
  assert.match(notATransition({ ...transition(2), state: [1, 2] })!, /: state missing/);
  assert.match(notATransition(null)!, /not a record/);
  const judged: unknown[] = [];
  const intake = triage({ topic: 't', partition: 0 }, [rec(1, { transition: event as unknown as Transition }), rec(2, { transition: transition(1) })],
    (t) => { judged.push(t); return null; }, 1, N);
  assert.equal(intake.undecodable, 1);
  assert.equal(intake.fresh.length, 1);
  assert.equal(judged.length, 1, 'only the transition reaches the trainer\'s judgement');
  assert.match(intake.letters[0]!.reason, /^transition could not be decoded: not a transition record/);
});
