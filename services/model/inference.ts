/**
 * The serving path for one user (paper §3.2.2, Algorithm 2 lines 5 and 7): the actor's forward pass and
 * the scores a_t · e_k of the candidates, in plain typed-array loops. At B = 1 a TensorFlow.js pass would
 * dispatch ~20 small ops per GRU step (~10 µs each on WASM, ≈ 10 ms per request); these loops do the
 * same ≈ 0.7 M multiply-adds in about 1.2 ms (the three gates of a unit, and two attention units, share one
 * pass over their input). test/unit/model-inference checks them against the
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
/** tanh(x) = 2σ(2x) − 1: one Math.exp, about twice as fast as Math.tanh in V8. */
const tanh = (x: number) => 2 / (1 + Math.exp(-2 * x)) - 1;

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
  /** b_hn [H] (reset-after form: inside the reset gate's product). */
  readonly bhn: Float64Array;
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
    const bhn = Float64Array.from(a.bhn);
    const A = a.A;
    const attWT = new Float64Array(A * H);
    for (let k = 0; k < H; k++) for (let j = 0; j < A; j++) attWT[j * H + k] = a.attW[k * A + j]!;
    p = { wT, uT, bIn, bhn, attWT, embeddings: null, projections: new Float64Array(0), projected: new Uint8Array(0) };
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

/** Σ_k a[aOffset + k]·b[bOffset + k] over n values, two partial sums (V8 keeps them in registers). */
function dot(a: Float64Array, aOffset: number, b: Float64Array, bOffset: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let k = 0;
  for (; k + 1 < n; k += 2) {
    s0 += a[aOffset + k]! * b[bOffset + k]!;
    s1 += a[aOffset + k + 1]! * b[bOffset + k + 1]!;
  }
  if (k < n) s0 += a[aOffset + k]! * b[bOffset + k]!;
  return s0 + s1;
}

/**
 * out[j] = h · m[j·n .. j·n + n) for the three rows j, j + H, j + 2H of m at once: the three gates of
 * hidden unit j read h once. Returns them through `out` at j, H + j, 2H + j.
 */
function gateDots(h: Float64Array, m: Float64Array, j: number, H: number, out: Float64Array): void {
  const r = j * H;
  const z = (H + j) * H;
  const c = (2 * H + j) * H;
  let r0 = 0, r1 = 0, z0 = 0, z1 = 0, c0 = 0, c1 = 0;
  let k = 0;
  for (; k + 1 < H; k += 2) {
    const h0 = h[k]!;
    const h1 = h[k + 1]!;
    r0 += h0 * m[r + k]!;
    r1 += h1 * m[r + k + 1]!;
    z0 += h0 * m[z + k]!;
    z1 += h1 * m[z + k + 1]!;
    c0 += h0 * m[c + k]!;
    c1 += h1 * m[c + k + 1]!;
  }
  if (k < H) {
    r0 += h[k]! * m[r + k]!;
    z0 += h[k]! * m[z + k]!;
    c0 += h[k]! * m[c + k]!;
  }
  out[j] = r0 + r1;
  out[H + j] = z0 + z1;
  out[2 * H + j] = c0 + c1;
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
    // h·[U_r U_z U_n].
    for (let j = 0; j < H; j++) gateDots(h, p.uT, j, H, hg);
    for (let j = 0; j < H; j++) {
      const rj = sigmoid(xg[xOff + j]! + hg[j]!);
      const zj = sigmoid(xg[xOff + H + j]! + hg[H + j]!);
      const n = tanh(xg[xOff + 2 * H + j]! + rj * (hg[2 * H + j]! + p.bhn[j]!));
      h[j] = (1 - zj) * n + zj * h[j]!;
    }
    outs.set(h, t * H);
  }
  // Item-level attention (attention.ts), one head.
  const scores = new Float64Array(L);
  let max = -Infinity;
  const attWT = p.attWT;
  for (let t = 0; t < L; t++) {
    let e = 0;
    const o = t * H;
    // Two attention units per pass over o_t (each o_t value loaded once for both).
    let j = 0;
    for (; j + 1 < A; j += 2) {
      const w0 = j * H;
      const w1 = w0 + H;
      let u0 = 0, u1 = 0, v0 = 0, v1 = 0;
      for (let k = 0; k + 1 < H; k += 2) {
        const o0 = outs[o + k]!;
        const o1 = outs[o + k + 1]!;
        u0 += o0 * attWT[w0 + k]!;
        v0 += o1 * attWT[w0 + k + 1]!;
        u1 += o0 * attWT[w1 + k]!;
        v1 += o1 * attWT[w1 + k + 1]!;
      }
      if (H % 2 === 1) {
        u0 += outs[o + H - 1]! * attWT[w0 + H - 1]!;
        u1 += outs[o + H - 1]! * attWT[w1 + H - 1]!;
      }
      e += actor.attV[j]! * tanh(actor.attB[j]! + u0 + v0) + actor.attV[j + 1]! * tanh(actor.attB[j + 1]! + u1 + v1);
    }
    if (j < A) e += actor.attV[j]! * tanh(actor.attB[j]! + dot(outs, o, attWT, j * H, H));
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
