/**
 * One source of truth for rewards (learner/rewards.ts): a transition built with other rewards than the
 * learner's is refused — at start-up as a configuration error naming both reward sets, later as a dead
 * letter with the reason — and never trained on.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { DEFAULT_REWARDS, type Rewards } from '../../services/common/index.js';
import { triage, type ReadRecord } from '../../services/learner/intake.js';
import { formatRewards, rewardMismatch, startupRewardMismatch } from '../../services/learner/rewards.js';
import { OnlineTrainer } from '../../services/learner/trainer.js';
import { selectBackend } from '../../services/model/index.js';
import { syntheticTransitions } from '../support/transitions.js';

const LEARNER: Rewards = DEFAULT_REWARDS; // {click:1,skip:0,leave:-2,purchase:1}

before(async () => {
  await selectBackend({ prefer: 'cpu' });
});

test('rewards print in behaviour order, unseen as ?, several values joined', () => {
  assert.equal(formatRewards(LEARNER), '{click:1,skip:0,leave:-2,purchase:1}');
  assert.equal(formatRewards({ leave: [-5, -2], click: [1] }), '{click:1,skip:?,leave:-5|-2,purchase:?}');
});

test('a transition carrying the learner\'s reward for its behaviour is ok; another reward is a reason naming the variable', () => {
  for (const b of ['click', 'skip', 'leave', 'purchase'] as const) assert.equal(rewardMismatch(LEARNER, { behaviour: b, reward: LEARNER[b] }), null);
  const why = rewardMismatch(LEARNER, { behaviour: 'leave', reward: -5 });
  assert.equal(why, "built with reward -5 for a leave, the learner's is -2 (learner rewards {click:1,skip:0,leave:-2,purchase:1}): " +
    'set the same SESSIONIZER_REWARD_LEAVE on the sessionizer and the learner');
  assert.match(rewardMismatch(LEARNER, { behaviour: 'purchase', reward: 5 })!, /SESSIONIZER_REWARD_PURCHASE/);
  // A non-finite reward is the trainer's other reason, not a reward disagreement.
  assert.equal(rewardMismatch(LEARNER, { behaviour: 'click', reward: Number.NaN }), null);
});

test('at start-up, the first transitions are compared with the learner\'s rewards and a disagreement names both sets', () => {
  const built = (rewards: Rewards) => syntheticTransitions(20).map((t) => ({ ...t, reward: rewards[t.behaviour] }));
  assert.equal(startupRewardMismatch(LEARNER, built(LEARNER)), null);
  assert.equal(startupRewardMismatch(LEARNER, []), null, 'nothing read yet: nothing to judge');
  const other = { ...LEARNER, leave: -5 };
  const ts = built(other);
  const message = startupRewardMismatch(LEARNER, ts);
  assert.equal(message, `learner rewards {click:1,skip:0,leave:-2,purchase:1} differ from the transitions' {click:1,skip:0,leave:-5,purchase:?} ` +
    `(the first ${ts.length} transitions read; SESSIONIZER_REWARD_LEAVE differs): set the same SESSIONIZER_REWARD_* on the sessionizer and the learner`);
  // One disagreeing transition among agreeing ones is enough.
  const one = [...built(LEARNER), { behaviour: 'click' as const, reward: 3 }];
  assert.match(startupRewardMismatch(LEARNER, one)!, /transitions' \{click:1\|3,.*SESSIONIZER_REWARD_CLICK differs/);
});

test('the trainer refuses a transition built with other rewards, and the loop\'s triage dead-letters it with the reason', () => {
  const rewards = { ...LEARNER, leave: -5 };
  const trainer = new OnlineTrainer({
    model: { scenarios: ['entrance', 'detail'], embeddingSize: 8, hiddenSize: 8, historyLength: 10, attentionSize: 4, headHidden: [8], rewards },
    replayCapacity: 100, batchSize: 4, trainStart: 8, holdoutEvery: 4, holdoutSize: 10, embeddingRefreshSteps: 5, seed: 3,
  });
  assert.deepEqual(trainer.model.config.rewards, rewards, 'Eq. 1 uses the configured rewards');
  const ts = syntheticTransitions(30);
  const leave = ts.find((t) => t.behaviour === 'leave')!;
  const click = ts.find((t) => t.behaviour === 'click')!;
  assert.equal(leave.reward, -2);
  assert.match(trainer.rejectionOf(leave)!, /built with reward -2 for a leave, the learner's is -5/);
  assert.equal(trainer.rejectionOf(click), null);
  assert.equal(trainer.rejectionOf({ ...leave, reward: -5 }), null);
  const r = trainer.ingest([leave, click]);
  assert.equal(r.rejected.length, 1, 'ingest (refills included) never trains on it either');

  const rec = (offset: number, transition: typeof leave): ReadRecord =>
    ({ offset: String(offset), key: Buffer.from(transition.userId), value: Buffer.from([offset]), decoded: { transition }, refill: false });
  const intake = triage({ topic: 'p.transitions', partition: 0 }, [rec(1, click), rec(2, leave)], (t) => trainer.rejectionOf(t), 99);
  assert.deepEqual(intake.fresh, [click]);
  assert.equal(intake.letters.length, 1);
  assert.equal(intake.letters[0]!.sourceOffset, '2');
  assert.match(intake.letters[0]!.reason, /^transition rejected: built with reward -2 for a leave.*SESSIONIZER_REWARD_LEAVE/);
});
