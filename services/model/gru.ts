/**
 * GRU over item-embedding histories (paper §3.2.1 and §3.3: actors, critic and probability net each own
 * one), in the reset-after form of Cho et al. 2014 as cuDNN and Keras compute it:
 *
 *   r = σ(x·W_r + b_r + h·U_r)            z = σ(x·W_z + b_z + h·U_z)
 *   n = tanh(x·W_n + b_n + r ⊙ (h·U_n + b_hn))
 *   h' = (1 − z) ⊙ n + z ⊙ h
 *
 * The input projections of all N steps are one TensorFlow.js matrix product (autodiff gives W and b their
 * gradients); the recurrence, forward and backward (BPTT), runs in a WebAssembly SIMD kernel
 * (kernels/assembly/gru.ts), because as TensorFlow.js ops each of the N steps costs ~35 small op
 * dispatches, which on WASM cost more than their arithmetic at B = 64 (issue 8).
 * `test/unit/model-gru.unit.test.ts` checks values and gradients against autodiff of `referenceGru`.
 *
 * Sequences are right-padded: row j's items occupy steps 0..len_j−1. Outputs at padded steps are
 * computed but never read (attention masks them, see attention.ts), so padding never reaches a result,
 * and their gradient is exactly zero, so it never reaches a weight.
 */
import * as tf from '@tensorflow/tfjs';
import { F32, KernelInstance, roundUp } from './kernels/index.js';
import { mm } from './ops.js';
import { flopMeter } from './flops.js';

export interface GruWeights {
  /** Input kernels [E, H] of the reset, update and candidate gates. */
  readonly wr: tf.Variable;
  readonly wz: tf.Variable;
  readonly wn: tf.Variable;
  /** Recurrent kernels [H, H]. */
  readonly ur: tf.Variable;
  readonly uz: tf.Variable;
  readonly un: tf.Variable;
  /** Input-side biases [H]. */
  readonly br: tf.Variable;
  readonly bz: tf.Variable;
  readonly bn: tf.Variable;
  /** Recurrent-side bias of the candidate [H] (reset-after form). */
  readonly bhn: tf.Variable;
}

/** R sequences for one GRU. */
export interface GruSegment {
  readonly weights: GruWeights;
  /** Input embeddings, time-major: row t·R + j is step t of sequence j; [N·R, E]. Data, not trained. */
  readonly x: tf.Tensor2D;
  /** R: number of sequences. */
  readonly rows: number;
}

type Call = (...args: number[]) => void;
let kernel: KernelInstance<{ forward: Call; backward: Call }> | null = null;
const gruKernel = () => (kernel ??= new KernelInstance('gru'));

/**
 * Copies `rows` rows of `gates` blocks of width H from a dense host array into kernel memory at float
 * offset `at`, each block widened to P with zeros (the kernel's layout).
 */
function writePadded(m: Float32Array, at: number, dense: Float32Array, rows: number, gates: number, H: number, P: number): void {
  if (H === P) {
    m.set(dense, at);
    return;
  }
  m.fill(0, at, at + rows * gates * P);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < gates; g++) m.set(dense.subarray((r * gates + g) * H, (r * gates + g + 1) * H), at + (r * gates + g) * P);
  }
}

/** The inverse of writePadded: a dense copy of `rows` rows of `gates` blocks of width H. */
function readPadded(m: Float32Array, at: number, rows: number, gates: number, H: number, P: number): Float32Array {
  if (H === P) return m.slice(at, at + rows * gates * H);
  const out = new Float32Array(rows * gates * H);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < gates; g++) out.set(m.subarray(at + (r * gates + g) * P, at + (r * gates + g) * P + H), (r * gates + g) * H);
  }
  return out;
}

/** Host copies of the recurrent weights in the kernel's layout: u = [U_r U_z U_n] [P, 3P] and uᵀ. */
function recurrentWeights(ur: tf.Tensor, uz: tf.Tensor, un: tf.Tensor, H: number, P: number): { u: Float32Array; uT: Float32Array } {
  const u = new Float32Array(P * 3 * P);
  const uT = new Float32Array(3 * P * P);
  [ur, uz, un].forEach((w, g) => {
    const host = w.dataSync() as Float32Array;
    for (let k = 0; k < H; k++) {
      for (let i = 0; i < H; i++) {
        u[k * 3 * P + g * P + i] = host[k * H + i]!;
        uT[(g * P + i) * P + k] = host[k * H + i]!;
      }
    }
  });
  return { u, uT };
}

interface Forward {
  /** h_1 .. h_N in the kernel's layout [N, R, P]. */
  readonly out: Float32Array;
  /** r, z, n, hn of every step [N, R, 4P], or null when not kept. */
  readonly kept: Float32Array | null;
}

function forward(xp: Float32Array, u: Float32Array, bhn: Float32Array, R: number, N: number, H: number, P: number, keep: boolean): Forward {
  const k = gruKernel();
  const { at } = k.place({ xp: N * R * 3 * P, u: P * 3 * P, bhn: P, out: N * R * P, save: keep ? N * R * 4 * P : 0, hg: R * 3 * P, h0: R * P });
  const m = k.floats();
  writePadded(m, at.xp / F32, xp, N * R, 3, H, P);
  m.set(u, at.u / F32);
  writePadded(m, at.bhn / F32, bhn, 1, 1, H, P);
  k.exports.forward(R, P, N, at.xp, at.u, at.bhn, at.out, keep ? at.save : 0, at.hg, at.h0);
  flopMeter.add(2 * N * R * H * 3 * H);
  return {
    out: m.slice(at.out / F32, at.out / F32 + N * R * P),
    kept: keep ? m.slice(at.save / F32, at.save / F32 + N * R * 4 * P) : null,
  };
}

