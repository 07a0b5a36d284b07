/**
 * The serving path for one user (paper §3.2.2, Algorithm 2 lines 5 and 7): the actor's forward pass and
 * the scores a_t · e_k of the candidates, in plain typed-array loops. At B = 1 a TensorFlow.js pass would
 * dispatch ~20 small ops per GRU step (~10 µs each on WASM, ≈ 10 ms per request); these loops do the
 * same ≈ 1 M multiply-adds in about a millisecond. test/unit/model-inference checks them against the
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

interface Packed {
  readonly wcat: Float32Array;
  readonly ucat: Float32Array;
  /** [b_r b_z b_n | 0 0 b_hn] */
  readonly bcat: Float32Array;
}
const packedCache = new WeakMap<ActorArrays, Packed>();

/** The gate matrices interleaved row by row ([E, 3H] and [H, 3H]), so a step is two tight loops. */
function packed(a: ActorArrays): Packed {
  const hit = packedCache.get(a);
  if (hit) return hit;
  const { E, H } = a;
  const G = 3 * H;
  const join = (rows: number, parts: Float32Array[]) => {
    const out = new Float32Array(rows * G);
    for (let i = 0; i < rows; i++) parts.forEach((p, g) => out.set(p.subarray(i * H, (i + 1) * H), i * G + g * H));
    return out;
  };
  const bcat = new Float32Array(2 * G);
  bcat.set(a.br, 0);
  bcat.set(a.bz, H);
  bcat.set(a.bn, 2 * H);
  bcat.set(a.bhn, G + 2 * H);
  const p = { wcat: join(E, [a.wr, a.wz, a.wn]), ucat: join(H, [a.ur, a.uz, a.un]), bcat };
  packedCache.set(a, p);
  return p;
}

/**
 * The proto-action a_t for one state (item indices, oldest first, at most N). `embeddings` is row-major
 * [items, E] with row 0 the padding vector.
 */
export function protoAction(actor: ActorArrays, embeddings: Float32Array, state: ArrayLike<number>): Float32Array {
  const { E, H, A } = actor;
  const { wcat, ucat, bcat } = packed(actor);
  const G = 3 * H;
  const L = state.length;
  const outs = new Float32Array(L * H);
  const h = new Float32Array(H);
  const xg = new Float32Array(G);
  const hg = new Float32Array(G);
  for (let t = 0; t < L; t++) {
    const xOff = state[t]! * E;
    // x·[W_r W_z W_n] + [b_r b_z b_n] and h·[U_r U_z U_n] + [0 0 b_hn], gates side by side.
    xg.set(bcat.subarray(0, G));
    hg.set(bcat.subarray(G, 2 * G));
    for (let e = 0; e < E; e++) {
      const xe = embeddings[xOff + e]!;
      if (xe === 0) continue;
      const row = e * G;
      for (let j = 0; j < G; j++) xg[j]! += xe * wcat[row + j]!;
    }
    for (let k = 0; k < H; k++) {
      const hk = h[k]!;
      if (hk === 0) continue;
      const row = k * G;
      for (let j = 0; j < G; j++) hg[j]! += hk * ucat[row + j]!;
    }
    for (let j = 0; j < H; j++) {
      const rj = sigmoid(xg[j]! + hg[j]!);
      const zj = sigmoid(xg[H + j]! + hg[H + j]!);
      const n = Math.tanh(xg[2 * H + j]! + rj * hg[2 * H + j]!);
      h[j] = (1 - zj) * n + zj * h[j]!;
    }
    outs.set(h, t * H);
  }
  // Item-level attention (attention.ts), one head.
  const scores = new Float64Array(L);
  let max = -Infinity;
  const u = new Float64Array(A);
  for (let t = 0; t < L; t++) {
    u.fill(0);
    for (let k = 0; k < H; k++) {
      const o = outs[t * H + k]!;
      const row = k * A;
      for (let j = 0; j < A; j++) u[j]! += o * actor.attW[row + j]!;
    }
    let e = 0;
    for (let j = 0; j < A; j++) e += actor.attV[j]! * Math.tanh(u[j]! + actor.attB[j]!);
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
