import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { selectBackend } from '../../services/model/index.js';
import { sha256Hex, type ModelAnnouncement } from '../../services/registry/index.js';
import { createLogger, createMetricsRegistry, createOpsServer, METRICS } from '../../services/common/index.js';
import { addServingRoutes } from '../../services/serving/app.js';
import { UserHistories } from '../../services/serving/history.js';
import { ModelSlot } from '../../services/serving/model-slot.js';
import { NO_EXPLORATION } from '../../services/serving/ranking.js';
import { recallCandidates, recommend } from '../../services/serving/recommender.js';
import { DETAIL_ITEMS, ENTRANCE_ITEMS, smallTrainerVersions } from '../support/transitions.js';

let weights: Uint8Array[] = [];

before(async () => {
  await selectBackend({ prefer: 'cpu' });
  weights = smallTrainerVersions(2);
});

const announce = (version: number, bytes: Uint8Array, checksum = sha256Hex(bytes)): ModelAnnouncement => ({
  model: 'deepchain', version, checksum, sizeBytes: bytes.byteLength, weights: Buffer.from(bytes), registryRef: null, pinned: false, role: 'live', share: 0, at: 0,
});

test('a verified version is installed, and a newer one swaps it out', () => {
  const slot = new ModelSlot('deepchain');
  assert.equal(slot.current, null);
  assert.deepEqual(slot.install(announce(1, weights[0]!), weights[0]!), { status: 'installed', version: 1, previous: null });
  assert.equal(slot.current!.version, 1);
  assert.deepEqual(slot.install(announce(1, weights[0]!), weights[0]!), { status: 'unchanged', version: 1 });
  assert.deepEqual(slot.install(announce(2, weights[1]!), weights[1]!), { status: 'installed', version: 2, previous: 1 });
  assert.equal(slot.current!.version, 2);
});

test('a version whose checksum does not match, or whose weights are corrupt, is rejected and the last good one stays', () => {
  const slot = new ModelSlot('deepchain');
  slot.install(announce(1, weights[0]!), weights[0]!);
  const wrong = slot.install(announce(2, weights[1]!, 'f'.repeat(64)), weights[1]!);
  assert.equal(wrong.status, 'rejected');
  assert.match((wrong as { reason: string }).reason, /checksum mismatch/);
  const corrupt = Uint8Array.from(weights[1]!);
  new DataView(corrupt.buffer).setFloat32(corrupt.length - 4, Number.NaN, true);
  const bad = slot.install(announce(3, corrupt), corrupt);
  assert.equal(bad.status, 'rejected');
  assert.match((bad as { reason: string }).reason, /checksum|non-finite/);
  const other = slot.install({ ...announce(4, weights[1]!), model: 'other' }, weights[1]!);
  assert.match((other as { reason: string }).reason, /this node serves 'deepchain'/);
  assert.equal(slot.current!.version, 1);
});

test('recommend ranks the given candidates, counts unknown ones, and recalls when none are given', () => {
  const slot = new ModelSlot('deepchain');
  slot.install(announce(1, weights[1]!), weights[1]!);
  const loaded = slot.current!;
  const options = { recallSize: 6, recallSeeds: 2, exploration: NO_EXPLORATION };
  const given = recommend(loaded, ['e1', 'd2'], { userId: 'u', sessionId: 's', scenario: 'detail', k: 3, candidates: [...DETAIL_ITEMS, 'brand-new'] }, options);
  assert.equal(given.items.length, 3);
  assert.equal(given.unknownCandidates, 1);
  for (const item of given.items) assert.ok(DETAIL_ITEMS.includes(item.itemId) && Number.isFinite(item.score));
  const scores = given.items.map((i) => i.score);
  assert.deepEqual(scores, [...scores].sort((a, b) => b - a));

  const recalled = recommend(loaded, ['e1'], { userId: 'u', sessionId: 's', scenario: 'entrance', k: 10 }, options);
  assert.equal(recalled.items.length, 6, 'k is bounded by the recall size');
  assert.ok(!recalled.items.some((i) => i.itemId === 'e1'), 'recall returns neighbours, not the item itself');
  const known = [...ENTRANCE_ITEMS, ...DETAIL_ITEMS].filter((id) => loaded.model.vocabulary.indexOf(id) !== undefined).length;
  assert.equal(recallCandidates(loaded, [], 100, 2).length, known, 'a user without history gets the catalogue');
});

test('the node exports the version it serves and when it installed it, 0 before it has one', async () => {
  const slot = new ModelSlot('deepchain');
  const metrics = createMetricsRegistry('serving');
  const app = createOpsServer({ logger: createLogger('serving', 'silent'), metrics });
  addServingRoutes(app, {
    slot, histories: new UserHistories(10, 10), metrics, maxK: 10, maxCandidates: 10,
    options: { recallSize: 6, recallSeeds: 2, exploration: NO_EXPLORATION }, logEvent: () => undefined,
  });
  const gauge = async (name: string) => {
    const text = (await app.inject('/metrics')).body;
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`));
    assert.ok(line, `${name} is exported`);
    assert.match(line, /model="deepchain"/);
    return Number(line.split(' ').at(-1));
  };
  assert.equal(await gauge(METRICS.serving.modelVersion.name), 0);
  assert.equal(await gauge(METRICS.serving.modelLoadedAt.name), 0);
  const before = Date.now() / 1000;
  slot.install(announce(2, weights[1]!), weights[1]!);
  assert.equal(await gauge(METRICS.serving.modelVersion.name), 2);
  const loadedAt = await gauge(METRICS.serving.modelLoadedAt.name);
  assert.ok(loadedAt >= before - 1 && loadedAt <= Date.now() / 1000 + 1);
  await app.close();
});
