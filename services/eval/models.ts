/**
 * The models of the offline and online tests in one catalogue: their names, how each is built from the fixed
 * sizes and one point of its hyper-parameter grid, what its training length counts (Algorithm 1 steps,
 * epochs, or nothing for a model without iterations), and the grid searched on validation (selection.ts).
 * Grids are small on purpose (2 cores); `--budget` scales every training length, not the grids.
 */
import type { Scenario } from '../common/index.js';
import type { ItemSpace } from './item-space.js';
import type { Ranker } from './ranker.js';
import { DdpgRanker } from './rankers/ddpg.js';
import { DeepChainRanker } from './rankers/deepchain.js';
import { FmRanker } from './rankers/fm.js';
import { Gru4RecRanker } from './rankers/gru4rec.js';
import { HistoryFirstRanker } from './rankers/history-first.js';
import { ItemKnnRanker } from './rankers/item-knn.js';
import { MaRdpgRanker } from './rankers/ma-rdpg.js';
import { LoggedOrderRanker, PopularityRanker, RandomRanker } from './rankers/simple.js';
import { SknnRanker } from './rankers/sknn.js';

export const MODEL_NAMES = [
  'DeepChain', 'DC-paper', 'DC-o', 'DC-f', 'FM', 'GRU4Rec', 'DDPG', 'MA-RDPG', 'SKNN', 'item-kNN', 'history-first', 'logged', 'popularity', 'random',
] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

/** One point of a model's grid: hyper-parameter name → value. */
export type Params = Readonly<Record<string, number>>;

/** Sizes that are fixed before any run (not searched). */
export interface ModelSizes {
  /** N for every sequence model (DeepChain variants, GRU4Rec, DDPG, MA-RDPG, FM's and the kNNs' histories). */
  readonly historyLength: number;
  /** Scenarios the RL models keep an agent for (the data's). */
  readonly scenarios: readonly Scenario[];
  readonly deepchain: { readonly hiddenSize: number; readonly attentionSize: number; readonly headHidden: readonly number[]; readonly batchSize: number; readonly gamma: number };
  readonly baselines: { readonly hiddenSize: number; readonly mlpHidden: readonly number[]; readonly batchSize: number; readonly fmFactors: number };
}

export interface TrainingSpec {
  /** What a unit of training length is; null: the model does not iterate (one fit). */
  readonly unit: 'steps' | 'epochs' | null;
  /** Most units a run may take (before `--budget` scales it). */
  readonly maxUnits: number;
  /** Validation checkpoint every this many units. */
  readonly every: number;
  readonly grid: readonly Params[];
}

const rlGrid: Params[] = [
  { actorLearningRate: 1e-3, criticLearningRate: 1e-3, tau: 0.01 },
  { actorLearningRate: 3e-4, criticLearningRate: 1e-3, tau: 0.05 },
];

/** Defaults for 2 cores. The training length of each run is then chosen by its validation curve. */
// Every RL model may run 2,000 steps: the actors with the cloning term still improve past 1,000 on
// validation; early stopping ends the flat curves of the others sooner.
export const TRAINING_SPECS: Readonly<Record<ModelName, TrainingSpec>> = Object.freeze({
  DeepChain: { unit: 'steps', maxUnits: 2000, every: 200, grid: rlGrid },
  'DC-paper': { unit: 'steps', maxUnits: 2000, every: 200, grid: rlGrid },
  'DC-o': { unit: 'steps', maxUnits: 2000, every: 200, grid: rlGrid },
  'DC-f': { unit: 'steps', maxUnits: 2000, every: 200, grid: rlGrid },
  DDPG: { unit: 'steps', maxUnits: 2000, every: 200, grid: [{ learningRate: 1e-3, tau: 0.01 }, { learningRate: 3e-4, tau: 0.05 }] },
  'MA-RDPG': { unit: 'steps', maxUnits: 2000, every: 200, grid: [{ learningRate: 1e-3, tau: 0.01 }, { learningRate: 3e-4, tau: 0.05 }] },
  GRU4Rec: { unit: 'epochs', maxUnits: 8, every: 1, grid: [{ learningRate: 3e-3 }, { learningRate: 1e-3 }] },
  FM: { unit: 'epochs', maxUnits: 8, every: 1, grid: [{ learningRate: 0.02 }, { learningRate: 0.005 }] },
  SKNN: { unit: null, maxUnits: 1, every: 1, grid: [{ neighbours: 50, sampleSize: 500 }, { neighbours: 100, sampleSize: 500 }, { neighbours: 200, sampleSize: 1000 }] },
  'item-kNN': { unit: null, maxUnits: 1, every: 1, grid: [{ lastItems: 1 }, { lastItems: 3 }, { lastItems: 5 }] },
  'history-first': { unit: null, maxUnits: 1, every: 1, grid: [{}] },
  logged: { unit: null, maxUnits: 1, every: 1, grid: [{}] },
  popularity: { unit: null, maxUnits: 1, every: 1, grid: [{}] },
  random: { unit: null, maxUnits: 1, every: 1, grid: [{}] },
});

