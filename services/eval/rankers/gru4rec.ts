/**
 * GRU4Rec baseline (paper §4.2, [12]: Hidasi et al., "Session-based Recommendations with Recurrent Neural
 * Networks", ICLR 2016): a GRU over the user's last N clicked items predicts the next click. Trained with
 * cross-entropy over sampled candidates (the positive, the items the user skipped beside it, and random
 * items: GRU4Rec's mini-batch-negative idea with the log's own negatives). It learns its own item
 * embeddings (initialised from the shared item2vec vectors, random where those are zero) and item biases
 * (sparse Adagrad on the host; the GRU and output map by Adam).
 * Immediate next click only: no reward beyond it (the contrast the paper draws with the RL models).
 */
import * as tf from '@tensorflow/tfjs';
import { seededRandom } from '../../model/index.js';
import type { ItemSpace } from '../item-space.js';
import { isRelevant, type PageView } from '../logged-session.js';
import { algorithm3, checkpointDue, type Checkpoint, type Observe, type Progress, type RankQuery, type Ranker } from '../ranker.js';
import { addGru, gatherRows, gruLast, gruLastJs, Vars } from './kit.js';

export interface Gru4RecOptions {
  readonly historyLength: number;
  readonly hiddenSize: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly negatives: number;
  readonly learningRate: number;
  readonly seed: number;
}

interface Example {
  state: number[];
  positive: number;
  skipped: number[];
}

export class Gru4RecRanker implements Ranker {
  readonly name = 'GRU4Rec';
  private vars: Vars;
  private w: Map<string, Float32Array> | null = null;
  private emb = new Float32Array(0);
  private bias = new Float32Array(0);

  constructor(private readonly space: ItemSpace, private readonly o: Gru4RecOptions) {
    this.vars = new Vars(o.seed);
  }

