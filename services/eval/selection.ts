/**
 * Hyper-parameters and training length chosen on validation only. For each point of a model's grid, a run
 * trains on the fitting part and scores the validation part (the latest sessions of the training part, by
 * time) every `every` units: that is the run's learning curve. A run stops early once `patience`
 * checkpoints in a row have not beaten its best. The choice is the (grid point, units) with the best
 * validation NDCG@k over all views; the caller then trains the final model on the whole training part with
 * it. The test part is never seen here.
 */
import type { PageView } from './logged-session.js';
import type { ModelName, Params, TrainingSpec } from './models.js';
import type { Progress, Ranker } from './ranker.js';
import { meansOf, scoreViews } from './scoring.js';

export interface CurvePoint {
  readonly units: number;
  /** Validation NDCG@k over every scored view. */
  readonly validation: number;
}

export interface GridRun {
  readonly params: Params;
  readonly curve: readonly CurvePoint[];
  readonly best: CurvePoint;
  readonly stoppedEarly: boolean;
  readonly wallMs: number;
}

export interface Selection {
  readonly model: ModelName;
  readonly metric: string;
  readonly unit: TrainingSpec['unit'];
  readonly maxUnits: number;
  readonly grid: readonly Params[];
  readonly runs: readonly GridRun[];
  readonly chosen: { readonly params: Params; readonly units: number; readonly validation: number };
}

export interface SelectionInput {
  readonly model: ModelName;
  readonly spec: TrainingSpec;
  readonly build: (params: Params, units: number) => Ranker;
  readonly fit: readonly PageView[];
  readonly validation: readonly PageView[];
  readonly k: number;
  /** Checkpoints in a row without a new best before a run stops. */
  readonly patience: number;
  readonly onProgress?: Progress;
}

/** Validation NDCG@k over every scored view (0 when none is scored). */
export function validationScore(ranker: Ranker, validation: readonly PageView[], k: number): number {
  return meansOf(scoreViews(ranker, validation, k), 'all')?.ndcg ?? 0;
}

export async function selectOnValidation(input: SelectionInput): Promise<Selection> {
  const { spec, k } = input;
  if (spec.grid.length === 0) throw new Error(`${input.model}: empty hyper-parameter grid`);
  const total = spec.grid.length * spec.maxUnits;
  const runs: GridRun[] = [];
  for (const [g, params] of spec.grid.entries()) {
    const started = Date.now();
    const ranker = input.build(params, spec.maxUnits);
    const curve: CurvePoint[] = [];
    let best: CurvePoint | null = null;
    let sinceBest = 0;
    try {
      await ranker.train(
        input.fit,
        (done) => input.onProgress?.(g * spec.maxUnits + Math.min(done, spec.maxUnits), total),
        spec.unit === null ? undefined : {
          every: spec.every,
          at: (units) => {
            const point = { units, validation: validationScore(ranker, input.validation, k) };
            curve.push(point);
            if (best === null || point.validation > best.validation) (best = point), (sinceBest = 0);
            else sinceBest++;
            return sinceBest < input.patience;
          },
        },
      );
      if (spec.unit === null) {
        const point = { units: 1, validation: validationScore(ranker, input.validation, k) };
        curve.push(point);
        best = point;
      }
    } finally {
      ranker.dispose();
    }
    if (best === null) throw new Error(`${input.model}: training ended before its first validation checkpoint`);
    const last = curve.at(-1)!;
    runs.push({ params, curve, best, stoppedEarly: spec.unit !== null && last.units < spec.maxUnits, wallMs: Date.now() - started });
  }
  const winner = runs.reduce((a, b) => (b.best.validation > a.best.validation ? b : a));
  return {
    model: input.model,
    metric: `validation NDCG@${k} (all views)`,
    unit: spec.unit,
    maxUnits: spec.maxUnits,
    grid: spec.grid,
    runs,
    chosen: { params: winner.params, units: winner.best.units, validation: winner.best.validation },
  };
}
