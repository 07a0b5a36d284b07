/**
 * The learner's divergence watchdog (services/learner/watchdog.ts) by hand, and the trainer's part in it:
 * a diverged state is recognised before it could become a checkpoint, and a diverged trainer goes back to a
 * checkpoint while keeping what it read since. No servers.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { Transition } from '../../services/common/index.js';
import { selectBackend, type DeepChainModel } from '../../services/model/index.js';
import { OnlineTrainer } from '../../services/learner/trainer.js';
import {
  decide, evolve, firstNonFinite, HEALTHY, lossDivergence, nothingToRestore, notReadyReason, type Observation, type WatchdogRules, type WatchdogState,
} from '../../services/learner/watchdog.js';
import { syntheticTransitions } from '../support/transitions.js';

const rules: WatchdogRules = { maxLoss: 1e4, maxRestores: 3 };
const fine = { criticLoss: 0.4, actorLoss: -3e5, probabilityLoss: 1.2 };
const step = (losses: Partial<typeof fine> = {}): Observation => ({ kind: 'step', losses: { ...fine, ...losses } });

before(async () => {
  await selectBackend({ prefer: 'cpu' });
});

test('losses diverge when the critic or probability loss is not finite or above the limit, or the actor loss is not finite', () => {
  assert.equal(lossDivergence(fine, 1e4), null, 'an actor loss far below zero is no divergence (as the publisher judges it)');
  assert.equal(lossDivergence({ ...fine, criticLoss: 1e4 }, 1e4), null, 'at the limit is still fine');
  assert.equal(lossDivergence({ ...fine, criticLoss: NaN }, 1e4), 'critic loss NaN (limit 10000)');
  assert.equal(lossDivergence({ ...fine, probabilityLoss: 2e5 }, 1e4), 'probability loss 200000 (limit 10000)');
  assert.equal(lossDivergence({ ...fine, actorLoss: -Infinity }, 1e4), 'actor loss -Infinity');
  assert.equal(
    lossDivergence({ criticLoss: Infinity, actorLoss: NaN, probabilityLoss: NaN }, 5),
    'critic loss Infinity (limit 5), probability loss NaN (limit 5), actor loss NaN',
  );
});

test('firstNonFinite names the tensor, index and value of the first value that is not finite', () => {
  const ok = { name: 'a', values: Float32Array.of(1, -2, 0) };
  assert.equal(firstNonFinite([ok]), null);
  assert.equal(firstNonFinite([]), null);
  assert.equal(firstNonFinite([ok, { name: 'b', values: Float32Array.of(0, Infinity, NaN) }]), "tensor 'b' holds Infinity at index 1");
});

test('a divergence is restored, and after maxRestores restores with no checkpoint saved in between the watchdog gives up', () => {
  let state: WatchdogState = HEALTHY;
  assert.deepEqual(decide(state, step(), rules), { action: 'ok' });
  assert.deepEqual(decide(state, { kind: 'checkpoint', nonFinite: null }, rules), { action: 'ok' });
  for (let i = 1; i <= rules.maxRestores; i++) {
    const d = decide(state, step({ criticLoss: NaN }), rules);
    assert.deepEqual(d, { action: 'restore', reason: 'training diverged: critic loss NaN (limit 10000)' }, `divergence ${i}`);
    state = evolve(state, { kind: 'restored', reason: d.action === 'restore' ? d.reason : '' });
    assert.equal(state.restoresInARow, i);
    // Healthy steps alone do not end the episode: only a checkpoint saved since does.
    assert.deepEqual(decide(state, step(), rules), { action: 'ok' });
  }
  const last = decide(state, step({ probabilityLoss: 3e4 }), rules);
  assert.equal(last.action, 'give up');
  assert.match(last.action === 'give up' ? last.reason : '', /^training diverged: probability loss 30000 \(limit 10000\), after 3 restore\(s\) of the last good checkpoint with no checkpoint saved since \(WATCHDOG_MAX_RESTORES=3\)\. The learner stopped without saving the diverged state; .*restart the learner: it resumes from its newest checkpoint\.$/);
});

test('a checkpoint saved since the restore is the healthy stretch: the count starts again', () => {
  let state: WatchdogState = HEALTHY;
  for (let i = 0; i < rules.maxRestores; i++) state = evolve(state, { kind: 'restored', reason: 'x' });
  assert.equal(decide(state, step({ criticLoss: NaN }), rules).action, 'give up');
  state = evolve(state, { kind: 'checkpoint saved' });
  assert.deepEqual(state, HEALTHY);
  assert.equal(decide(state, step({ criticLoss: NaN }), rules).action, 'restore');
});

test('at checkpoint time a state that is not finite is a divergence too', () => {
  const d = decide(HEALTHY, { kind: 'checkpoint', nonFinite: "tensor 'critic.head.fc2.w' holds NaN at index 0" }, rules);
  assert.deepEqual(d, { action: 'restore', reason: "training diverged: the training state is not finite: tensor 'critic.head.fc2.w' holds NaN at index 0" });
});

test('WATCHDOG_MAX_RESTORES=0 gives up at the first divergence', () => {
  const d = decide(HEALTHY, step({ criticLoss: Infinity }), { ...rules, maxRestores: 0 });
  assert.equal(d.action, 'give up');
  assert.match(d.action === 'give up' ? d.reason : '', /after 0 restore\(s\).*WATCHDOG_MAX_RESTORES=0/);
});

test('not ready from a restore until a checkpoint is saved; the reason says why', () => {
  assert.equal(notReadyReason(HEALTHY), null);
  const recovering = evolve(HEALTHY, { kind: 'restored', reason: 'training diverged: critic loss NaN (limit 10000)' });
  assert.match(notReadyReason(recovering)!, /^recovering from divergence .*: training diverged: critic loss NaN \(limit 10000\)$/);
  assert.equal(notReadyReason(evolve(recovering, { kind: 'checkpoint saved' })), null);
});

test('diverging before the first checkpoint: the error says there is nothing to restore and what to do', () => {
  assert.match(nothingToRestore('training diverged: critic loss NaN (limit 10000)'),
    /^training diverged: critic loss NaN \(limit 10000\), before the first checkpoint: there is no good state to restore\. .*restart the learner/);
});

const options = {
  model: { scenarios: ['entrance', 'detail'] as ('entrance' | 'detail')[], embeddingSize: 8, hiddenSize: 8, historyLength: 10, attentionSize: 4, headHidden: [8] },
  replayCapacity: 5000, batchSize: 16, trainStart: 32, holdoutEvery: 4, holdoutSize: 2000, embeddingRefreshSteps: 5, seed: 3,
};

/** NaN into one variable, through the model's public load (tensors a snapshot lacks keep their values). */
function poison(model: DeepChainModel, name: string): void {
  const v = model.networks.store.variables.get(name)!;
  model.load({ config: model.config, tensors: [{ name, shape: v.shape, values: new Float32Array(v.size).fill(NaN) }], vocabulary: null });
}

