/**
 * The item-level attention weights of a trained DeepChain model (paper §4.5, Figure 8), recomputed from a
 * weights snapshot in plain loops: the GRU of gru.ts/inference.ts (r, z, n gates; n = tanh(x·W_n + b_n +
 * r ⊙ (h·U_n + b_hn))) and the additive attention of attention.ts, α_t = softmax_t(v_h · tanh(W_h·o_t + b_h)).
 * The model library's inference path returns only the proto-action, so the weights are read here.
 */
import type { WeightsSnapshot } from '../model/index.js';

type Tensors = ReadonlyMap<string, { shape: readonly number[]; values: Float32Array }>;

export function snapshotTensors(s: WeightsSnapshot): Tensors {
  return new Map(s.tensors.map((t) => [t.name, { shape: t.shape, values: t.values }]));
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function get(t: Tensors, name: string): Float32Array {
  const v = t.get(name);
  if (!v) throw new Error(`the snapshot has no tensor '${name}'`);
  return v.values;
}

/**
 * α over the state's steps for the encoder under `prefix` ('actor.entrance', 'actor.shared', 'critic'),
 * attention head `head` (the critic has one per scenario). state: item indices, oldest first.
 */
export function attentionWeights(t: Tensors, prefix: string, head: number, embeddings: Float32Array, E: number, state: readonly number[]): number[] {
  const wr = get(t, `${prefix}.gru.wr`), wz = get(t, `${prefix}.gru.wz`), wn = get(t, `${prefix}.gru.wn`);
  const ur = get(t, `${prefix}.gru.ur`), uz = get(t, `${prefix}.gru.uz`), un = get(t, `${prefix}.gru.un`);
  const br = get(t, `${prefix}.gru.br`), bz = get(t, `${prefix}.gru.bz`), bn = get(t, `${prefix}.gru.bn`), bhn = get(t, `${prefix}.gru.bhn`);
  const aw = get(t, `${prefix}.attention.w`), ab = get(t, `${prefix}.attention.b`), av = get(t, `${prefix}.attention.v`);
  const H = br.length;
  const heads = t.get(`${prefix}.attention.v`)!.shape[0]!;
  const A = av.length / heads;
  if (head < 0 || head >= heads) throw new Error(`'${prefix}' has ${heads} attention heads, not ${head + 1}`);
  let h = new Float64Array(H);
  const scores: number[] = [];
  for (const item of state) {
    const x = embeddings.subarray(item * E, item * E + E);
    const next = new Float64Array(H);
    for (let j = 0; j < H; j++) {
      let xr = br[j]!, xz = bz[j]!, xn = bn[j]!, hr = 0, hz = 0, hn = bhn[j]!;
      for (let e = 0; e < E; e++) {
        xr += x[e]! * wr[e * H + j]!;
        xz += x[e]! * wz[e * H + j]!;
        xn += x[e]! * wn[e * H + j]!;
      }
      for (let k = 0; k < H; k++) {
        hr += h[k]! * ur[k * H + j]!;
        hz += h[k]! * uz[k * H + j]!;
        hn += h[k]! * un[k * H + j]!;
      }
      const r = sigmoid(xr + hr);
      const z = sigmoid(xz + hz);
      next[j] = (1 - z) * Math.tanh(xn + r * hn) + z * h[j]!;
    }
    h = next;
    let e = 0;
    for (let a = 0; a < A; a++) {
      const col = head * A + a;
      let u = ab[col]!;
      for (let k = 0; k < H; k++) u += h[k]! * aw[k * heads * A + col]!;
      e += av[head * A + a]! * Math.tanh(u);
    }
    scores.push(e);
  }
  const max = Math.max(...scores);
  const ex = scores.map((s) => Math.exp(s - max));
  const total = ex.reduce((a, b) => a + b, 0);
  return ex.map((x) => x / total);
}

/**
 * Figure 8's summary: the mean α of the last `last` steps over the states that have at least that many
 * items (position 0 = the oldest of the last five, `last − 1` = the most recent).
 */
export function meanLastWeights(weights: readonly (readonly number[])[], last = 5): { mean: number[]; states: number } {
  const sum = new Array<number>(last).fill(0);
  let n = 0;
  for (const w of weights) {
    if (w.length < last) continue;
    const tail = w.slice(w.length - last);
    tail.forEach((x, i) => (sum[i]! += x));
    n++;
  }
  return { mean: sum.map((s) => (n ? s / n : 0)), states: n };
}
