/**
 * Small building blocks the baselines share (GRU4Rec, DDPG, MA-RDPG): seeded named variables with soft
 * target updates, a GRU and an MLP in TensorFlow.js for training, and the same two in plain loops for
 * ranking one query at a time (at batch 1 a tensor pass costs more in dispatch than in arithmetic).
 *
 * GRU (Cho et al. 2014, the gate layout of services/model's gru.ts):
 *   r = σ(x·W_r + h·U_r + b_r), z = σ(x·W_z + h·U_z + b_z), n = tanh(x·W_n + b_n + r ⊙ (h·U_n)), h' = (1 − z) ⊙ n + z ⊙ h
 */
import * as tf from '@tensorflow/tfjs';
import { seededRandom } from '../../model/index.js';

export class Vars {
  readonly map = new Map<string, tf.Variable>();
  private readonly random: () => number;
  constructor(seed: number) {
    this.random = seededRandom(seed);
  }
  /** Glorot-uniform [fanIn, fanOut] (or zeros). */
  add(name: string, shape: number[], init: 'glorot' | 'zeros' = 'glorot'): tf.Variable {
    const size = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(size);
    if (init === 'glorot') {
      const fanIn = shape.length > 1 ? shape[0]! : 1;
      const fanOut = shape[shape.length - 1]!;
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < size; i++) v[i] = (this.random() * 2 - 1) * limit;
    }
    const variable = tf.variable(tf.tensor(v, shape), true, `${name}_${Math.floor(this.random() * 1e9)}`);
    this.map.set(name, variable);
    return variable;
  }
  get(name: string): tf.Variable {
    const v = this.map.get(name);
    if (!v) throw new Error(`no variable '${name}'`);
    return v;
  }
  list(prefix = ''): tf.Variable[] {
    return [...this.map].filter(([n]) => n.startsWith(prefix)).map(([, v]) => v);
  }
  /** A target copy of every variable under `from`, named `to` + the rest. */
  copy(from: string, to: string): void {
    for (const [n, v] of [...this.map]) {
      if (!n.startsWith(from)) continue;
      const name = to + n.slice(from.length);
      this.map.set(name, tf.variable(v.clone(), false, `${name}_${Math.floor(this.random() * 1e9)}`));
    }
  }
  /** θ' ← τθ + (1 − τ)θ' for the copies made by copy(from, to). */
  softUpdate(from: string, to: string, tau: number): void {
    tf.tidy(() => {
      for (const [n, v] of this.map) {
        if (!n.startsWith(to)) continue;
        v.assign(tf.add(tf.mul(this.get(from + n.slice(to.length)), tau), tf.mul(v, 1 - tau)));
      }
    });
  }
  arrays(prefix: string): Map<string, Float32Array> {
    return new Map([...this.map].filter(([n]) => n.startsWith(prefix)).map(([n, v]) => [n.slice(prefix.length), v.dataSync() as Float32Array]));
  }
  dispose(): void {
    for (const v of this.map.values()) v.dispose();
    this.map.clear();
  }
}

export function addGru(vars: Vars, prefix: string, E: number, H: number): void {
  for (const g of ['r', 'z', 'n']) {
    vars.add(`${prefix}.w${g}`, [E, H]);
    vars.add(`${prefix}.u${g}`, [H, H]);
    vars.add(`${prefix}.b${g}`, [H], 'zeros');
  }
}

/**
 * The GRU's last hidden state per row. x: [N, B, E] time-major, rows right-padded; lengths[b] steps are
 * real. A padded step keeps h (so the result is h after the row's last item; h = 0 for an empty row).
 */
export function gruLast(vars: Vars, prefix: string, x: tf.Tensor3D, lengths: ArrayLike<number>): tf.Tensor2D {
  const [N, B] = x.shape;
  const H = vars.get(`${prefix}.br`).shape[0]!;
  const w = (n: string) => vars.get(`${prefix}.${n}`) as tf.Tensor2D;
  const steps = tf.unstack(x) as tf.Tensor2D[];
  let h = tf.zeros([B, H]) as tf.Tensor2D;
  for (let t = 0; t < N; t++) {
    const m = new Float32Array(B);
    let any = false;
    for (let b = 0; b < B; b++) if (t < lengths[b]!) (m[b] = 1), (any = true);
    if (!any) break;
    const xt = steps[t]!;
    const r = tf.sigmoid(tf.add(tf.add(tf.matMul(xt, w('wr')), tf.matMul(h, w('ur'))), w('br')));
    const z = tf.sigmoid(tf.add(tf.add(tf.matMul(xt, w('wz')), tf.matMul(h, w('uz'))), w('bz')));
    const n = tf.tanh(tf.add(tf.add(tf.matMul(xt, w('wn')), w('bn')), tf.mul(r, tf.matMul(h, w('un')))));
    const next = tf.add(tf.mul(tf.sub(1, z), n), tf.mul(z, h));
    const mask = tf.tensor2d(m, [B, 1]);
    h = tf.add(tf.mul(mask, next), tf.mul(tf.sub(1, mask), h)) as tf.Tensor2D;
  }
  return h;
}

