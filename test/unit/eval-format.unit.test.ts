/** The logged-session JSONL format (services/eval/logged-session.ts): round trip and validation errors with line numbers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  formatPageViews, groupSessions, LoggedSessionError, parsePageViewLine, parsePageViews, type PageView,
} from '../../services/eval/logged-session.js';
import { readPageViews, writePageViews } from '../../services/eval/jsonl-file.js';
import { tempDir } from '../support/temp.js';

const view = (over: Partial<PageView> = {}): PageView => ({
  userId: 'u1', sessionId: 's1', time: 1000, step: 0, scenario: 'entrance', history: ['a'], context: null,
  items: [{ id: 'x', behaviour: 'skip', price: 10 }, { id: 'y', behaviour: 'click' }],
  ...over,
});

test('views survive a round trip through text and through a file', async () => {
  const views = [view(), view({ step: 1, time: 2000, scenario: 'detail', context: 'y', history: ['a', 'y'], items: [{ id: 'z', behaviour: 'leave' }] })];
  assert.deepEqual(parsePageViews(formatPageViews(views)), views);
  const dir = tempDir('eval-format-');
  await writePageViews(join(dir, 'v.jsonl'), views);
  assert.deepEqual(await readPageViews(join(dir, 'v.jsonl')), views);
  assert.deepEqual(await readPageViews(join(dir, 'v.jsonl'), { limit: 1 }), [views[0]]);
});

test('errors name the line and the field', async () => {
  const bad: [string, RegExp][] = [
    ['not json', /^line 3: not valid JSON/],
    [JSON.stringify({ ...view(), scenario: 'home' }), /^line 3: scenario: expected one of/],
    [JSON.stringify({ ...view(), items: [] }), /^line 3: items: expected a non-empty array/],
    [JSON.stringify({ ...view(), items: [{ id: 'x', behaviour: 'like' }] }), /^line 3: items\[0\]\.behaviour: expected one of click, skip, leave, purchase/],
    [JSON.stringify({ ...view(), items: [{ id: 'x', behaviour: 'skip' }, { id: 'x', behaviour: 'click' }] }), /^line 3: items\[1\]\.id: item 'x' is shown twice/],
    [JSON.stringify({ ...view(), history: ['a', 7] }), /^line 3: history\[1\]: expected a non-empty string/],
    [JSON.stringify({ ...view(), time: -1 }), /^line 3: time: expected a non-negative integer/],
    [JSON.stringify({ ...view(), extra: 1 }), /^line 3: extra: unknown field/],
    [JSON.stringify({ ...view(), items: [{ id: 'x', behaviour: 'leave' }, { id: 'y', behaviour: 'leave' }] }), /^line 3: items: at most one item may carry a leave/],
  ];
  for (const [line, re] of bad) {
    assert.throws(() => parsePageViews(`${formatPageViews([view()])}\n${line}\n`), (e: unknown) => e instanceof LoggedSessionError && e.line === 3 && re.test(e.message), line);
  }
  const dir = tempDir('eval-format-');
  await writeFile(join(dir, 'bad.jsonl'), `${formatPageViews([view()])}{"userId":""}\n`);
  await assert.rejects(readPageViews(join(dir, 'bad.jsonl')), /line 2: userId/);
  assert.equal(parsePageViewLine(JSON.stringify({ ...view(), context: undefined }), 1).context, null);
});

test('groupSessions orders views inside a session and sessions by their first view', () => {
  const views = [view({ sessionId: 'b', time: 50 }), view({ step: 1, time: 30 }), view({ step: 0, time: 10 }), view({ userId: 'u2', time: 20 })];
  const s = groupSessions(views);
  assert.deepEqual(s.map((x) => x.map((v) => `${v.userId}/${v.sessionId}@${v.time}`)), [['u1/s1@10', 'u1/s1@30'], ['u2/s1@20'], ['u1/b@50']]);
});
