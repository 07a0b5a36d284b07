/**
 * The state encoder every DeepChain network starts with (paper Figures 3 and 4): item embeddings of the
 * last N clicked items → GRU (gru.ts) → item-level attention (attention.ts) → p [R, H]. Networks share
 * the architecture, never the weights.
 *
 * `encode` runs forward and backward (BPTT) in a WebAssembly SIMD kernel (kernels/assembly/encoder.ts),
 * as one TensorFlow.js op with a custom gradient per network: written with TensorFlow.js ops, each of the
 * N GRU steps costs ~35 small op dispatches, which on WASM cost more than their arithmetic at B = 64,
 * and the GRU outputs [N, R, H] travelled between ops several times (issue 8).
 * `test/unit/model-encoder.unit.test.ts` checks values and every weight's gradient against autodiff of
 * the same network in TensorFlow.js ops (`referenceGru`, `referenceAttention`).
 *
 * Histories are right-padded: row j's items occupy steps 0..len_j−1. The GRU runs over all N steps, but
 * attention reads only a row's first len_j outputs, so padding never reaches a result and its gradient
 * is exactly zero.
 */
import * as tf from '@tensorflow/tfjs';
import { createAttention, type AttentionWeights } from './attention.js';
import { flopMeter } from './flops.js';
import type { GruWeights } from './gru.js';
import { F32, KernelInstance, roundUp } from './kernels/index.js';
import type { ParamStore } from './params.js';

export interface EncoderWeights {
  readonly gru: GruWeights;
  readonly attention: AttentionWeights;
}

export function createGru(store: ParamStore, prefix: string, E: number, H: number): GruWeights {
  return {
    wr: store.glorot(`${prefix}.wr`, [E, H]),
    wz: store.glorot(`${prefix}.wz`, [E, H]),
    wn: store.glorot(`${prefix}.wn`, [E, H]),
    ur: store.glorot(`${prefix}.ur`, [H, H]),
    uz: store.glorot(`${prefix}.uz`, [H, H]),
    un: store.glorot(`${prefix}.un`, [H, H]),
    br: store.zeros(`${prefix}.br`, [H]),
    bz: store.zeros(`${prefix}.bz`, [H]),
    bn: store.zeros(`${prefix}.bn`, [H]),
    bhn: store.zeros(`${prefix}.bhn`, [H]),
  };
}

export function createEncoder(
  store: ParamStore,
  prefix: string,
  sizes: { E: number; H: number; A: number },
  heads: number,
): EncoderWeights {
  return {
    gru: createGru(store, `${prefix}.gru`, sizes.E, sizes.H),
    attention: createAttention(store, `${prefix}.attention`, sizes.H, sizes.A, heads),
  };
}

/** R histories for one encoder. */
export interface EncoderInput {
  /** Item embeddings on the host, time-major: row t·R + j is step t of history j; [N·R, E]. Data, not trained. */
  readonly x: Float32Array;
  readonly rows: number;
  /** Items in each history (at most N): attention reads only these steps. */
  readonly lengths: ArrayLike<number>;
  /** Each row's attention head (its scenario, paper §3.3) for a multi-head attention; null for one head. */
  readonly heads: ArrayLike<number> | null;
}

/** p [R, H], differentiable with respect to every weight of the encoder (Algorithm 1 lines 10, 12, 13). */
export function encode(weights: EncoderWeights, input: EncoderInput, steps: number): tf.Tensor2D {
  const shape = shapeOf(weights, input, steps);
  const g = weights.gru;
  const a = weights.attention;
  return encoderOp(input, shape)(g.wr, g.wz, g.wn, g.ur, g.uz, g.un, g.br, g.bz, g.bn, g.bhn, a.w, a.b, a.v) as tf.Tensor2D;
}

/** The same p without a gradient: the target networks' pass (Algorithm 1 line 11). */
export function encodeWithoutGradient(weights: EncoderWeights, input: EncoderInput, steps: number): tf.Tensor2D {
  const shape = shapeOf(weights, input, steps);
  const g = weights.gru;
  const a = weights.attention;
  const pass = new Pass(input, shape, [g.wr, g.wz, g.wn, g.ur, g.uz, g.un, g.br, g.bz, g.bn, g.bhn, a.w, a.b, a.v], false);
  const p = pass.forward();
  pass.release();
  return p;
}

