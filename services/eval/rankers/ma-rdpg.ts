/**
 * MA-RDPG baseline (paper §4.2, [10]: Feng et al., "Learning to Collaborate: Multi-Scenario Ranking via
 * Multi-Agent Reinforcement Learning", WWW 2018), simplified faithfully:
 * - communication component: one GRU over the clicked-item history whose last hidden state is the
 *   message every agent reads (the original also feeds each step's action into it; here the history
 *   already holds the clicked items, and skipped items do not enter it);
 * - private actors: one MLP per scenario from the message to a unit proto-action;
 * - centralized critic: an MLP over (message, action, scenario one-hot);
 * - model-free target y = r + γ·Q'(m'(s'), π'_{n}(m'(s')), n), n the observed next scenario (no
 *   behaviour model: the difference to DeepChain the paper measures), soft target updates.
 * The message GRU learns through the critic loss; the actors learn through the critic with it held fixed.
 */
import * as tf from '@tensorflow/tfjs';
import { PAPER_SCENARIOS, seededRandom } from '../../model/index.js';
import type { ItemSpace } from '../item-space.js';
import type { PageView } from '../logged-session.js';
import { algorithm3, checkpointDue, type Checkpoint, type Observe, type Progress, type RankQuery, type Ranker } from '../ranker.js';
import type { Scenario } from '../../common/index.js';
import { addGru, addMlp, dot, gatherRows, gruLast, gruLastJs, mlp, mlpJs, unitJs, unitRows, Vars } from './kit.js';
import { indexTransitions, sequenceBatch } from './indexed.js';

export interface MaRdpgOptions {
  readonly historyLength: number;
  readonly hiddenSize: number;
  readonly hidden: readonly number[];
  readonly steps: number;
  readonly batchSize: number;
  readonly gamma: number;
  readonly tau: number;
  readonly learningRate: number;
  readonly seed: number;
  /** Scenarios with an actor (the paper's two unless given). */
  readonly scenarios?: readonly Scenario[];
}

export class MaRdpgRanker implements Ranker {
  readonly name = 'MA-RDPG';
  private vars: Vars;
  private weights: Map<string, Float32Array> | null = null;

  constructor(private readonly space: ItemSpace, private readonly o: MaRdpgOptions) {
    this.vars = new Vars(o.seed);
  }

  private get scenarios(): readonly Scenario[] {
    return this.o.scenarios ?? PAPER_SCENARIOS;
  }

  async train(views: readonly PageView[], onProgress: Progress, checkpoint?: Checkpoint): Promise<void> {
    const { o, space } = this;
    const E = space.dimension;
    const N = o.historyLength;
    const H = o.hiddenSize;
    const layers = o.hidden.length + 1;
    const data = indexTransitions(views, space, N, this.scenarios);
    const S = this.scenarios.length;
    const random = seededRandom(o.seed * 131 + 3);
    addGru(this.vars, 'o.msg', E, H);
    for (let m = 0; m < S; m++) addMlp(this.vars, `o.actor${m}`, [H, ...o.hidden, E]);
    addMlp(this.vars, 'o.critic', [H + E + S, ...o.hidden, 1]);
    this.vars.copy('o.', 't.');
    const criticOpt = tf.train.adam(o.learningRate);
    const actorOpt = tf.train.adam(o.learningRate);
    const criticVars = [...this.vars.list('o.msg'), ...this.vars.list('o.critic')];
    const actorVars = Array.from({ length: S }, (_, m) => this.vars.list(`o.actor${m}`)).flat();
    const oneHot = (idx: ArrayLike<number>) => {
      const v = new Float32Array(idx.length * S);
      for (let i = 0; i < idx.length; i++) if (idx[i]! >= 0) v[i * S + idx[i]!] = 1;
      return tf.tensor2d(v, [idx.length, S]);
    };
    // π_m(msg) for each row's scenario: every actor on every row, the row's own picked by its one-hot.
    const actAll = (prefix: string, msg: tf.Tensor2D, scen: tf.Tensor2D) =>
      unitRows(tf.addN(Array.from({ length: S }, (_, m) => tf.mul(mlp(this.vars, `${prefix}.actor${m}`, layers, msg), scen.slice([0, m], [-1, 1])))) as tf.Tensor2D);
    for (let step = 0; step < o.steps && data.count > 0; step++) {
      const pick = Array.from({ length: o.batchSize }, () => Math.floor(random() * data.count));
      const B = pick.length;
      const cur = sequenceBatch(pick.map((i) => data.states[i]!), space.vectors, E, N);
      const nxt = sequenceBatch(pick.map((i) => data.nextStates[i]!), space.vectors, E, N);
      const scenIdx = pick.map((i) => data.scenarios[i]!);
      const nextIdx = pick.map((i) => data.nextScenarios[i]!);
      tf.tidy(() => {
        const scen = oneHot(scenIdx);
        const nextScen = oneHot(nextIdx);
        const a = tf.tensor2d(gatherRows(space.vectors, E, pick.map((i) => data.actions[i]!)), [B, E]);
        const msg2 = gruLast(this.vars, 't.msg', tf.tensor3d(nxt.x, [N, B, E]), nxt.lengths);
        const a2 = actAll('t', msg2, nextScen);
        const q2 = mlp(this.vars, 't.critic', layers, tf.concat([msg2, a2, nextScen], 1)).reshape([B]);
        const cont = tf.tensor1d(Float32Array.from(nextIdx, (n) => (n >= 0 ? o.gamma : 0)));
        const y = tf.add(tf.tensor1d(Float32Array.from(pick, (i) => data.rewards[i]!)), tf.mul(cont, q2));
        const x = tf.tensor3d(cur.x, [N, B, E]);
        criticOpt.minimize(() => {
          const msg = gruLast(this.vars, 'o.msg', x, cur.lengths);
          return tf.mean(tf.square(tf.sub(y, mlp(this.vars, 'o.critic', layers, tf.concat([msg, a, scen], 1)).reshape([B])))) as tf.Scalar;
        }, false, criticVars);
        const msg = gruLast(this.vars, 'o.msg', x, cur.lengths);
        actorOpt.minimize(() => tf.neg(tf.mean(mlp(this.vars, 'o.critic', layers, tf.concat([msg, actAll('o', msg, scen), scen], 1)))) as tf.Scalar, false, actorVars);
      });
      this.vars.softUpdate('o.', 't.', o.tau);
      onProgress(step + 1, o.steps);
      if (checkpointDue(checkpoint, step + 1, o.steps)) {
        this.weights = this.vars.arrays('o.');
        if (!checkpoint.at(step + 1)) break;
      }
    }
    criticOpt.dispose();
    actorOpt.dispose();
    this.weights = this.vars.arrays('o.');
  }

  rank(q: RankQuery, observe: Observe): string[] {
    const w = this.weights;
    if (!w) throw new Error('MA-RDPG is not trained');
    const m = this.scenarios.indexOf(q.scenario);
    if (m < 0) throw new Error(`MA-RDPG has no agent for scenario '${q.scenario}'`);
    const E = this.space.dimension;
    const N = this.o.historyLength;
    const ids = q.items.map((it) => it.id);
    const cand = ids.map((id) => this.space.index(id));
    const layers = this.o.hidden.length + 1;
    const vec = (i: number) => this.space.vectors.subarray(i * E, i * E + E);
    return algorithm3(
      ids,
      this.space.historyIndices(q.history),
      (state) => {
        const msg = gruLastJs(w, 'msg', state.slice(-N).map(vec), E);
        const a = unitJs(mlpJs(w, `actor${m}`, layers, msg));
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
