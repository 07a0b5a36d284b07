/**
 * DDPG baseline (paper §4.2, [9]): one agent per scenario, each trained only on its scenario's transitions
 * with the standard DDPG update (Lillicrap et al. 2016): critic on y = r + γ·Q'(s', π'(s')), actor by the
 * deterministic policy gradient, soft target updates. Actor input: the concatenated embeddings of the last
 * N clicked items; critic input: that and the action. Simplification: three fully connected layers each
 * instead of the paper's five (2 cores). Proto-actions are unit vectors, scored a·e_k like DeepChain's.
 */
import * as tf from '@tensorflow/tfjs';
import { PAPER_SCENARIOS, seededRandom } from '../../model/index.js';
import type { ItemSpace } from '../item-space.js';
import type { PageView } from '../logged-session.js';
import { algorithm3, checkpointDue, type Checkpoint, type Observe, type Progress, type RankQuery, type Ranker } from '../ranker.js';
import type { Scenario } from '../../common/index.js';
import { addMlp, dot, gatherRows, mlp, mlpJs, unitJs, unitRows, Vars } from './kit.js';
import { concatState, indexTransitions } from './indexed.js';

export interface DdpgOptions {
  readonly historyLength: number;
  readonly hidden: readonly number[];
  readonly steps: number;
  readonly batchSize: number;
  readonly gamma: number;
  readonly tau: number;
  readonly learningRate: number;
  readonly seed: number;
  /** Scenarios with an agent (the paper's two unless given). */
  readonly scenarios?: readonly Scenario[];
}

export class DdpgRanker implements Ranker {
  readonly name = 'DDPG';
  private vars: Vars;
  private actors: Map<string, Float32Array>[] = [];

  constructor(private readonly space: ItemSpace, private readonly o: DdpgOptions) {
    this.vars = new Vars(o.seed);
  }

  private get scenarios(): readonly Scenario[] {
    return this.o.scenarios ?? PAPER_SCENARIOS;
  }

  async train(views: readonly PageView[], onProgress: Progress, checkpoint?: Checkpoint): Promise<void> {
    const { o, space } = this;
    const E = space.dimension;
    const N = o.historyLength;
    const data = indexTransitions(views, space, N, this.scenarios);
    const random = seededRandom(o.seed * 31 + 7);
    const S = this.scenarios.length;
    const layers = o.hidden.length + 1;
    const agents = Array.from({ length: S }, (_, m) => {
      addMlp(this.vars, `a${m}.actor`, [N * E, ...o.hidden, E]);
      addMlp(this.vars, `a${m}.critic`, [N * E + E, ...o.hidden, 1]);
      this.vars.copy(`a${m}.`, `t${m}.`);
      const rows = [];
      for (let i = 0; i < data.count; i++) if (data.scenarios[i] === m) rows.push(i);
      return { rows, actorOpt: tf.train.adam(o.learningRate), criticOpt: tf.train.adam(o.learningRate) };
    });
    const table = space.vectors;
    for (let step = 0; step < o.steps; step++) {
      agents.forEach((agent, m) => {
        if (agent.rows.length === 0) return;
        const pick = Array.from({ length: o.batchSize }, () => agent.rows[Math.floor(random() * agent.rows.length)]!);
        const B = pick.length;
        const s = new Float32Array(B * N * E);
        const s2 = new Float32Array(B * N * E);
        pick.forEach((i, b) => {
          s.set(concatState(data.states[i]!, table, E, N), b * N * E);
          s2.set(concatState(data.nextStates[i]!, table, E, N), b * N * E);
        });
        const a = gatherRows(table, E, pick.map((i) => data.actions[i]!));
        // Single-agent: the next state is scored by the same scenario's target networks; terminal rows do not bootstrap.
        const cont = Float32Array.from(pick, (i) => (data.nextScenarios[i]! >= 0 ? o.gamma : 0));
        const r = Float32Array.from(pick, (i) => data.rewards[i]!);
        tf.tidy(() => {
          const sT = tf.tensor2d(s, [B, N * E]);
          const s2T = tf.tensor2d(s2, [B, N * E]);
          const aT = tf.tensor2d(a, [B, E]);
          const a2 = unitRows(mlp(this.vars, `t${m}.actor`, layers, s2T));
          const q2 = mlp(this.vars, `t${m}.critic`, layers, tf.concat([s2T, a2], 1)).reshape([B]);
          const y = tf.add(tf.tensor1d(r), tf.mul(tf.tensor1d(cont), q2));
          agent.criticOpt.minimize(() => tf.mean(tf.square(tf.sub(y, mlp(this.vars, `a${m}.critic`, layers, tf.concat([sT, aT], 1)).reshape([B])))) as tf.Scalar, false, this.vars.list(`a${m}.critic`));
          agent.actorOpt.minimize(() => tf.neg(tf.mean(mlp(this.vars, `a${m}.critic`, layers, tf.concat([sT, unitRows(mlp(this.vars, `a${m}.actor`, layers, sT))], 1)))) as tf.Scalar, false, this.vars.list(`a${m}.actor`));
        });
        this.vars.softUpdate(`a${m}.`, `t${m}.`, o.tau);
      });
      onProgress(step + 1, o.steps);
      if (checkpointDue(checkpoint, step + 1, o.steps)) {
        this.actors = this.scenarios.map((_, m) => this.vars.arrays(`a${m}.`));
        if (!checkpoint.at(step + 1)) break;
      }
    }
    for (const a of agents) {
      a.actorOpt.dispose();
      a.criticOpt.dispose();
    }
    this.actors = this.scenarios.map((_, m) => this.vars.arrays(`a${m}.`));
  }

  rank(q: RankQuery, observe: Observe): string[] {
    const m = this.scenarios.indexOf(q.scenario);
    const w = this.actors[m];
    if (!w) throw new Error(`DDPG has no agent for scenario '${q.scenario}' (or is not trained)`);
    const E = this.space.dimension;
    const N = this.o.historyLength;
    const ids = q.items.map((it) => it.id);
    const cand = ids.map((id) => this.space.index(id));
    const layers = this.o.hidden.length + 1;
    return algorithm3(
      ids,
      this.space.historyIndices(q.history),
      (state) => {
        const a = unitJs(mlpJs(w, 'actor', layers, concatState(state, this.space.vectors, E, N)));
        return cand.map((c) => dot(a, this.space.vectors, c));
      },
      (state, clicked) => [...state, this.space.index(clicked)],
      observe,
    );
  }

  dispose(): void {
    this.vars.dispose();
  }
}
