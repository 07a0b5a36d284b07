/**
 * The serving path for one user (paper §3.2.2, Algorithm 2 lines 5 and 7): the actor's forward pass and
 * the scores a_t · e_k of the candidates. At B = 1 a TensorFlow.js pass would dispatch ~20 small ops per
 * GRU step (~10 µs each on WASM, ≈ 10 ms per request); the state encoder runs instead in the WebAssembly
 * SIMD kernel that training uses (encoder.ts, kernels/assembly/encoder.ts) on one row, with the actor's
 * weights kept in its memory. test/unit/model-inference checks it against the tensor path.
 */
import { encoderSizes, encoderWeightBlocks, writeEncoderWeights, type EncoderArrays, type EncoderSizes } from './encoder.js';
import { UNIT_EPSILON } from './actor.js';
import { F32, KernelInstance } from './kernels/index.js';

/** One actor's weights as host arrays, row-major, in the shapes the tensor networks hold them. */
export interface ActorArrays extends EncoderArrays {
  readonly E: number;
  readonly H: number;
  readonly A: number;
  /** output map [H, E], [E] */
  readonly outW: Float32Array;
  readonly outB: Float32Array;
}

type Call = (...args: number[]) => void;

/**
 * One actor's encoder weights in the memory of its own encoder-kernel instance, and the scratch space of
 * one call for histories of up to `capacity` items.
 */
class ActorKernel {
  private readonly kernel = new KernelInstance<{ gruForward: Call; attendForward: Call }>('encoder');
  private readonly sizes: EncoderSizes;
  private readonly weights: ReturnType<typeof encoderWeightBlocks>;
  private scratch: Record<'x' | 'out' | 'xp' | 'hg' | 'h0' | 'lengths' | 'heads' | 'ua' | 'alpha' | 'p', number> | null = null;
  private capacity = 0;
  /** Where the weights end: the scratch space starts there. */
  private readonly weightsEnd: number;

  constructor(private readonly actor: ActorArrays) {
    this.sizes = encoderSizes(actor.E, actor.H, actor.A, 1);
    const placed = this.kernel.place(encoderWeightBlocks(this.sizes));
    this.weights = placed.at;
    this.weightsEnd = placed.end;
    writeEncoderWeights(this.kernel.floats(), this.weights, actor, this.sizes);
  }

  /** Scratch for histories of up to L items, placed after the weights (re-placed when L outgrows it). */
  private scratchFor(L: number): NonNullable<ActorKernel['scratch']> {
    if (this.scratch && L <= this.capacity) return this.scratch;
    const { P, Q, Ap } = this.sizes;
    this.scratch = this.kernel.place(
      { x: L * Q, out: L * P, xp: 3 * P, hg: 3 * P, h0: P, lengths: 1, heads: 1, ua: L * Ap, alpha: L, p: P },
      this.weightsEnd,
    ).at;
    this.capacity = L;
    return this.scratch;
  }

  protoAction(embeddings: Float32Array, state: ArrayLike<number>): Float32Array {
    const { E, H } = this.actor;
    const { P, Q, Ap } = this.sizes;
    const L = state.length;
    const s = this.scratchFor(L);
    const m = this.kernel.floats();
    for (let t = 0; t < L; t++) {
      const item = state[t]!;
      m.set(embeddings.subarray(item * E, item * E + E), s.x / F32 + t * Q);
    }
    const ints = new Int32Array(m.buffer);
    ints[s.lengths / F32] = L;
    ints[s.heads / F32] = 0;
    const w = this.weights;
    const e = this.kernel.exports;
    e.gruForward(1, P, Q, L, s.x, w.w, w.bIn, w.u, w.bhn, s.out, 0, s.xp, s.hg, s.h0);
    e.attendForward(1, P, L, Ap, 1, s.out, s.lengths, s.heads, w.attW, w.attB, w.attV, s.ua, s.alpha, s.p);
    // a = p·outW + outB, then unit length (actor.ts).
    const p = m.subarray(s.p / F32, s.p / F32 + H);
    const a = Float32Array.from(this.actor.outB);
    const outW = this.actor.outW;
    for (let k = 0; k < H; k++) {
      const pk = p[k]!;
      for (let i = 0; i < E; i++) a[i]! += pk * outW[k * E + i]!;
    }
    let norm = 0;
    for (let i = 0; i < E; i++) norm += a[i]! * a[i]!;
    const inv = 1 / Math.sqrt(norm + UNIT_EPSILON);
    for (let i = 0; i < E; i++) a[i]! *= inv;
    return a;
  }
}

const kernels = new WeakMap<ActorArrays, ActorKernel>();

/**
 * The proto-action a_t for one state (item indices, oldest first, at most N). `embeddings` is row-major
 * [items, E] with row 0 the padding vector.
 */
export function protoAction(actor: ActorArrays, embeddings: Float32Array, state: ArrayLike<number>): Float32Array {
  let kernel = kernels.get(actor);
  if (!kernel) {
    kernel = new ActorKernel(actor);
    kernels.set(actor, kernel);
  }
  return kernel.protoAction(embeddings, state);
}

/** Score_k = a_t · e_k (paper §3.2.2) for each candidate item index. */
export function scoreCandidates(proto: Float32Array, embeddings: Float32Array, candidates: ArrayLike<number>): Float32Array {
  const E = proto.length;
  const out = new Float32Array(candidates.length);
  for (let i = 0; i < candidates.length; i++) {
    const off = candidates[i]! * E;
    let s = 0;
    for (let e = 0; e < E; e++) s += proto[e]! * embeddings[off + e]!;
    out[i] = s;
  }
  return out;
}

/** Candidate positions ordered by score, best first (ties keep candidate order). */
export function rankByScore(scores: Float32Array, k = scores.length): number[] {
  return Array.from(scores.keys())
    .sort((a, b) => scores[b]! - scores[a]! || a - b)
    .slice(0, k);
}
