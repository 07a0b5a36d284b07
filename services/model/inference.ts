/**
 * The serving path for one user (paper §3.2.2, Algorithm 2 lines 5 and 7): the actor's forward pass and
 * the scores a_t · e_k of the candidates. At B = 1 a TensorFlow.js pass would dispatch ~20 small ops per
 * GRU step (~10 µs each on WASM, ≈ 10 ms per request); the forward pass runs instead in a WebAssembly
 * SIMD kernel (kernels/assembly/actor.ts: ≈ 0.9 M multiply-adds in about 0.3 ms here, against 1.2 ms for
 * the best plain-JS loops we had). test/unit/model-inference checks it against the tensor path.
 */
import { F32, KernelInstance, roundUp } from './kernels/index.js';

/** One actor's weights as host arrays, row-major, in the shapes the tensor networks hold them. */
export interface ActorArrays {
  readonly E: number;
  readonly H: number;
  readonly A: number;
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
  /** attention [H, A], [A], [1, A] */
  readonly attW: Float32Array;
  readonly attB: Float32Array;
  readonly attV: Float32Array;
  /** output map [H, E], [E] */
  readonly outW: Float32Array;
  readonly outB: Float32Array;
}

/**
 * One actor's weights in the linear memory of its own kernel instance, laid out as the kernel expects
 * (kernels/assembly/actor.ts: gate matrices side by side, column counts padded with zeros to multiples
 * of 16), and the scratch space of one call for histories of up to `capacity` items.
 */
class ActorKernel {
  private readonly kernel = new KernelInstance<{ protoAction: (...args: number[]) => void }>('actor');
  private readonly weights: Record<'w' | 'bIn' | 'u' | 'bhn' | 'attW' | 'attB' | 'attV' | 'outW' | 'outB', number>;
  private scratch: Record<'x' | 'xp' | 'outs' | 'hg' | 'h' | 'ua' | 'scores' | 'c' | 'a', number> | null = null;
  private capacity = 0;
  /** Where the weights end: the scratch space starts there. */
  private readonly weightsEnd: number;
  private readonly Gp: number;
  private readonly Ap: number;

  constructor(private readonly actor: ActorArrays) {
    const { E, H, A } = actor;
    this.Gp = roundUp(3 * H, 16);
    this.Ap = roundUp(A, 16);
    const placed = this.kernel.place({
      w: E * this.Gp, bIn: this.Gp, u: H * this.Gp, bhn: H,
      attW: H * this.Ap, attB: this.Ap, attV: this.Ap, outW: H * E, outB: E,
    });
    this.weights = placed.at;
    this.weightsEnd = placed.end;
    const m = this.kernel.floats();
    const w = this.weights;
    // [W_r W_z W_n] and [U_r U_z U_n]: gate g of row k at columns g·H .. g·H + H.
    [actor.wr, actor.wz, actor.wn].forEach((g, gate) => {
      for (let k = 0; k < E; k++) m.set(g.subarray(k * H, k * H + H), w.w / F32 + k * this.Gp + gate * H);
    });
    [actor.ur, actor.uz, actor.un].forEach((g, gate) => {
      for (let k = 0; k < H; k++) m.set(g.subarray(k * H, k * H + H), w.u / F32 + k * this.Gp + gate * H);
    });
    [actor.br, actor.bz, actor.bn].forEach((b, gate) => m.set(b, w.bIn / F32 + gate * H));
    m.set(actor.bhn, w.bhn / F32);
    for (let k = 0; k < H; k++) m.set(actor.attW.subarray(k * A, k * A + A), w.attW / F32 + k * this.Ap);
    m.set(actor.attB, w.attB / F32);
    m.set(actor.attV, w.attV / F32);
    m.set(actor.outW, w.outW / F32);
    m.set(actor.outB, w.outB / F32);
  }

  /** Scratch for histories of up to L items, placed after the weights (re-placed when L outgrows it). */
  private scratchFor(L: number): NonNullable<ActorKernel['scratch']> {
    if (this.scratch && L <= this.capacity) return this.scratch;
    const { E, H } = this.actor;
    this.scratch = this.kernel.place(
      { x: L * E, xp: L * this.Gp, outs: L * H, hg: this.Gp, h: H, ua: this.Ap, scores: L, c: H, a: E },
      this.weightsEnd,
    ).at;
    this.capacity = L;
    return this.scratch;
  }

  protoAction(embeddings: Float32Array, state: ArrayLike<number>): Float32Array {
    const { E, H } = this.actor;
    const L = state.length;
    const s = this.scratchFor(L);
    const m = this.kernel.floats();
    for (let t = 0; t < L; t++) {
      const item = state[t]!;
      m.set(embeddings.subarray(item * E, item * E + E), s.x / F32 + t * E);
    }
    const w = this.weights;
    this.kernel.exports.protoAction(L, E, H, this.Gp, this.Ap, s.x, w.w, w.bIn, w.u, w.bhn, w.attW, w.attB, w.attV, w.outW, w.outB,
      s.xp, s.outs, s.hg, s.h, s.ua, s.scores, s.c, s.a);
    return m.slice(s.a / F32, s.a / F32 + E);
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
