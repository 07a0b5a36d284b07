/** trivago rows → logged views (services/eval/trivago.ts) on hand-made rows. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertTrivago, type TrivagoRow } from '../../services/eval/trivago.js';

let t = 1000;
const row = (session: string, step: number, action: string, reference: string | null, impressions: string | null = null, user = 'U'): TrivagoRow => ({
  user_id: user, session_id: session, timestamp: t++, step, action_type: action, reference, impressions, prices: impressions ? impressions.split('|').map((_, i) => String(10 * (i + 1))).join('|') : null,
});

test('clickouts become entrance views, item runs borrow the next list, history carries across sessions', () => {
  t = 1000;
  const rows = [
    row('s1', 1, 'search for destination', 'Paris'),
    row('s1', 2, 'interaction item image', 'B'),
    row('s1', 3, 'interaction item info', 'C'),
    row('s1', 4, 'interaction item image', 'B'),
    row('s1', 5, 'clickout item', 'B', 'A|B|C|D'),
    row('s2', 1, 'clickout item', 'D', 'D|E'),
  ];
  const { views, stats } = convertTrivago(rows);
  assert.equal(views.length, 3);
  const [detail, entrance, next] = views;
  assert.equal(detail!.scenario, 'detail');
  assert.deepEqual(detail!.items.map((i) => `${i.id}:${i.behaviour}`), ['A:skip', 'B:click', 'C:click', 'D:skip']);
  assert.equal(detail!.context, null);
  assert.deepEqual(detail!.history, []);
  assert.equal(entrance!.scenario, 'entrance');
  assert.deepEqual(entrance!.items.map((i) => `${i.id}:${i.behaviour}:${i.price}`), ['A:skip:10', 'B:click:20', 'C:skip:30', 'D:skip:40']);
  assert.deepEqual(entrance!.history, ['B', 'C'], 'the detail run\'s items, in first-interaction order');
  assert.equal(entrance!.time, 1004 * 1000);
  assert.deepEqual(next!.history, ['B', 'C', 'B'], 'history crosses sessions');
  assert.deepEqual([entrance!.step, next!.step], [1, 0]);
  assert.deepEqual({ e: stats.entranceViews, d: stats.detailViews, s: stats.sessions, u: stats.users }, { e: 2, d: 1, s: 2, u: 1 });
});

test('a list-changing action stops borrowing; the previous list is used when it directly precedes the run', () => {
  t = 2000;
  const rows = [
    row('s', 1, 'clickout item', 'A', 'A|B|C'),
    row('s', 2, 'interaction item rating', 'C'), // previous clickout precedes directly: borrow A|B|C
    row('s', 3, 'filter selection', 'cheap'),
    row('s', 4, 'interaction item deals', 'X'), // no neighbouring clickout: no view
    row('s', 5, 'change of sort order', 'price'),
    row('s', 6, 'clickout item', 'Y', 'Y|Z'),
  ];
  const { views, stats } = convertTrivago(rows);
  assert.deepEqual(views.map((v) => v.scenario), ['entrance', 'detail', 'entrance']);
  assert.deepEqual(views[1]!.items.map((i) => `${i.id}:${i.behaviour}`), ['A:skip', 'B:skip', 'C:click']);
  assert.equal(stats.detailRunsWithoutList, 1);
  assert.deepEqual(views[2]!.history, ['A', 'C', 'X'], 'a run without a view still joins the history');
});

test('an abandoned session gets a leave after its last click; a reused session id splits where step restarts', () => {
  t = 3000;
  const rows = [
    row('s', 1, 'clickout item', 'B', 'A|B|C|D'),
    row('s', 2, 'search for poi', 'Louvre'),
    row('s', 1, 'clickout item', 'Q', 'P|Q'), // the id reused: a second session
  ];
  const { views, stats } = convertTrivago(rows);
  assert.deepEqual(views[0]!.items.map((i) => i.behaviour), ['skip', 'click', 'leave', 'skip']);
  assert.equal(stats.abandonedSessions, 1);
  assert.equal(stats.sessions, 2);
  assert.deepEqual(views.map((v) => v.sessionId), ['s', 's#2']);
  assert.deepEqual(views[1]!.items.map((i) => i.behaviour), ['skip', 'click'], 'a session ending on a clickout is a successful exit');
});

test('a clickout whose reference is not in its list is kept without a click and counted', () => {
  t = 4000;
  const { views, stats } = convertTrivago([row('s', 1, 'clickout item', 'Z', 'A|B')]);
  assert.equal(stats.clickoutsNotInList, 1);
  assert.deepEqual(views[0]!.items.map((i) => i.behaviour), ['skip', 'skip']);
});
