/**
 * GRU over item-embedding histories (paper §3.2.1 and §3.3: actors, critic and probability net each own
 * one), in the reset-after form of Cho et al. 2014 as cuDNN and Keras compute it:
 *
 *   r = σ(x·W_r + b_r + h·U_r)            z = σ(x·W_z + b_z + h·U_z)
 *   n = tanh(x·W_n + b_n + r ⊙ (h·U_n + b_hn))
 *   h' = (1 − z) ⊙ n + z ⊙ h
 *
 * Forward and backward (BPTT) run in a WebAssembly SIMD kernel (kernels/assembly/gru.ts), as one
 * TensorFlow.js op with a custom gradient per GRU: written with TensorFlow.js ops, each of the N steps
 * costs ~35 small op dispatches, which on WASM cost more than their arithmetic at B = 64, and the input
 * projections' gradients were large transposed products and column sums (issue 8).
 * `test/unit/model-gru.unit.test.ts` checks values and gradients against autodiff of `referenceGru`.
 *
 * Sequences are right-padded: row j's items occupy steps 0..len_j−1. Outputs at padded steps are
 * computed but never read (attention masks them, see attention.ts), so padding never reaches a result,
 * and their gradient is exactly zero, so it never reaches a weight.
 */
import * as tf from '@tensorflow/tfjs';
import { F32, KernelInstance, roundUp } from './kernels/index.js';
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
  /** Input embeddings on the host, time-major: row t·R + j is step t of sequence j; [N·R, E]. Data, not trained. */
  readonly x: Float32Array;
  /** R: number of sequences. */
  readonly rows: number;
}

type Call = (...args: number[]) => void;
let kernel: KernelInstance<{ forward: Call; backward: Call }> | null = null;
const gruKernel = () => (kernel ??= new KernelInstance('gru'));

/**
 * Copies `rows` rows of `blocks` blocks of width W from a dense host array into kernel memory at float
 * offset `at`, each block widened to Wp with zeros (the kernel's layout).
 */
function writePadded(m: Float32Array, at: number, dense: Float32Array, rows: number, blocks: number, W: number, Wp: number): void {
  if (W === Wp) {
    m.set(dense, at);
    return;
  }
  m.fill(0, at, at + rows * blocks * Wp);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < blocks; g++) m.set(dense.subarray((r * blocks + g) * W, (r * blocks + g + 1) * W), at + (r * blocks + g) * Wp);
  }
}

/** The inverse of writePadded: a dense copy of `rows` rows of `blocks` blocks of width W. */
function readPadded(m: Float32Array, at: number, rows: number, blocks: number, W: number, Wp: number): Float32Array {
  if (W === Wp) return m.slice(at, at + rows * blocks * W);
  const out = new Float32Array(rows * blocks * W);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < blocks; g++) out.set(m.subarray(at + (r * blocks + g) * Wp, at + (r * blocks + g) * Wp + W), (r * blocks + g) * W);
  }
  return out;
}

/** Three gate matrices [K, H] side by side, padded to [Kp, 3P]. */
function gateMatrix(gates: readonly tf.Tensor[], K: number, Kp: number, H: number, P: number): Float32Array {
  const out = new Float32Array(Kp * 3 * P);
  gates.forEach((w, g) => {
    const host = w.dataSync() as Float32Array;
    for (let k = 0; k < K; k++) out.set(host.subarray(k * H, k * H + H), k * 3 * P + g * P);
  });
  return out;
}

/** The transpose of a [rows, cols] row-major matrix. */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j]!;
  return out;
}

/** Sizes of one segment's recurrence: P = H and Q = E padded for the kernel. */
interface Shape {
  readonly R: number;
  readonly N: number;
  readonly E: number;
  readonly H: number;
  readonly P: number;
  readonly Q: number;
}

function shapeOf(segment: GruSegment, steps: number): Shape {
  const E = segment.weights.wr.shape[0]!;
  const H = segment.weights.ur.shape[0]!;
  if (segment.x.length !== steps * segment.rows * E) {
    throw new Error(`GRU input holds ${segment.x.length} floats, expected N·R·E = ${steps}·${segment.rows}·${E}`);
  }
  return { R: segment.rows, N: steps, E, H, P: roundUp(H, 8), Q: roundUp(E, 4) };
}

/** The weights in the kernel's layout. */
interface KernelWeights {
  readonly w: Float32Array;
  readonly bIn: Float32Array;
  readonly u: Float32Array;
  readonly bhn: Float32Array;
}

function kernelWeights(weights: GruWeights, { E, H, P, Q }: Shape): KernelWeights {
  const w = weights;
  const bIn = new Float32Array(3 * P);
  [w.br, w.bz, w.bn].forEach((b, g) => bIn.set(b.dataSync() as Float32Array, g * P));
  const bhn = new Float32Array(P);
  bhn.set(w.bhn.dataSync() as Float32Array);
  return { w: gateMatrix([w.wr, w.wz, w.wn], E, Q, H, P), bIn, u: gateMatrix([w.ur, w.uz, w.un], H, P, H, P), bhn };
}

interface Forward {
  /** The inputs in the kernel's layout [N, R, Q]. */
  readonly x: Float32Array;
  /** h_1 .. h_N in the kernel's layout [N, R, P]. */
  readonly out: Float32Array;
  /** r, z, n, hn of every step [N, R, 4P], or null when not kept. */
  readonly kept: Float32Array | null;
}

