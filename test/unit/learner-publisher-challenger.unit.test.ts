/**
 * The publisher with challenger traffic (services/learner/publisher.ts), step by step and deterministic: no
 * training runs between the publishes, the registry is the embedded demo's PGlite (the product's migrations
 * on an in-process Postgres), and announcements and withdrawals are recorded instead of sent. With a share,
 * the off-policy gate screens — a degraded snapshot is never the challenger — and only the challenger's own
 * traffic promotes.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { EmbeddedDatabase } from '../../services/demo/database.js';
import { Publisher } from '../../services/learner/publisher.js';
import type { OnlineTrainer } from '../../services/learner/trainer.js';
import { DEFAULT_GATE, type PublishRules } from '../../services/learner/validation.js';
import { deepChainFromWeights, encodeWeights, selectBackend } from '../../services/model/index.js';
import { effectiveVersion, getVersionSummary, type ModelAnnouncement } from '../../services/registry/index.js';
import { gateTrainer, servedPages, syntheticTransitions } from '../support/transitions.js';

const rules: PublishRules = {
  everySteps: 1e9, everyMs: 1e9, maxLoss: 1e4, gate: { ...DEFAULT_GATE, margin: 0.05, minPages: 200, minEffectiveSampleSize: 20, resamples: 300 },
};
let db: EmbeddedDatabase;
let trainer: OnlineTrainer;

before(async () => {
  await selectBackend({ prefer: 'cpu' });
  db = (await EmbeddedDatabase.open()).db;
  trainer = gateTrainer();
  trainer.ingest(syntheticTransitions(1500, 7, 300, 0.1));
  for (let i = 0; i < 300; i++) trainer.step();
});

after(async () => {
  await db?.close();
});

/** Negates the actors' output layers in place: every ranking reversed (twice restores them). */
function reverseActors(): void {
  const snapshot = trainer.model.snapshot();
  const tensors = snapshot.tensors.map((t) => (/^actor\.[a-z]+\.out\./.test(t.name) ? { ...t, values: t.values.map((v) => -v) } : t));
  trainer.model.load(deepChainFromWeights(encodeWeights({ ...snapshot, tensors })).snapshot());
}

test('with a share, a degraded snapshot is screened out, one not worse is the challenger, and its own traffic decides', async () => {
  const announced: ModelAnnouncement[] = [];
  let withdrawals = 0;
  const publisher = new Publisher({
    model: 'p', trainer, rules, withDb: (fn) => db.run(fn), challengerShare: 0.3,
    announce: async (a) => (announced.push(a), true),
    withdrawChallenger: async () => void withdrawals++,
  });
  const summary = (version: number) => db.run((s) => getVersionSummary(s, 'p', version));

  const first = await publisher.publish(1, {});
  assert.equal(first.status, 'live', 'the first version has nothing to be compared with');

  reverseActors();
  const degraded = await publisher.publish(2, {});
  reverseActors();
  assert.deepEqual([degraded.status, degraded.challenger, degraded.decision.outcome], ['rejected', false, 'rejected']);
  assert.ok(degraded.verdict.metrics.differenceHigh! < 0, `estimated worse: upper bound ${degraded.verdict.metrics.differenceHigh}`);

  // The same actors as the live version: estimated exactly as good, not worse, so the challenger.
  const same = await publisher.publish(3, {});
  assert.deepEqual([same.status, same.challenger, same.decision.outcome], ['candidate', true, 'challenger']);
  assert.equal(same.verdict.metrics.differenceHigh, 0);
  assert.deepEqual(announced.map((a) => [a.version, a.role, a.share]), [[first.version, 'live', 0], [same.version, 'challenger', 0.3]]);

  const meanwhile = await publisher.publish(4, {});
  assert.deepEqual([meanwhile.status, meanwhile.challenger], ['rejected', false]);
  assert.ok(meanwhile.decision.reasons.includes(`challenger version ${same.version} is still being measured`), meanwhile.decision.reasons.join('; '));
  assert.deepEqual(meanwhile.challenge, { version: same.version, outcome: 'measuring', pages: { challenger: 0, live: 0 } });

  // Its traffic: 300 pages of clicks against the live version's 300 pages of skips.
  const now = Date.now();
  publisher.observe(servedPages({ prefix: 'c', users: 30, pages: 10, modelVersion: same.version, outcome: 'click', eventTime: now }));
  publisher.observe(servedPages({ prefix: 'l', users: 30, pages: 10, modelVersion: first.version, outcome: 'skip', eventTime: now }));
  assert.deepEqual(publisher.measuring, { version: same.version, pages: { challenger: 300, live: 300 } });
  const decided = await publisher.publish(5, {});
  assert.equal(decided.challenge?.outcome, 'promoted', JSON.stringify(decided.challenge));
  assert.equal((await summary(same.version))!.status, 'live');
  assert.equal((await db.run((s) => effectiveVersion(s, 'p')))!.version, same.version);
  assert.deepEqual(announced.slice(2).map((a) => [a.version, a.role]).slice(0, 1), [[same.version, 'live']], 'the promoted challenger announced as the live version');
  assert.equal(withdrawals, 0);
});