type Call = (...args: number[]) => void;
type EncoderKernel = KernelInstance<{ gruForward: Call; gruBackward: Call; attendForward: Call; attendBackward: Call }>;

/**
 * Idle kernel instances. A differentiable pass holds one from its forward to its backward, so what the
 * backward reads stays where the forward left it; an instance whose backward never runs is collected
 * with its pass.
 */
const idle: EncoderKernel[] = [];
const MAX_IDLE = 8;

/**
 * An encoder's sizes as the kernel holds them: H and A padded to P and Ap (multiples of 8), E to Q (a
 * multiple of 4), with zeros, which keep every padded lane of every result and gradient exactly zero.
 */
export interface EncoderSizes {
  readonly E: number;
  readonly H: number;
  readonly A: number;
  /** Attention heads. */
  readonly K: number;
  readonly P: number;
  readonly Q: number;
  readonly Ap: number;
}

export function encoderSizes(E: number, H: number, A: number, K: number): EncoderSizes {
  return { E, H, A, K, P: roundUp(H, 8), Q: roundUp(E, 4), Ap: roundUp(A, 8) };
}

/** Sizes of one pass: R histories of N steps. */
interface Shape extends EncoderSizes {
  readonly R: number;
  readonly N: number;
}

function shapeOf(weights: EncoderWeights, input: EncoderInput, steps: number): Shape {
  const E = weights.gru.wr.shape[0]!;
  const H = weights.gru.ur.shape[0]!;
  const [K, A] = weights.attention.v.shape as [number, number];
  const R = input.rows;
  if (input.x.length !== steps * R * E) throw new Error(`encoder input holds ${input.x.length} floats, expected N·R·E = ${steps}·${R}·${E}`);
  if (input.lengths.length !== R) throw new Error(`encoder input has ${input.lengths.length} lengths for ${R} rows`);
  if (input.heads === null ? K !== 1 : input.heads.length !== R) {
    throw new Error(`an attention with ${K} heads needs one head index per row (got ${input.heads === null ? 'none' : input.heads.length} for ${R} rows)`);
  }
  for (let j = 0; j < R; j++) {
    const head = input.heads === null ? 0 : input.heads[j]!;
    if (!(Number.isInteger(head) && head >= 0 && head < K)) throw new Error(`row ${j} asks for attention head ${head}; this attention has ${K}`);
  }
  return { R, N: steps, ...encoderSizes(E, H, A, K) };
}

/** An encoder's weights as host arrays, row-major, in the shapes the tensor networks hold them. */
export interface EncoderArrays {
  readonly wr: Float32Array;
  readonly wz: Float32Array;
  readonly wn: Float32Array;
  readonly ur: Float32Array;
  readonly uz: Float32Array;
  readonly un: Float32Array;
  readonly br: Float32Array;
  readonly bz: Float32Array;
  readonly bn: Float32Array;
  readonly bhn: Float32Array;
  /** attention [H, K·A], [K·A], [K, A] */
  readonly attW: Float32Array;
  readonly attB: Float32Array;
  readonly attV: Float32Array;
}

/** Floats of each weight block in the kernel's layout. */
export function encoderWeightBlocks({ K, P, Q, Ap }: EncoderSizes) {
  return { w: Q * 3 * P, bIn: 3 * P, u: P * 3 * P, bhn: P, attW: P * K * Ap, attB: K * Ap, attV: K * Ap };
}

type WeightBlock = keyof ReturnType<typeof encoderWeightBlocks>;

/**
 * Writes the weights into kernel memory at the blocks' byte offsets: [W_r W_z W_n] [Q, 3P] and
 * [U_r U_z U_n] [P, 3P] with gate g in columns g·P .. g·P + H; attention W [P, K·Ap], b and v in K blocks
 * of Ap; zeros everywhere else.
 */
