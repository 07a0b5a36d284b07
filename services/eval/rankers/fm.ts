/**
 * Factorization machine baseline (paper §4.2, [22]: Rendle, "Factorization Machines", ICDM 2010), degree 2:
 *
 *   ŷ(x) = w0 + Σ_i w_i x_i + ½ Σ_f [ (Σ_i v_{i,f} x_i)² − Σ_i v_{i,f}² x_i² ]
 *
 * trained pointwise (logistic loss on clicked vs. shown-but-not-clicked items) by SGD with L2, in typed
 * arrays. Features, one-hot unless noted: user, item, scenario, scenario × item, the detail page's item,
 * and the last N history items (each 1/√n). No display position or price: like the learned models it
 * ranks from who the user is and what they clicked, so the position bias stays with the logged-order
 * baseline. Features never seen in training carry no weight.
 */
import { seededRandom } from '../../model/index.js';
import { isRelevant, type PageView } from '../logged-session.js';
import { checkpointDue, orderByScore, type Checkpoint, type Progress, type RankQuery, type Ranker } from '../ranker.js';

export interface FmOptions {
  readonly factors: number;
  readonly epochs: number;
  readonly learningRate: number;
  readonly l2: number;
  readonly historyLength: number;
  readonly seed: number;
}

type Features = { idx: number[]; val: number[] };

export class FmRanker implements Ranker {
  readonly name = 'FM';
  private index = new Map<string, number>();
  private w0 = 0;
  private w = new Float32Array(0);
  private v = new Float32Array(0);

  constructor(private readonly o: FmOptions) {}

  private features(q: Pick<RankQuery, 'userId' | 'scenario' | 'history' | 'context'>, item: string, grow: boolean): Features {
    const idx: number[] = [];
    const val: number[] = [];
    const put = (key: string, x: number) => {
      let i = this.index.get(key);
      if (i === undefined) {
        if (!grow) return;
        i = this.index.size;
        this.index.set(key, i);
      }
      idx.push(i);
      val.push(x);
    };
    put(`u:${q.userId}`, 1);
    put(`i:${item}`, 1);
    put(`s:${q.scenario}`, 1);
    put(`si:${q.scenario}:${item}`, 1);
    if (q.context) put(`c:${q.context}`, 1);
    const h = q.history.slice(-this.o.historyLength);
    for (const id of new Set(h)) put(`h:${id}`, 1 / Math.sqrt(h.length));
    return { idx, val };
  }

  private predict(f: Features, sums?: Float64Array): number {
    const K = this.o.factors;
    let y = this.w0;
    const s = sums ?? new Float64Array(K);
    s.fill(0);
    let sq = 0;
    f.idx.forEach((i, j) => {
      const x = f.val[j]!;
      y += this.w[i]! * x;
      for (let k = 0; k < K; k++) {
        const vx = this.v[i * K + k]! * x;
        s[k]! += vx;
        sq += vx * vx;
      }
    });
    for (let k = 0; k < K; k++) y += 0.5 * s[k]! * s[k]!;
    return y - 0.5 * sq;
  }

  async train(views: readonly PageView[], onProgress: Progress, checkpoint?: Checkpoint): Promise<void> {
    const { factors: K, learningRate: lr, l2 } = this.o;
    const random = seededRandom(this.o.seed * 101 + 13);
    const rows: { f: Features; y: number }[] = [];
    for (const v of views) for (const it of v.items) rows.push({ f: this.features(v, it.id, true), y: isRelevant(it.behaviour) ? 1 : 0 });
    const F = this.index.size;
    this.w = new Float32Array(F);
    this.v = Float32Array.from({ length: F * K }, () => (random() - 0.5) * 0.02);
    const sums = new Float64Array(K);
    const order = rows.map((_, i) => i);
    for (let epoch = 0; epoch < this.o.epochs; epoch++) {
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      for (const r of order) {
        const { f, y } = rows[r]!;
        const p = 1 / (1 + Math.exp(-this.predict(f, sums)));
        const g = p - y; // d logloss / d ŷ
        this.w0 -= lr * g;
        f.idx.forEach((i, j) => {
          const x = f.val[j]!;
          this.w[i]! -= lr * (g * x + l2 * this.w[i]!);
          for (let k = 0; k < K; k++) {
            const vik = this.v[i * K + k]!;
            this.v[i * K + k] = vik - lr * (g * x * (sums[k]! - vik * x) + l2 * vik);
          }
        });
      }
      onProgress(epoch + 1, this.o.epochs);
      if (checkpointDue(checkpoint, epoch + 1, this.o.epochs) && !checkpoint.at(epoch + 1)) break;
    }
  }

  rank(q: RankQuery): string[] {
    const ids = q.items.map((it) => it.id);
    return orderByScore(ids, ids.map((id) => this.predict(this.features(q, id, false))));
  }

  dispose(): void {}
}