function forward(x: Float32Array, kw: KernelWeights, { R, N, E, H, P, Q }: Shape, keep: boolean): Forward {
  const k = gruKernel();
  const { at } = k.place({
    x: N * R * Q, w: Q * 3 * P, bIn: 3 * P, u: P * 3 * P, bhn: P,
    out: N * R * P, save: keep ? N * R * 4 * P : 0, xp: N * R * 3 * P, hg: R * 3 * P, h0: R * P,
  });
  const m = k.floats();
  writePadded(m, at.x / F32, x, N * R, 1, E, Q);
  m.set(kw.w, at.w / F32);
  m.set(kw.bIn, at.bIn / F32);
  m.set(kw.u, at.u / F32);
  m.set(kw.bhn, at.bhn / F32);
  k.exports.forward(R, P, Q, N, at.x, at.w, at.bIn, at.u, at.bhn, at.out, keep ? at.save : 0, at.xp, at.hg, at.h0);
  // Input projections, then one recurrent product per step.
  flopMeter.add(2 * N * R * E * 3 * H + 2 * N * R * H * 3 * H);
  return {
    x: m.slice(at.x / F32, at.x / F32 + N * R * Q),
    out: m.slice(at.out / F32, at.out / F32 + N * R * P),
    kept: keep ? m.slice(at.save / F32, at.save / F32 + N * R * 4 * P) : null,
  };
}

function outputs(f: Forward, { R, N, H, P }: Shape): tf.Tensor3D {
  return tf.tensor3d(H === P ? f.out : readPadded(f.out, 0, N * R, 1, H, P), [N, R, H]);
}

/**
 * The GRU's outputs h_1 .. h_N of one segment, time-major [N, R, H], differentiable with respect to all
 * its weights (Algorithm 1 lines 10, 12, 13 train through it).
 */
export function gru(segment: GruSegment, steps: number): tf.Tensor3D {
  const w = segment.weights;
  const shape = shapeOf(segment, steps);
  return recurrence(segment.x, shape)(w.wr, w.wz, w.wn, w.ur, w.uz, w.un, w.br, w.bz, w.bn, w.bhn) as tf.Tensor3D;
}

/** The same outputs without a gradient: the target networks' pass (Algorithm 1 line 11). */
export function gruOutputs(segment: GruSegment, steps: number): tf.Tensor3D {
  const shape = shapeOf(segment, steps);
  return outputs(forward(segment.x, kernelWeights(segment.weights, shape), shape, false), shape);
}

function recurrence(x: Float32Array, shape: Shape) {
  const { R, N, E, H, P, Q } = shape;
  return tf.customGrad(((...args: unknown[]) => {
    const [wr, wz, wn, ur, uz, un, br, bz, bn, bhn] = args as tf.Tensor[];
    const kw = kernelWeights({ wr, wz, wn, ur, uz, un, br, bz, bn, bhn } as unknown as GruWeights, shape);
    const fwd = forward(x, kw, shape, true);

    const gradFunc = (dy: tf.Tensor): tf.Tensor[] => {
      const k = gruKernel();
      const { at } = k.place({
        x: N * R * Q, dy: N * R * P, uT: 3 * P * P, out: N * R * P, save: N * R * 4 * P,
        dw: Q * 3 * P, dbIn: 3 * P, du: P * 3 * P, dbhn: P, dxp: N * R * 3 * P, gates: N * R * 3 * P, carry: R * P,
      });
      const m = k.floats();
      m.set(fwd.x, at.x / F32);
      writePadded(m, at.dy / F32, dy.dataSync() as Float32Array, N * R, 1, H, P);
      m.set(transpose(kw.u, P, 3 * P), at.uT / F32);
      m.set(fwd.out, at.out / F32);
      m.set(fwd.kept!, at.save / F32);
      k.exports.backward(R, P, Q, N, at.x, at.dy, at.uT, at.out, at.save, at.dw, at.dbIn, at.du, at.dbhn, at.dxp, at.gates, at.carry);
      // dh_{t−1} for t ≥ 1 and dU over N − 1 steps (h_0 is fixed at zero), then dW.
      flopMeter.add(2 * 2 * (N - 1) * R * 3 * H * H + 2 * N * R * E * 3 * H);
      /** Gate g's block [K, H] of a [Kp, 3P] gradient. */
      const gate = (from: number, K: number, g: number) => {
        const out = new Float32Array(K * H);
        for (let i = 0; i < K; i++) out.set(m.subarray(from / F32 + i * 3 * P + g * P, from / F32 + i * 3 * P + g * P + H), i * H);
        return tf.tensor2d(out, [K, H]);
      };
      const bias = (from: number, g: number) => tf.tensor1d(m.slice(from / F32 + g * P, from / F32 + g * P + H));
      return [
        gate(at.dw, E, 0), gate(at.dw, E, 1), gate(at.dw, E, 2),
        gate(at.du, H, 0), gate(at.du, H, 1), gate(at.du, H, 2),
        bias(at.dbIn, 0), bias(at.dbIn, 1), bias(at.dbIn, 2), bias(at.dbhn, 0),
      ];
    };
    return { value: outputs(fwd, shape), gradFunc };
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