export function writeEncoderWeights(m: Float32Array, at: Record<WeightBlock, number>, host: EncoderArrays, s: EncoderSizes): void {
  const { E, H, A, K, P, Q, Ap } = s;
  const f = (block: WeightBlock) => at[block] / F32;
  m.fill(0, f('w'), f('w') + Q * 3 * P);
  m.fill(0, f('u'), f('u') + P * 3 * P);
  m.fill(0, f('bIn'), f('bIn') + 3 * P);
  [host.wr, host.wz, host.wn].forEach((w, g) => { for (let k = 0; k < E; k++) m.set(w.subarray(k * H, k * H + H), f('w') + k * 3 * P + g * P); });
  [host.ur, host.uz, host.un].forEach((u, g) => { for (let k = 0; k < H; k++) m.set(u.subarray(k * H, k * H + H), f('u') + k * 3 * P + g * P); });
  [host.br, host.bz, host.bn].forEach((b, g) => m.set(b, f('bIn') + g * P));
  writePadded(m, f('bhn'), host.bhn, 1, 1, H, P);
  m.fill(0, f('attW'), f('attW') + P * K * Ap);
  writePadded(m, f('attW'), host.attW, H, K, A, Ap);
  writePadded(m, f('attB'), host.attB, 1, K, A, Ap);
  writePadded(m, f('attV'), host.attV, 1, K, A, Ap);
}

/**
 * Copies `rows` rows of `blocks` blocks of width W from a dense host array into kernel memory at float
 * offset `at`, each block widened to Wp with zeros.
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

/** The transpose of a [rows, cols] row-major matrix at float offset `from` into offset `to`. */
function transposeInto(m: Float32Array, from: number, rows: number, cols: number, to: number): void {
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) m[to + j * rows + i] = m[from + i * cols + j]!;
}

const WEIGHT_NAMES = ['wr', 'wz', 'wn', 'ur', 'uz', 'un', 'br', 'bz', 'bn', 'bhn', 'attW', 'attB', 'attV'] as const;

/** One encoder pass over one block of histories, in one kernel instance's memory. */
class Pass {
  private kernel: EncoderKernel | null;
  private readonly at: Record<string, number>;

  constructor(
    private readonly input: EncoderInput,
    private readonly shape: Shape,
    private readonly weights: readonly tf.Tensor[],
    trainable: boolean,
  ) {
    const { R, N, P, Q, K, Ap } = shape;
    const G = 3 * P;
    const KA = K * Ap;
    this.kernel = idle.pop() ?? new KernelInstance('encoder');
    const forward = {
      ...encoderWeightBlocks(shape), x: N * R * Q, out: N * R * P, xp: R * G, hg: R * G, h0: R * P,
      lengths: R, heads: R, ua: N * R * Ap, alpha: N * R, p: R * P,
    };
    // What only a backward needs; `save` holds r, z, n, hn of every GRU step.
    const backward = {
      save: N * R * 4 * P, dp: R * P, dout: N * R * P, uT: G * P, attWT: KA * P,
      dw: Q * G, dbIn: G, du: P * G, dbhn: P, dxp: R * G, gates: R * G, carry: R * P,
      dAttW: P * KA, dAttB: KA, dAttV: KA, da: N * R * Ap, dAlpha: N,
    };
    this.at = this.kernel.place(trainable ? { ...forward, ...backward } : forward).at;
  }

  private memory(): { m: Float32Array; kernel: EncoderKernel } {
    if (this.kernel === null) throw new Error('encoder pass used after its kernel was released (a gradient taken twice?)');
    return { m: this.kernel.floats(), kernel: this.kernel };
  }