/** The same GRU in plain loops over one sequence of input vectors; returns the last h. */
export function gruLastJs(w: Map<string, Float32Array>, prefix: string, inputs: readonly Float32Array[], E: number): Float32Array {
  const g = (n: string) => w.get(`${prefix}.${n}`)!;
  const [wr, wz, wn, ur, uz, un, br, bz, bn] = ['wr', 'wz', 'wn', 'ur', 'uz', 'un', 'br', 'bz', 'bn'].map(g) as Float32Array[];
  const H = br!.length;
  let h = new Float32Array(H);
  for (const x of inputs) {
    const next = new Float32Array(H);
    for (let j = 0; j < H; j++) {
      let xr = br![j]!, xz = bz![j]!, xn = bn![j]!, hr = 0, hz = 0, hn = 0;
      for (let e = 0; e < E; e++) {
        const xe = x[e]!;
        if (xe === 0) continue;
        xr += xe * wr![e * H + j]!;
        xz += xe * wz![e * H + j]!;
        xn += xe * wn![e * H + j]!;
      }
      for (let k = 0; k < H; k++) {
        const hk = h[k]!;
        if (hk === 0) continue;
        hr += hk * ur![k * H + j]!;
        hz += hk * uz![k * H + j]!;
        hn += hk * un![k * H + j]!;
      }
      const r = 1 / (1 + Math.exp(-(xr + hr)));
      const z = 1 / (1 + Math.exp(-(xz + hz)));
      next[j] = (1 - z) * Math.tanh(xn + r * hn) + z * h[j]!;
    }
    h = next;
  }
  return h;
}

/** Layer sizes [in, hidden…, out]: variables `${prefix}.l${i}.w|b`. */
export function addMlp(vars: Vars, prefix: string, sizes: readonly number[]): void {
  for (let i = 0; i + 1 < sizes.length; i++) {
    vars.add(`${prefix}.l${i}.w`, [sizes[i]!, sizes[i + 1]!]);
    vars.add(`${prefix}.l${i}.b`, [sizes[i + 1]!], 'zeros');
  }
}

/** ReLU between layers, linear output. */
export function mlp(vars: Vars, prefix: string, layers: number, x: tf.Tensor2D): tf.Tensor2D {
  let h = x;
  for (let i = 0; i < layers; i++) {
    h = tf.add(tf.matMul(h, vars.get(`${prefix}.l${i}.w`) as tf.Tensor2D), vars.get(`${prefix}.l${i}.b`)) as tf.Tensor2D;
    if (i + 1 < layers) h = tf.relu(h);
  }
  return h;
}

export function mlpJs(w: Map<string, Float32Array>, prefix: string, layers: number, x: Float32Array): Float32Array {
  let h = x;
  for (let i = 0; i < layers; i++) {
    const W = w.get(`${prefix}.l${i}.w`)!;
    const b = w.get(`${prefix}.l${i}.b`)!;
    const out = Float32Array.from(b);
    const O = b.length;
    for (let k = 0; k < h.length; k++) {
      const hk = h[k]!;
      if (hk === 0) continue;
      for (let j = 0; j < O; j++) out[j]! += hk * W[k * O + j]!;
    }
    if (i + 1 < layers) for (let j = 0; j < O; j++) if (out[j]! < 0) out[j] = 0;
    h = out;
  }
  return h;
}

/** Rows scaled to unit length (the proto-actions live on the unit sphere, like DeepChain's: actor.ts). */
export function unitRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.mul(x, tf.rsqrt(tf.add(tf.sum(tf.square(x), 1, true), 1e-12))) as tf.Tensor2D;
}

export function unitJs(x: Float32Array): Float32Array {
  let n = 0;
  for (const v of x) n += v * v;
  const inv = 1 / Math.sqrt(n + 1e-12);
  return x.map((v) => v * inv);
}

/** Rows of a row-major [items, E] table for the given indices, as a [indices.length, E] array. */
export function gatherRows(table: Float32Array, E: number, indices: ArrayLike<number>): Float32Array {
  const out = new Float32Array(indices.length * E);
  for (let i = 0; i < indices.length; i++) out.set(table.subarray(indices[i]! * E, indices[i]! * E + E), i * E);
  return out;
}

export function dot(a: Float32Array, table: Float32Array, row: number): number {
  const E = a.length;
  let s = 0;
  for (let e = 0; e < E; e++) s += a[e]! * table[row * E + e]!;
  return s;
}