  async train(views: readonly PageView[], onProgress: Progress, checkpoint?: Checkpoint): Promise<void> {
    const { o, space } = this;
    const E = space.dimension;
    const N = o.historyLength;
    const V = space.vocabulary.size;
    const random = seededRandom(o.seed * 17 + 5);
    const examples: Example[] = [];
    for (const v of views) {
      let state = space.historyIndices(v.history);
      const skipped = v.items.filter((it) => !isRelevant(it.behaviour)).map((it) => space.index(it.id));
      for (const it of v.items) {
        if (!isRelevant(it.behaviour)) continue;
        const pos = space.index(it.id);
        examples.push({ state: state.slice(-N), positive: pos, skipped });
        state = [...state, pos];
      }
    }
    // The item table and biases live on the host and learn by sparse Adagrad: the WASM backend has no
    // gradient for gather (UnsortedSegmentSum), so each batch's rows enter as tensors whose gradients are
    // scattered back here.
    const emb = Float32Array.from(space.vectors);
    for (let i = 1; i < V; i++) {
      let zero = true;
      for (let e = 0; e < E; e++) if (emb[i * E + e] !== 0) zero = false;
      if (zero) for (let e = 0; e < E; e++) emb[i * E + e] = (random() - 0.5) * 0.1;
    }
    emb.fill(0, 0, E);
    const bias = new Float32Array(V);
    const embAcc = new Float32Array(V).fill(1e-6);
    const biasAcc = new Float32Array(V).fill(1e-6);
    addGru(this.vars, 'gru', E, o.hiddenSize);
    this.vars.add('out', [o.hiddenSize, E]);
    const dense = this.vars.list();
    const opt = tf.train.adam(o.learningRate);
    const C = 1 + o.negatives;
    const batches = Math.ceil(examples.length / o.batchSize);
    const total = batches * o.epochs;
    const embRate = 0.05;
    let done = 0;
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      const order = examples.map((_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      for (let b0 = 0; b0 < order.length; b0 += o.batchSize) {
        const batch = order.slice(b0, b0 + o.batchSize).map((i) => examples[i]!);
        const B = batch.length;
        const seqIdx = new Int32Array(N * B);
        const lengths = new Int32Array(B);
        const cand = new Int32Array(B * C);
        batch.forEach((ex, b) => {
          lengths[b] = ex.state.length;
          ex.state.forEach((item, t) => (seqIdx[t * B + b] = item));
          cand[b * C] = ex.positive;
          for (let k = 1; k < C; k++) {
            const fromLog = ex.skipped.length > 0 && k <= Math.ceil(o.negatives / 2);
            cand[b * C + k] = fromLog ? ex.skipped[Math.floor(random() * ex.skipped.length)]! : 1 + Math.floor(random() * (V - 1));
          }
        });
        const xV = tf.variable(tf.tensor3d(gatherRows(emb, E, seqIdx), [N, B, E]));
        const ceV = tf.variable(tf.tensor3d(gatherRows(emb, E, cand), [B, C, E]));
        const cbV = tf.variable(tf.tensor2d(Float32Array.from(cand, (c) => bias[c]!), [B, C]));
        const labels = tf.oneHot(tf.zeros([B], 'int32'), C);
        const { value, grads } = tf.variableGrads(() => {
          const h = gruLast(this.vars, 'gru', xV as tf.Tensor3D, lengths);
          const u = tf.matMul(h, this.vars.get('out') as tf.Tensor2D);
          const logits = tf.add(tf.sum(tf.mul(ceV, tf.expandDims(u, 1)), 2), cbV);
          return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
        }, [...dense, xV, ceV, cbV]);
        // Every variable every time (tfjs's Adam keeps its moments by list position); zeros where no gradient reached.
        const zeros = dense.filter((v) => !grads[v.name]).map((v) => tf.zerosLike(v));
        let z = 0;
        opt.applyGradients(dense.map((v) => ({ name: v.name, tensor: grads[v.name] ?? zeros[z++]! })));
        tf.dispose(zeros);
        const scatter = (g: Float32Array, rows: Int32Array, width: number, table: Float32Array, acc: Float32Array) => {
          rows.forEach((row, r) => {
            if (row === 0) return;
            let sq = 0;
            for (let e = 0; e < width; e++) sq += g[r * width + e]! ** 2;
            acc[row]! += sq / width;
            const step = embRate / Math.sqrt(acc[row]!);
            for (let e = 0; e < width; e++) table[row * width + e]! -= step * g[r * width + e]!;
          });
        };
        // A batch of empty histories never reads x (the GRU stops at once): no gradient for it then.
        const g = (v: tf.Variable) => grads[v.name]?.dataSync() as Float32Array | undefined;
        const [gx, gce, gcb] = [g(xV), g(ceV), g(cbV)];
        if (gx) scatter(gx, seqIdx, E, emb, embAcc);
        if (gce) scatter(gce, cand, E, emb, embAcc);
        if (gcb) scatter(gcb, cand, 1, bias, biasAcc);
        tf.dispose([value, labels, xV, ceV, cbV, ...Object.values(grads)]);
        onProgress(++done, total);
      }
      if (checkpointDue(checkpoint, epoch + 1, o.epochs)) {
        this.publish(emb, bias);
        if (!checkpoint.at(epoch + 1)) break;
      }
    }
    opt.dispose();
    this.publish(emb, bias);
  }

  /** Host copies that rank() reads (copied: training goes on updating emb and bias in place). */
  private publish(emb: Float32Array, bias: Float32Array): void {
    this.emb = Float32Array.from(emb);
    this.bias = Float32Array.from(bias);
    this.w = this.vars.arrays('');
  }

  rank(q: RankQuery, observe: Observe): string[] {
    const w = this.w;
    if (!w) throw new Error('GRU4Rec is not trained');
    const E = this.space.dimension;
    const N = this.o.historyLength;
    const emb = this.emb;
    const bias = this.bias;
    const out = w.get('out')!;
    const ids = q.items.map((it) => it.id);
    const cand = ids.map((id) => this.space.index(id));
    const vec = (i: number) => (i === 0 ? new Float32Array(E) : emb.subarray(i * E, i * E + E));
    return algorithm3(
      ids,
      this.space.historyIndices(q.history),
      (state) => {
        const h = gruLastJs(w, 'gru', state.slice(-N).map(vec), E);
        const u = new Float32Array(E);
        for (let k = 0; k < h.length; k++) for (let e = 0; e < E; e++) u[e]! += h[k]! * out[k * E + e]!;
        // An item the training part never had has no embedding or bias: it scores 0.
        return cand.map((c) => {
          if (c === 0) return 0;
          let s = bias[c]!;
          for (let e = 0; e < E; e++) s += u[e]! * emb[c * E + e]!;
          return s;
        });
      },
      (state, clicked) => [...state, this.space.index(clicked)],
      observe,
    );
  }

  dispose(): void {
    this.vars.dispose();
  }
}