function param(params: Params, name: string, model: string): number {
  const v = params[name];
  if (v === undefined) throw new Error(`${model}: the grid point ${JSON.stringify(params)} has no '${name}'`);
  return v;
}

/**
 * Builds one ranker: `units` is its training length (steps or epochs; ignored by models that do not
 * iterate), `params` one point of its grid.
 */
export function makeRanker(name: ModelName, space: ItemSpace, sizes: ModelSizes, params: Params, units: number, seed: number): Ranker {
  const N = sizes.historyLength;
  const d = sizes.deepchain;
  const b = sizes.baselines;
  const p = (key: string) => param(params, key, name);
  // The product's DeepChain (behaviour cloning and history codes, beyond the paper) and its variants; DC-paper
  // is DeepChain exactly as the paper has it (Eq. 4 alone, unknown items zero).
  const dc = (target: 'graph' | 'model-free', sharedActor: boolean, paper = false) =>
    new DeepChainRanker(space, {
      name, target, sharedActor, seed, steps: units, batchSize: d.batchSize, historyCodes: !paper,
      model: {
        scenarios: sizes.scenarios, hiddenSize: d.hiddenSize, historyLength: N, attentionSize: d.attentionSize, headHidden: d.headHidden,
        gamma: d.gamma, tau: p('tau'), learningRates: { actor: p('actorLearningRate'), critic: p('criticLearningRate'), probability: p('criticLearningRate') },
        ...(paper ? { cloning: 0 } : {}),
      },
    });
  switch (name) {
    case 'DeepChain': return dc('graph', false);
    case 'DC-paper': return dc('graph', false, true);
    case 'DC-o': return dc('graph', true);
    case 'DC-f': return dc('model-free', false);
    case 'FM': return new FmRanker({ factors: b.fmFactors, epochs: units, learningRate: p('learningRate'), l2: 1e-5, historyLength: N, seed });
    case 'GRU4Rec': return new Gru4RecRanker(space, { historyLength: N, hiddenSize: b.hiddenSize, epochs: units, batchSize: b.batchSize, negatives: 8, learningRate: p('learningRate'), seed });
    case 'DDPG': return new DdpgRanker(space, { historyLength: N, hidden: b.mlpHidden, steps: units, batchSize: b.batchSize, gamma: d.gamma, tau: p('tau'), learningRate: p('learningRate'), seed, scenarios: sizes.scenarios });
    case 'MA-RDPG': return new MaRdpgRanker(space, { historyLength: N, hiddenSize: b.hiddenSize, hidden: b.mlpHidden, steps: units, batchSize: b.batchSize, gamma: d.gamma, tau: p('tau'), learningRate: p('learningRate'), seed, scenarios: sizes.scenarios });
    case 'SKNN': return new SknnRanker({ neighbours: p('neighbours'), sampleSize: p('sampleSize'), historyLength: N });
    case 'item-kNN': return new ItemKnnRanker({ lastItems: p('lastItems') });
    case 'history-first': return new HistoryFirstRanker();
    case 'logged': return new LoggedOrderRanker();
    case 'popularity': return new PopularityRanker();
    case 'random': return new RandomRanker(seed);
  }
}
