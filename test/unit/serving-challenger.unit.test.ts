/**
 * Challenger traffic on a serving node (services/serving/challenger.ts, app.ts): which users the newest
 * candidate serves, and that its pages are answered and logged with its version.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createLogger, createMetricsRegistry, createOpsServer, METRICS, type RecommendationEvent, type UserEvent } from '../../services/common/index.js';
import { selectBackend } from '../../services/model/index.js';
import { sha256Hex, type ModelAnnouncement } from '../../services/registry/index.js';
import { addServingRoutes } from '../../services/serving/app.js';
import { challengerActive, challengerDraw, versionFor } from '../../services/serving/challenger.js';
import { UserHistories } from '../../services/serving/history.js';
import { ModelSlot, type LoadedVersion } from '../../services/serving/model-slot.js';
import { NO_EXPLORATION } from '../../services/serving/ranking.js';
import { smallTrainerVersions } from '../support/transitions.js';

/** Only what the routing reads. */
const version = (v: number, over: Partial<LoadedVersion> = {}) => ({ version: v, pinned: false, share: 0, ...over }) as LoadedVersion;
const users = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);

test('a challenger serves about its share of users, the same users on every call, another set for another version', () => {
  const live = version(7);
  const challenger = version(9, { share: 0.2 });
  const chosen = users.filter((u) => versionFor(u, live, challenger) === challenger);
  // Binomial(20,000, 0.2): standard deviation 57 users; 5 of them either side.
  assert.ok(Math.abs(chosen.length - 4_000) < 285, `${chosen.length} of 20,000 users on the challenger, expected about 4,000`);
  for (const u of users.slice(0, 500)) assert.equal(versionFor(u, live, challenger), versionFor(u, live, challenger), `user ${u} always gets the same version`);

  const next = version(10, { share: 0.2 });
  const both = chosen.filter((u) => versionFor(u, live, next) === next).length;
  // Independent draws per version: about 0.2 × 4,000 = 800 users in both sets (not 4,000).
  assert.ok(Math.abs(both - 800) < 150, `${both} users on both challengers, expected about 800`);

  for (const u of users.slice(0, 2_000)) {
    const d = challengerDraw(u, 9);
    assert.ok(d >= 0 && d < 1, `draw ${d} in [0, 1)`);
  }
});

test('no challenger traffic under a pin, with share 0, or when the challenger is not newer than the live version', () => {
  const challenger = version(9, { share: 0.5 });
  assert.equal(challengerActive(version(7), challenger), true);
  assert.equal(challengerActive(version(7, { pinned: true }), challenger), false, 'a pin holds every user on the pinned version');
  assert.equal(challengerActive(version(9), challenger), false, 'a promoted candidate ends its challenge');
  assert.equal(challengerActive(version(12), challenger), false);
  assert.equal(challengerActive(version(7), version(9, { share: 0 })), false);
  assert.equal(challengerActive(version(7), null), false);
  for (const live of [version(7, { pinned: true }), version(9), version(12)]) {
    for (const u of users.slice(0, 1_000)) assert.equal(versionFor(u, live, challenger), live);
  }
});

let weights: Uint8Array[] = [];
before(async () => {
  await selectBackend({ prefer: 'cpu' });
  weights = smallTrainerVersions(2);
});

const announcement = (v: number, bytes: Uint8Array, over: Partial<ModelAnnouncement> = {}): ModelAnnouncement => ({
  model: 'deepchain', version: v, checksum: sha256Hex(bytes), sizeBytes: bytes.byteLength, weights: Buffer.from(bytes), registryRef: null,
  pinned: false, role: 'live', share: 0, at: 0, ...over,
});

test('the node answers a challenger user with the challenger version, says so, logs the page with that version and counts it', async () => {
  const slot = new ModelSlot('deepchain');
  const challenger = new ModelSlot('deepchain');
  const events: UserEvent[] = [];
  const metrics = createMetricsRegistry('serving');
  const app = createOpsServer({ logger: createLogger('serving', 'silent'), metrics });
  addServingRoutes(app, {
    slot, challenger, histories: new UserHistories(10, 10), metrics, maxK: 10, maxCandidates: 10,
    options: { recallSize: 6, recallSeeds: 2, exploration: NO_EXPLORATION }, logEvent: (e) => void events.push(e),
  });
  slot.install(announcement(1, weights[0]!), weights[0]!);
  challenger.install(announcement(2, weights[1]!, { role: 'challenger', share: 0.3 }), weights[1]!);

  const answers: { userId: string; version: number; role: string }[] = [];
  for (const userId of users.slice(0, 400)) {
    const res = await app.inject({ method: 'POST', url: '/v1/recommend', payload: { userId, sessionId: `s-${userId}`, scenario: 'entrance', k: 3 } });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { version: number; role: string };
    answers.push({ userId, version: body.version, role: body.role });
  }
  const onChallenger = answers.filter((a) => a.role === 'challenger');
  assert.ok(onChallenger.length > 80 && onChallenger.length < 160, `${onChallenger.length} of 400 users on the challenger at share 0.3`);
  for (const a of answers) {
    assert.equal(a.version, a.role === 'challenger' ? 2 : 1, `${a.userId}: role ${a.role} answered by version ${a.version}`);
    assert.equal(a.role === 'challenger', challengerDraw(a.userId, 2) < 0.3, `${a.userId}: the role follows the user's draw`);
  }
  const logged = events.map((e) => (e as RecommendationEvent).modelVersion);
  assert.deepEqual(logged, answers.map((a) => a.version), 'each page is logged with the version that chose it');

  const exported = (await app.inject('/metrics')).body;
  assert.match(exported, new RegExp(`${METRICS.serving.challengerVersion.name}\\{model="deepchain",service="serving"\\} 2`));
  assert.match(exported, new RegExp(`${METRICS.serving.challengerRequests.name}\\{service="serving"\\} ${onChallenger.length}`));
  const v = (await app.inject('/v1/version')).json() as { version: number; challenger: { version: number; share: number; active: boolean } };
  assert.deepEqual(v.challenger, { version: 2, share: 0.3, active: true });

  challenger.clear();
  const after = await app.inject({ method: 'POST', url: '/v1/recommend', payload: { userId: onChallenger[0]!.userId, sessionId: 's', scenario: 'entrance', k: 3 } });
  assert.equal((after.json() as { version: number }).version, 1, 'a withdrawn challenger serves nobody');
  await app.close();
});