/** The input projections x·[W_r W_z W_n] + [b_r b_z b_n] of all N steps: [N·R, 3H]. */
function inputProjections(segment: GruSegment): tf.Tensor2D {
  const w = segment.weights;
  return tf.tidy(() => tf.add(mm(segment.x, tf.concat([w.wr, w.wz, w.wn], 1) as tf.Tensor2D, { constA: true }), tf.concat([w.br, w.bz, w.bn], 0)));
}

/**
 * The GRU's outputs h_1 .. h_N of one segment, time-major [N, R, H], differentiable with respect to all
 * its weights (Algorithm 1 lines 10, 12, 13 train through it).
 */
export function gru(segment: GruSegment, steps: number): tf.Tensor3D {
  const w = segment.weights;
  return recurrence(segment.rows, steps)(inputProjections(segment), w.ur, w.uz, w.un, w.bhn) as tf.Tensor3D;
}

/** The same outputs without a gradient: the target networks' pass (Algorithm 1 line 11). */
export function gruOutputs(segment: GruSegment, steps: number): tf.Tensor3D {
  const w = segment.weights;
  const H = w.ur.shape[0]!;
  const P = roundUp(H, 8);
  const R = segment.rows;
  const xp = inputProjections(segment);
  const host = xp.dataSync() as Float32Array;
  xp.dispose();
  const { u } = recurrentWeights(w.ur, w.uz, w.un, H, P);
  const { out } = forward(host, u, w.bhn.dataSync() as Float32Array, R, steps, H, P, false);
  return tf.tensor3d(H === P ? out : readPadded(out, 0, steps * R, 1, H, P), [steps, R, H]);
}

function recurrence(R: number, N: number) {
  return tf.customGrad(((xp: tf.Tensor2D, ur: tf.Tensor2D, uz: tf.Tensor2D, un: tf.Tensor2D, bhn: tf.Tensor1D) => {
    const H = ur.shape[0];
    const P = roundUp(H, 8);
    const { u, uT } = recurrentWeights(ur, uz, un, H, P);
    const fwd = forward(xp.dataSync() as Float32Array, u, bhn.dataSync() as Float32Array, R, N, H, P, true);
    const value = tf.tensor3d(H === P ? fwd.out : readPadded(fwd.out, 0, N * R, 1, H, P), [N, R, H]);

    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const k = gruKernel();
      const { at } = k.place({
        dy: N * R * P, uT: 3 * P * P, out: N * R * P, save: N * R * 4 * P,
        dxp: N * R * 3 * P, du: P * 3 * P, dbhn: P, gates: N * R * 3 * P, carry: R * P,
      });
      const m = k.floats();
      writePadded(m, at.dy / F32, dy.dataSync() as Float32Array, N * R, 1, H, P);
      m.set(uT, at.uT / F32);
      m.set(fwd.out, at.out / F32);
      m.set(fwd.kept!, at.save / F32);
      k.exports.backward(R, P, N, at.dy, at.uT, at.out, at.save, at.dxp, at.du, at.dbhn, at.gates, at.carry);
      // dh_{t−1} for t ≥ 1 and dU over N − 1 steps (h_0 is fixed at zero).
      flopMeter.add(2 * 2 * (N - 1) * R * 3 * H * H);
      const du = readPadded(m, at.du / F32, P, 3, P, P);
      const gate = (g: number) => {
        const out = new Float32Array(H * H);
        for (let i = 0; i < H; i++) out.set(du.subarray(i * 3 * P + g * P, i * 3 * P + g * P + H), i * H);
        return tf.tensor2d(out, [H, H]);
      };
      return [
        tf.tensor2d(readPadded(m, at.dxp / F32, N * R, 3, H, P), [N * R, 3 * H]),
        gate(0),
        gate(1),
        gate(2),
        tf.tensor1d(readPadded(m, at.dbhn / F32, 1, 1, H, P)),
      ];
    };
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
}

/** The same GRU written with ordinary ops and autodiff, one sequence block at a time: the test oracle. */
export function referenceGru(w: GruWeights, x: tf.Tensor2D, rows: number, steps: number): tf.Tensor3D {
  const E = x.shape[1];
  const x3 = tf.reshape(x, [steps, rows, E]);
  let h = tf.zeros([rows, w.ur.shape[0]!]) as tf.Tensor2D;
  const outs: tf.Tensor2D[] = [];
  for (let t = 0; t < steps; t++) {
    const xt = tf.reshape(tf.slice(x3, [t, 0, 0], [1, rows, E]), [rows, E]) as tf.Tensor2D;
    const r = tf.sigmoid(tf.add(tf.add(tf.matMul(xt, w.wr as tf.Tensor2D), w.br), tf.matMul(h, w.ur as tf.Tensor2D)));
    const z = tf.sigmoid(tf.add(tf.add(tf.matMul(xt, w.wz as tf.Tensor2D), w.bz), tf.matMul(h, w.uz as tf.Tensor2D)));
    const n = tf.tanh(tf.add(tf.add(tf.matMul(xt, w.wn as tf.Tensor2D), w.bn), tf.mul(r, tf.add(tf.matMul(h, w.un as tf.Tensor2D), w.bhn))));
    h = tf.add(tf.mul(tf.sub(1, z), n), tf.mul(z, h));
    outs.push(h);
  }
  return tf.stack(outs) as tf.Tensor3D;
}
