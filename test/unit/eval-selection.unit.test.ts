/** The validation search: learning curves, early stopping and the choice of grid point and length. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PageView } from '../../services/eval/logged-session.js';
import type { Checkpoint, Progress, RankQuery, Ranker } from '../../services/eval/ranker.js';
import { selectOnValidation } from '../../services/eval/selection.js';
import type { TrainingSpec } from '../../services/eval/models.js';

/** Validation views: the clicked item is shown last, so only a ranker that knows it scores NDCG 1. */
const validation: PageView[] = Array.from({ length: 4 }, (_, i) => ({
  userId: `u${i}`, sessionId: `s${i}`, time: i, step: 0, scenario: 'entrance', history: [], context: null,
  items: [{ id: 'x', behaviour: 'skip' }, { id: 'y', behaviour: 'skip' }, { id: `c${i}`, behaviour: 'click' }],
}));

/**
 * A ranker whose quality after each unit follows a schedule: quality q puts the clicked item first in the
 * first q views (it peeks at the answer: this tests the search, not a model).
 */
class ScheduledRanker implements Ranker {
  readonly name = 'scheduled';
  private quality = 0;
  trained = 0;
  constructor(private readonly schedule: readonly number[]) {}
  async train(_views: readonly PageView[], onProgress: Progress, checkpoint?: Checkpoint): Promise<void> {
    for (let u = 1; u <= this.schedule.length; u++) {
      this.quality = this.schedule[u - 1]!;
      this.trained = u;
      onProgress(u, this.schedule.length);
      if (checkpoint && (u % checkpoint.every === 0 || u === this.schedule.length) && !checkpoint.at(u)) break;
    }
  }
  rank(q: RankQuery): string[] {
    const i = Number(q.userId.slice(1));
    const ids = q.items.map((it) => it.id);
    return i < this.quality ? [ids[2]!, ids[0]!, ids[1]!] : ids;
  }
  dispose(): void {}
}

const spec = (grid: TrainingSpec['grid'], maxUnits: number, every = 1): TrainingSpec => ({ unit: 'steps', maxUnits, every, grid });

test('the choice is the grid point and length with the best validation score; curves are kept per point', async () => {
  const schedules: Record<number, number[]> = { 1: [0, 1, 2, 3, 2, 1], 2: [1, 4, 4, 2, 1, 0] };
  const built: ScheduledRanker[] = [];
  const selection = await selectOnValidation({
    model: 'DeepChain',
    spec: spec([{ lr: 1 }, { lr: 2 }], 6),
    build: (params) => {
      const r = new ScheduledRanker(schedules[params.lr!]!);
      built.push(r);
      return r;
    },
    fit: [], validation, k: 10, patience: 10,
  });
  assert.deepEqual(selection.chosen.params, { lr: 2 });
  assert.equal(selection.chosen.units, 2, 'the first of two equal bests');
  assert.equal(selection.chosen.validation, 1);
  assert.deepEqual(selection.runs[0]!.curve.map((p) => p.units), [1, 2, 3, 4, 5, 6]);
  // quality 3 of 4 views: three at NDCG 1, one with the click third (1/log2 4 = 0.5)
  assert.equal(selection.runs[0]!.best.units, 4);
  assert.ok(Math.abs(selection.runs[0]!.best.validation - (3 + 0.5) / 4) < 1e-12);
  assert.equal(selection.runs[1]!.stoppedEarly, false);
});

test('a run stops after `patience` checkpoints without a new best', async () => {
  let ranker: ScheduledRanker | null = null;
  const selection = await selectOnValidation({
    model: 'DDPG',
    spec: spec([{ lr: 1 }], 10, 2),
    build: () => (ranker = new ScheduledRanker([0, 2, 0, 1, 0, 1, 0, 4, 4, 4])),
    fit: [], validation, k: 10, patience: 2,
  });
  // checkpoints at 2 (best), 4, 6 (two without a new best): stop at 6, before the better 8.
  assert.deepEqual(selection.runs[0]!.curve.map((p) => p.units), [2, 4, 6]);
  assert.equal(selection.runs[0]!.stoppedEarly, true);
  assert.equal(ranker!.trained, 6);
  assert.equal(selection.chosen.units, 2);
});

test('a model without iterations is fitted once per grid point and scored once', async () => {
  const selection = await selectOnValidation({
    model: 'SKNN',
    spec: { unit: null, maxUnits: 1, every: 1, grid: [{ n: 1 }, { n: 4 }] },
    build: (params) => new ScheduledRanker([params.n!]),
    fit: [], validation, k: 10, patience: 3,
  });
  assert.deepEqual(selection.chosen, { params: { n: 4 }, units: 1, validation: 1 });
  assert.equal(selection.runs.length, 2);
});
