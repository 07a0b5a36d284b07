import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { selectBackend } from '../../services/model/index.js';
import avro from 'avsc';
import { readSchema, type DeadLetterRecord } from '../../services/common/index.js';
import { triage, type ReadRecord } from '../../services/learner/intake.js';
import { isHeldOutUser, OnlineTrainer } from '../../services/learner/trainer.js';
import { publishDue } from '../../services/learner/validation.js';
import { seeded, syntheticTransitions } from '../support/transitions.js';

const small = {
  model: { scenarios: ['entrance', 'detail'] as const, embeddingSize: 8, hiddenSize: 8, historyLength: 10, attentionSize: 4, headHidden: [8] },
  replayCapacity: 5000, batchSize: 16, trainStart: 32, holdoutEvery: 4, holdoutSize: 2000, embeddingRefreshSteps: 5, seed: 3,
};

before(async () => {
  await selectBackend({ prefer: 'cpu' });
});

test('transitions go to the replay buffer or, for held-out users, to the validation window', () => {
  const trainer = new OnlineTrainer({ ...small, model: { ...small.model, scenarios: [...small.model.scenarios] } });
  const ts = syntheticTransitions(200);
  const r = trainer.ingest(ts);
  const heldOut = ts.filter((t) => isHeldOutUser(t.userId, 4)).length;
  assert.equal(r.rejected.length, 0);
  assert.equal(r.heldOut, heldOut);
  assert.ok(heldOut > 0 && heldOut < ts.length);
  assert.equal(r.accepted + r.heldOut, ts.length);
  assert.equal(trainer.buffer.size, ts.length - heldOut);
  assert.equal(trainer.transitionsSeen, ts.length);
  assert.ok(trainer.heldOut.every((t) => isHeldOutUser(t.userId, 4)));
});

test('refilled transitions go back into the buffer without being counted again', () => {
  const trainer = new OnlineTrainer({ ...small, model: { ...small.model, scenarios: [...small.model.scenarios] } });
  const ts = syntheticTransitions(50);
  trainer.ingest(ts);
  const seen = trainer.transitionsSeen;
  const size = trainer.buffer.size;
  trainer.ingest(ts, true);
  assert.equal(trainer.transitionsSeen, seen);
  assert.equal(trainer.buffer.size, 2 * size);
});

test('a transition of a scenario the model has no agent for is rejected with the reason', () => {
  const trainer = new OnlineTrainer({ ...small, model: { ...small.model, scenarios: ['entrance', 'detail'] } });
  const t = { ...syntheticTransitions(1)[0]!, scenario: 'cart' as const };
  const r = trainer.ingest([t]);
  assert.equal(r.rejected.length, 1);
  assert.match(r.rejected[0]!.reason, /scenario 'cart' has no agent/);
});