const networks = (model: DeepChainModel) => model.snapshot({ items: false }).tensors.map((t) => [t.name, [...t.values]] as const);

/** The same sessions over items the first ones never showed: the vocabulary grows. */
function newItems(ts: Transition[]): Transition[] {
  const n = (id: string) => `new-${id}`;
  return ts.map((t) => ({ ...t, userId: `new-${t.userId}`, state: t.state.map(n), action: n(t.action), nextState: t.nextState.map(n) }));
}

test('the trainer names a value that is not finite instead of encoding a checkpoint', async () => {
  const trainer = new OnlineTrainer(options);
  trainer.ingest(syntheticTransitions(100));
  trainer.step();
  const ok = await trainer.finiteCheckpointState();
  assert.ok('state' in ok && ok.state.length > 0);
  // The target critic is read by no loss of this step: only the scan of the state finds it.
  poison(trainer.model, 'target.critic.head.fc0.b');
  assert.deepEqual(await trainer.finiteCheckpointState(), { nonFinite: "tensor 'target.critic.head.fc0.b' holds NaN at index 0" });
});

test('a diverged trainer restores its checkpoint and trains on, keeping what it read since', async () => {
  const trainer = new OnlineTrainer(options);
  trainer.ingest(syntheticTransitions(150));
  for (let i = 0; i < 4; i++) trainer.step();
  const bytes = await trainer.checkpointState();
  const atCheckpoint = networks(trainer.model);

  trainer.ingest(newItems(syntheticTransitions(60, 2)));
  for (let i = 0; i < 3; i++) trainer.step();
  const items = trainer.vocabulary.size;
  const buffered = trainer.buffer.size;
  const seen = trainer.transitionsSeen;
  poison(trainer.model, 'critic.head.fc0.w');
  assert.match(lossDivergence(trainer.step(), 1e4) ?? '', /^critic loss NaN /);

  await trainer.restoreState(bytes);
  assert.deepEqual(networks(trainer.model), atCheckpoint, 'every network as the checkpoint holds it');
  assert.equal(trainer.lastLosses, null, 'the diverged losses are gone with the state that had them');
  assert.equal(trainer.vocabulary.size, items, 'items met since the checkpoint are still known');
  assert.equal(trainer.buffer.size, buffered);
  assert.equal(trainer.transitionsSeen, seen);
  for (let i = 0; i < 3; i++) assert.equal(lossDivergence(trainer.step(), 1e4), null, `step ${i} after the restore`);
  assert.ok(trainer.model.itemCount >= items, 'an embedding row for every item, new ones included');
  assert.ok('state' in (await trainer.finiteCheckpointState()));
});
