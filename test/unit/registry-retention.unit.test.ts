import assert from 'node:assert/strict';
import { test } from 'node:test';
import { versionsToPrune, WeightsPrunedError, type RetentionVersion } from '../../services/registry/retention.js';

const v = (version: number, over: Partial<RetentionVersion> = {}): RetentionVersion => ({
  version, status: 'retired', pinned: false, hasWeights: true, ...over,
});
const range = (n: number) => Array.from({ length: n }, (_, i) => v(i + 1));

test('N counts the newest versions by number, whatever their status', () => {
  const versions = [...range(8), v(9, { status: 'rejected' }), v(10, { status: 'live' })];
  assert.deepEqual(versionsToPrune(versions, [], 3), [1, 2, 3, 4, 5, 6, 7]);
  // Order of the input does not matter.
  assert.deepEqual(versionsToPrune([...versions].reverse(), [], 3), [1, 2, 3, 4, 5, 6, 7]);
});

test('the live and pinned versions keep their weights however old', () => {
  const versions = [v(1, { status: 'live' }), v(2, { pinned: true }), ...range(10).slice(2)];
  assert.deepEqual(versionsToPrune(versions, [], 2), [3, 4, 5, 6, 7, 8]);
});

test('a candidate (the challenger being measured, which may yet go live) keeps its weights however old', () => {
  const versions = [v(1, { status: 'live' }), v(2, { status: 'candidate' }), ...range(10).slice(2)];
  assert.deepEqual(versionsToPrune(versions, [], 2), [3, 4, 5, 6, 7, 8]);
});

test('a version a serving node still reports keeps its weights', () => {
  const versions = [...range(9), v(10, { status: 'live' })];
  assert.deepEqual(versionsToPrune(versions, [4, 10, 4], 3), [1, 2, 3, 5, 6, 7]);
});

test('already pruned versions are not pruned again, and still count towards the newest N', () => {
  const versions = [v(1, { hasWeights: false }), v(2), v(3, { hasWeights: false }), v(4, { status: 'live' })];
  assert.deepEqual(versionsToPrune(versions, [], 2), [2]);
  // A newest version without weights (kept N raised later) is simply not returned.
  assert.deepEqual(versionsToPrune(versions, [], 3), []);
});

test('fewer versions than N prunes nothing; N = 0 keeps only live, pinned and reported ones', () => {
  assert.deepEqual(versionsToPrune(range(5), [], 20), []);
  assert.deepEqual(versionsToPrune([], [], 20), []);
  assert.deepEqual(versionsToPrune([v(1), v(2, { status: 'live' }), v(3, { pinned: true }), v(4)], [4], 0), [1]);
});

test('an invalid N is refused', () => {
  assert.throws(() => versionsToPrune(range(3), [], -1), /keep must be a non-negative integer/);
  assert.throws(() => versionsToPrune(range(3), [], 1.5), /keep must be a non-negative integer/);
});

test('the pruned error names the version and the policy', () => {
  const err = new WeightsPrunedError('deepchain', 7, new Date('2026-01-02T03:04:05Z'));
  assert.match(err.message, /version 7 of 'deepchain' has no weights/);
  assert.match(err.message, /pruned at 2026-01-02T03:04:05\.000Z by the retention policy/);
  assert.match(err.message, /REGISTRY_KEEP_WEIGHTS/);
});