test('every record the learner cannot use becomes a dead letter with its reason, topic, partition and offset; the rest are used', () => {
  const trainer = new OnlineTrainer({ ...small, model: { ...small.model, scenarios: ['entrance', 'detail'] } });
  const [good, next] = syntheticTransitions(2);
  const bad = {
    cart: { ...good!, scenario: 'cart' as const },
    // What the sessionizer once wrote for a purchase of several items: every item appended at once.
    basket: { ...good!, behaviour: 'click' as const, nextState: [...good!.state, good!.action, 'x'] },
    nan: { ...good!, reward: Number.NaN },
    empty: { ...good!, action: '' },
  };
  assert.equal(trainer.rejectionOf(good!), null);
  assert.match(trainer.rejectionOf(bad.cart)!, /scenario 'cart' has no agent/);
  assert.match(trainer.rejectionOf(bad.basket)!, /nextState does not follow/);
  assert.match(trainer.rejectionOf(bad.nan)!, /reward NaN is not a finite number/);
  assert.match(trainer.rejectionOf(bad.empty)!, /item id is empty/);
  assert.equal(trainer.vocabulary.size, 1, 'judging registers no item');

  const rec = (offset: number, decoded: ReadRecord['decoded'], refill = false): ReadRecord =>
    ({ offset: String(offset), key: Buffer.from('u1'), value: Buffer.from([0, 0, 0, 0, offset]), decoded, refill });
  const records = [
    rec(40, { transition: good! }),
    rec(41, { transition: bad.cart }),
    rec(42, { error: 'unknown magic byte' }),
    rec(43, { transition: bad.basket }),
    rec(44, { transition: next! }),
    rec(7, { transition: bad.cart }, true), // a refill: dead-lettered before the checkpoint, not twice
    rec(8, { error: 'unknown magic byte' }, true),
  ];
  const intake = triage({ topic: 'p.transitions', partition: 3 }, records, (t) => trainer.rejectionOf(t), 1234);
  assert.deepEqual(intake.fresh, [good, next]);
  assert.deepEqual(intake.refill, [bad.cart]);
  assert.equal(intake.rejected, 2);
  assert.equal(intake.undecodable, 2);
  assert.deepEqual(intake.letters.map((l) => [l.sourceOffset, l.reason.replace(/:.*/, '')]), [
    ['41', 'transition rejected'], ['42', 'transition could not be decoded'], ['43', 'transition rejected'],
  ]);
  const letter = intake.letters[0]!;
  assert.deepEqual(letter, {
    reason: "transition rejected: scenario 'cart' has no agent in this model", source: 'learner',
    sourceTopic: 'p.transitions', sourcePartition: 3, sourceOffset: '41', key: Buffer.from('u1'), value: records[1]!.value, at: 1234,
  } satisfies DeadLetterRecord);
  assert.match(intake.letters[1]!.reason, /unknown magic byte/);
  // The same format as every other service's letters: it round-trips through schemas/dead-letter.avsc.
  const type = avro.Type.forSchema(JSON.parse(readSchema('dead-letter')));
  for (const l of intake.letters) assert.deepEqual({ ...type.fromBuffer(type.toBuffer(l)) }, l);
});

test('training steps run once the buffer holds enough, and publishing is due by steps or time', () => {
  const trainer = new OnlineTrainer({ ...small, model: { ...small.model, scenarios: [...small.model.scenarios] } });
  assert.throws(() => trainer.step(), /training starts at 32/);
  trainer.ingest(syntheticTransitions(100));
  for (let i = 0; i < 3; i++) {
    const l = trainer.step();
    assert.ok(Number.isFinite(l.criticLoss) && Number.isFinite(l.actorLoss) && Number.isFinite(l.probabilityLoss));
  }
  assert.equal(trainer.steps, 3);
  const rules = { everySteps: 10, everyMs: 1000 };
  assert.equal(publishDue(0, 5000, rules), false, 'nothing new to publish');
  assert.equal(publishDue(10, 0, rules), true);
  assert.equal(publishDue(1, 1000, rules), true);
  assert.equal(publishDue(9, 999, rules), false);
});

test('a checkpoint restores networks, optimiser moments and item2vec, so training continues identically', async () => {
  const options = { ...small, model: { ...small.model, scenarios: [...small.model.scenarios] } };
  const a = new OnlineTrainer(options);
  const ts = syntheticTransitions(150);
  a.ingest(ts);
  for (let i = 0; i < 4; i++) a.step();
  const bytes = await a.checkpointState();

  const b = new OnlineTrainer(options);
  b.ingest(ts, true); // the same vocabulary order and replay contents, as a refill after restart gives
  await b.restoreState(bytes);
  assert.deepEqual(await b.model.optimizerState(), await a.model.optimizerState());
  assert.deepEqual(b.model.itemEmbeddings, a.model.itemEmbeddings);

  // One more step on the same minibatch: identical only if the Adam moments were restored too.
  const batch = a.buffer.sample(16, seeded(9));
  const restoredWeights = b.model.snapshot();
  const la = a.model.trainStep(batch);
  const lb = b.model.trainStep(batch);
  assert.equal(lb.criticLoss, la.criticLoss);
  const wa = a.model.snapshot().tensors;
  const wb = b.model.snapshot().tensors;
  assert.deepEqual(wb.map((t) => [t.name, [...t.values]]), wa.map((t) => [t.name, [...t.values]]));

  const fresh = new OnlineTrainer(options);
  fresh.ingest(ts, true);
  fresh.model.load(restoredWeights); // same weights as b had, fresh (zero) Adam moments
  fresh.model.trainStep(batch);
  const wf = fresh.model.snapshot().tensors;
  assert.notDeepEqual(wf.map((t) => [...t.values]), wb.map((t) => [...t.values]), 'without the moments the step differs');
});