  /** Writes inputs and weights in the kernel's layout, runs GRU and attention forward; returns p [R, H]. */
  forward(): tf.Tensor2D {
    const { m, kernel } = this.memory();
    const { R, N, E, H, A, K, P, Q, Ap } = this.shape;
    const at = this.at;
    const f = (name: string) => at[name]! / F32;
    const host = Object.fromEntries(this.weights.map((w, i) => [WEIGHT_NAMES[i], w.dataSync() as Float32Array])) as unknown as EncoderArrays;
    writePadded(m, f('x'), this.input.x, N * R, 1, E, Q);
    writeEncoderWeights(m, at as Record<WeightBlock, number>, host, this.shape);
    const ints = new Int32Array(m.buffer);
    for (let j = 0; j < R; j++) {
      ints[f('lengths') + j] = Math.min(this.input.lengths[j]!, N);
      ints[f('heads') + j] = this.input.heads === null ? 0 : this.input.heads[j]!;
    }
    const e = kernel.exports;
    e.gruForward(R, P, Q, N, at.x!, at.w!, at.bIn!, at.u!, at.bhn!, at.out!, at.save ?? 0, at.xp!, at.hg!, at.h0!);
    e.attendForward(R, P, N, Ap, K, at.out!, at.lengths!, at.heads!, at.attW!, at.attB!, at.attV!, at.ua!, at.alpha!, at.p!);
    // Input projections and one recurrent product per step; the attention scores' product.
    flopMeter.add(2 * N * R * (E + H) * 3 * H + 2 * N * R * H * A);
    return tf.tensor2d(readPadded(m, f('p'), R, 1, H, P), [R, H]);
  }

  /** Attention then GRU backward from dp [R, H]; returns the gradients in WEIGHT_NAMES order. */
  backward(dp: tf.Tensor): tf.Tensor[] {
    const { m, kernel } = this.memory();
    const { R, N, E, H, A, K, P, Q, Ap } = this.shape;
    const at = this.at;
    const f = (name: string) => at[name]! / F32;
    writePadded(m, f('dp'), dp.dataSync() as Float32Array, R, 1, H, P);
    transposeInto(m, f('u'), P, 3 * P, f('uT'));
    transposeInto(m, f('attW'), P, K * Ap, f('attWT'));
    const e = kernel.exports;
    e.attendBackward(R, P, N, Ap, K, at.out!, at.lengths!, at.heads!, at.attWT!, at.attV!, at.ua!, at.alpha!, at.dp!,
      at.dout!, at.dAttW!, at.dAttB!, at.dAttV!, at.da!, at.dAlpha!);
    e.gruBackward(R, P, Q, N, at.x!, at.dout!, at.uT!, at.out!, at.save!, at.dw!, at.dbIn!, at.du!, at.dbhn!, at.dxp!, at.gates!, at.carry!);
    // Attention: dout and dW; GRU: dh_{t−1} for t ≥ 1 and dU over N − 1 steps (h_0 is fixed), then dW.
    flopMeter.add(2 * 2 * N * R * H * A + 2 * 2 * (N - 1) * R * 3 * H * H + 2 * N * R * E * 3 * H);
    /** Gate g's block [rows, H] of a [*, 3P] gradient. */
    const gate = (from: string, rows: number, g: number) => {
      const out = new Float32Array(rows * H);
      for (let i = 0; i < rows; i++) out.set(m.subarray(f(from) + i * 3 * P + g * P, f(from) + i * 3 * P + g * P + H), i * H);
      return tf.tensor2d(out, [rows, H]);
    };
    const bias = (from: string, g: number) => tf.tensor1d(m.slice(f(from) + g * P, f(from) + g * P + H));
    const grads = [
      gate('dw', E, 0), gate('dw', E, 1), gate('dw', E, 2),
      gate('du', H, 0), gate('du', H, 1), gate('du', H, 2),
      bias('dbIn', 0), bias('dbIn', 1), bias('dbIn', 2), bias('dbhn', 0),
      tf.tensor2d(readPadded(m, f('dAttW'), H, K, A, Ap), [H, K * A]),
      tf.tensor1d(readPadded(m, f('dAttB'), 1, K, A, Ap)),
      tf.tensor2d(readPadded(m, f('dAttV'), K, 1, A, Ap), [K, A]),
    ];
    this.release();
    return grads;
  }

  release(): void {
    if (this.kernel !== null && idle.length < MAX_IDLE) idle.push(this.kernel);
    this.kernel = null;
  }
}

function encoderOp(input: EncoderInput, shape: Shape) {
  return tf.customGrad(((...args: unknown[]) => {
    const pass = new Pass(input, shape, args.slice(0, WEIGHT_NAMES.length) as tf.Tensor[], true);
    return { value: pass.forward(), gradFunc: (dp: tf.Tensor) => pass.backward(dp) };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
}
