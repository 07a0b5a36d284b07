/**
 * The serving path for one user (paper §3.2.2, Algorithm 2 lines 5 and 7): the actor's forward pass and
 * the scores a_t · e_k of the candidates, in plain typed-array loops. At B = 1 a TensorFlow.js pass would
 * dispatch ~20 small ops per GRU step (~10 µs each on WASM, ≈ 10 ms per request); these loops do the
 * same ≈ 1 M multiply-adds in about two milliseconds. test/unit/model-inference checks them against the
 * tensor path.
 */
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

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * The actor's GRU weights rearranged for one-user inference: gate matrices transposed to [3H, E] and
 * [3H, H] in float64, so each gate value is one dot product accumulated in a register (about twice as fast
 * in V8 as float32 row updates), and the input projections x·[W_r W_z W_n] + b cached per item: they depend
 * only on the item's embedding, so a history of N items reuses what earlier requests computed.
 */
interface Packed {
  readonly wT: Float64Array;
  readonly uT: Float64Array;
  readonly bIn: Float64Array;
  /** [0 0 b_hn] */
  readonly bHidden: Float64Array;
  /** Attention weights transposed to [A, H]. */
  readonly attWT: Float64Array;
  /** Per item row: its input projection (3H values), valid where `projected` is 1. */
  embeddings: Float32Array | null;
  projections: Float64Array;
  projected: Uint8Array;
}
const packedCache = new WeakMap<ActorArrays, Packed>();

function packed(a: ActorArrays, embeddings: Float32Array): Packed {
  let p = packedCache.get(a);
  const { E, H } = a;
  const G = 3 * H;
  if (!p) {
    const wT = new Float64Array(G * E);
    const uT = new Float64Array(G * H);
    [a.wr, a.wz, a.wn].forEach((w, g) => {
      for (let i = 0; i < E; i++) for (let j = 0; j < H; j++) wT[(g * H + j) * E + i] = w[i * H + j]!;
    });
    [a.ur, a.uz, a.un].forEach((u, g) => {
      for (let i = 0; i < H; i++) for (let j = 0; j < H; j++) uT[(g * H + j) * H + i] = u[i * H + j]!;
    });
    const bIn = new Float64Array(G);
    bIn.set(a.br, 0);
    bIn.set(a.bz, H);
    bIn.set(a.bn, 2 * H);
    const bHidden = new Float64Array(G);
    bHidden.set(a.bhn, 2 * H);
    const A = a.A;
    const attWT = new Float64Array(A * H);
    for (let k = 0; k < H; k++) for (let j = 0; j < A; j++) attWT[j * H + k] = a.attW[k * A + j]!;
    p = { wT, uT, bIn, bHidden, attWT, embeddings: null, projections: new Float64Array(0), projected: new Uint8Array(0) };
    packedCache.set(a, p);
  }
  if (p.embeddings !== embeddings) {
    const items = embeddings.length / E;
    p.embeddings = embeddings;
    p.projections = new Float64Array(items * G);
    p.projected = new Uint8Array(items);
  }
  return p;
}

/** Σ_k a[k]·b[offset + k] over n values, four partial sums at a time (V8 keeps them in registers). */
function dot(a: Float64Array, b: Float64Array, offset: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = 0;
  for (; k + 3 < n; k += 4) {
    s0 += a[k]! * b[offset + k]!;
    s1 += a[k + 1]! * b[offset + k + 1]!;
    s2 += a[k + 2]! * b[offset + k + 2]!;
    s3 += a[k + 3]! * b[offset + k + 3]!;
  }
  for (; k < n; k++) s0 += a[k]! * b[offset + k]!;
  return s0 + s1 + (s2 + s3);
}

/** x·[W_r W_z W_n] + [b_r b_z b_n] for one item, computed once per loaded version. */
function inputProjection(p: Packed, E: number, G: number, item: number): number {
  const off = item * G;
  if (p.projected[item] === 1) return off;
  const emb = p.embeddings!;
  const xOff = item * E;
  for (let j = 0; j < G; j++) {
    let s = p.bIn[j]!;
    const row = j * E;
    for (let e = 0; e < E; e++) s += emb[xOff + e]! * p.wT[row + e]!;
    p.projections[off + j] = s;
  }
  p.projected[item] = 1;
  return off;
}

/**
 * The proto-action a_t for one state (item indices, oldest first, at most N). `embeddings` is row-major
 * [items, E] with row 0 the padding vector.
 */
export function protoAction(actor: ActorArrays, embeddings: Float32Array, state: ArrayLike<number>): Float32Array {
  const { E, H, A } = actor;
  const p = packed(actor, embeddings);
  const G = 3 * H;
  const L = state.length;
  const outs = new Float64Array(L * H);
  const h = new Float64Array(H);
  const hg = new Float64Array(G);
  for (let t = 0; t < L; t++) {
    const xOff = inputProjection(p, E, G, state[t]!);
    const xg = p.projections;
    // h·[U_r U_z U_n] + [0 0 b_hn], one dot product per gate value.
    for (let j = 0; j < G; j++) {
      hg[j] = p.bHidden[j]! + dot(h, p.uT, j * H, H);
    }
    for (let j = 0; j < H; j++) {
      const rj = sigmoid(xg[xOff + j]! + hg[j]!);
      const zj = sigmoid(xg[xOff + H + j]! + hg[H + j]!);
      const n = Math.tanh(xg[xOff + 2 * H + j]! + rj * hg[2 * H + j]!);
      h[j] = (1 - zj) * n + zj * h[j]!;
    }
    outs.set(h, t * H);
  }
  // Item-level attention (attention.ts), one head.
  const scores = new Float64Array(L);
  let max = -Infinity;
  for (let t = 0; t < L; t++) {
    let e = 0;
    for (let j = 0; j < A; j++) {
      const u = actor.attB[j]! + dot(outs.subarray(t * H, t * H + H), p.attWT, j * H, H);
      e += actor.attV[j]! * Math.tanh(u);
    }
    scores[t] = e;
    if (e > max) max = e;
  }
  let total = 0;
  for (let t = 0; t < L; t++) total += scores[t] = Math.exp(scores[t]! - max);
  const c = new Float64Array(H);
  for (let t = 0; t < L; t++) {
    const w = scores[t]! / total;
    for (let k = 0; k < H; k++) c[k]! += w * outs[t * H + k]!;
  }
  const a = new Float32Array(E);
  a.set(actor.outB);
  for (let k = 0; k < H; k++) {
    const ck = c[k]!;
    for (let e = 0; e < E; e++) a[e]! += ck * actor.outW[k * E + e]!;
  }
  // Unit length (actor.ts).
  let norm = 0;
  for (let e = 0; e < E; e++) norm += a[e]! * a[e]!;
  const inv = 1 / Math.sqrt(norm + 1e-12);
  for (let e = 0; e < E; e++) a[e]! *= inv;
  return a;
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
