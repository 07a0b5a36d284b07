// AssemblyScript (compiled by ../build.ts to WebAssembly with SIMD): the state encoder of every DeepChain
// network (paper Figures 3 and 4: GRU → item-level attention) over a block of R histories of N steps,
// forward and backward (BPTT), as ../../encoder.ts trains it.
//
// Why a kernel: written with TensorFlow.js ops, each of the N GRU steps dispatches ~10 ops forward and
// ~25 backward on [R, H] blocks; at R ≤ 64, H = 64 each op's dispatch costs more than its arithmetic, so
// the encoders ran at a fraction of the backend's matmul throughput (issue 8). Here one call runs all N
// steps: per step register-blocked f32x4 matrix products and one pass of f32x4 element-wise work.
//
// Layout (byte offsets chosen by ../../encoder.ts; row-major float32; P = H rounded up to a multiple of 8,
// Q = E rounded up to a multiple of 4, padded rows and columns zero, which keeps padded lanes of h and of
// every gradient exactly zero):
//   x    [N, R, Q]   item embeddings, time-major (row t·R + j: step t of sequence j)
//   w    [Q, 3P]     [W_r W_z W_n] (gate g in columns g·P .. g·P + P);  bIn [3P] = [b_r b_z b_n]
//   xp   [R, 3P]     one step's input projections x_t·w (without bIn)
//   u    [P, 3P]     [U_r U_z U_n];  uT [3P, P] its transpose;  bhn [P]
//   out  [N, R, P]   h_1 .. h_N (h_0 = 0)
//   save [N, R, 4P]  r, z, n and hn = h·U_n + b_hn of every step (0: not kept)
//
// Equations (reset-after form), x_g = x·W_g + b_g:  r = σ(x_r + h·U_r),  z = σ(x_z + h·U_z),
//   hn = h·U_n + b_hn,  n = tanh(x_n + r ⊙ hn),  h' = n + z ⊙ (h − n).

@inline function at(base: usize, index: i32): usize {
  return base + (<usize>index << 2);
}

// exp's constants, each in four lanes, read from memory: V8 rebuilds a v128 constant written inline at
// every use, a load from here folds into the arithmetic.
const EXP = memory.data<f32>([
  -87.0, -87.0, -87.0, -87.0,
  88.0, 88.0, 88.0, 88.0,
  1.44269504, 1.44269504, 1.44269504, 1.44269504,
  12582912.0, 12582912.0, 12582912.0, 12582912.0,
  0.693359375, 0.693359375, 0.693359375, 0.693359375,
  -2.12194440e-4, -2.12194440e-4, -2.12194440e-4, -2.12194440e-4,
  1.9875691500e-4, 1.9875691500e-4, 1.9875691500e-4, 1.9875691500e-4,
  1.3981999507e-3, 1.3981999507e-3, 1.3981999507e-3, 1.3981999507e-3,
  8.3334519073e-3, 8.3334519073e-3, 8.3334519073e-3, 8.3334519073e-3,
  4.1665795894e-2, 4.1665795894e-2, 4.1665795894e-2, 4.1665795894e-2,
  1.6666665459e-1, 1.6666665459e-1, 1.6666665459e-1, 1.6666665459e-1,
  5.0000001201e-1, 5.0000001201e-1, 5.0000001201e-1, 5.0000001201e-1,
  1.0, 1.0, 1.0, 1.0,
]);

@inline function expConst(i: i32): v128 {
  return v128.load(EXP + (<usize>i << 4));
}

// exp on four lanes: Cody–Waite range reduction and the degree-5 polynomial of Cephes' expf (relative
// error ≈ 1e-7 on the clamped range), evaluated by Estrin's scheme, whose shorter dependency chain is what
// limits this loop. k = round(x·log2 e) comes from adding 1.5·2²³, whose float sum rounds to an integer
// and holds k in its low mantissa bits (cheaper here than nearest and a conversion).
@inline function expV(x: v128): v128 {
  x = f32x4.pmin(f32x4.pmax(x, expConst(0)), expConst(1));
  const shifted = f32x4.add(f32x4.mul(x, expConst(2)), expConst(3));
  const k = f32x4.sub(shifted, expConst(3));
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(k, expConst(4))), f32x4.mul(k, expConst(5)));
  const r2 = f32x4.mul(r, r);
  // p = c5 + c4·r + … + c0·r⁵, exp(r) ≈ 1 + r + p·r².
  const q0 = f32x4.add(expConst(11), f32x4.mul(expConst(10), r));
  const q1 = f32x4.add(expConst(9), f32x4.mul(expConst(8), r));
  const q2 = f32x4.add(expConst(7), f32x4.mul(expConst(6), r));
  const p = f32x4.add(q0, f32x4.mul(r2, f32x4.add(q1, f32x4.mul(r2, q2))));
  const e = f32x4.add(f32x4.add(expConst(12), r), f32x4.mul(p, r2));
  // 2^k through the exponent bits: (k + 127) << 23, with k = bits(shifted) − bits(1.5·2²³).
  const scale = i32x4.shl(i32x4.add(i32x4.sub(shifted, i32x4.splat(0x4b400000)), i32x4.splat(127)), 23);
  return f32x4.mul(e, scale);
}

@inline function sigmoidV(x: v128): v128 {
  const one = f32x4.splat(1.0);
  return f32x4.div(one, f32x4.add(one, expV(f32x4.neg(x))));
}

// tanh(x) = 2σ(2x) − 1.
@inline function tanhV(x: v128): v128 {
  const two = f32x4.splat(2.0);
  return f32x4.sub(f32x4.div(two, f32x4.add(f32x4.splat(1.0), expV(f32x4.mul(x, f32x4.splat(-2.0))))), f32x4.splat(1.0));
}

// Stores a block of 4 rows × 8 columns of c (row stride sc bytes) from its eight accumulators.
@inline function storeTile(
  cj: usize, sc: usize, c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128,
): void {
  v128.store(cj, c00);
  v128.store(cj, c01, 16);
  v128.store(cj + sc, c10);
  v128.store(cj + sc, c11, 16);
  v128.store(cj + 2 * sc, c20);
  v128.store(cj + 2 * sc, c21, 16);
  v128.store(cj + 3 * sc, c30);
  v128.store(cj + 3 * sc, c31, 16);
}

// c[M, n] = (accumulate ? c : 0) + a[M, K]·b[K, n]; row strides in floats; n % 8 == 0.
// Blocks of 4 rows × 8 columns: eight f32x4 accumulators stay in registers across the K loop.
function gemm(M: i32, K: i32, n: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, accumulate: bool): void {
  const sa = <usize>lda << 2;
  const sb = <usize>ldb << 2;
  const sc = <usize>ldc << 2;
  let i = 0;
  for (; i + 4 <= M; i += 4) {
    const a0 = a + <usize>i * sa;
    const a1 = a0 + sa;
    const a2 = a1 + sa;
    const a3 = a2 + sa;
    const c0 = c + <usize>i * sc;
    for (let j = 0; j < n; j += 8) {
      const cj = c0 + (<usize>j << 2);
      let c00 = f32x4.splat(0);
      let c01 = f32x4.splat(0);
      let c10 = f32x4.splat(0);
      let c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0);
      let c21 = f32x4.splat(0);
      let c30 = f32x4.splat(0);
      let c31 = f32x4.splat(0);
      if (accumulate) {
        c00 = v128.load(cj);
        c01 = v128.load(cj, 16);
        c10 = v128.load(cj + sc);
        c11 = v128.load(cj + sc, 16);
        c20 = v128.load(cj + 2 * sc);
        c21 = v128.load(cj + 2 * sc, 16);
        c30 = v128.load(cj + 3 * sc);
        c31 = v128.load(cj + 3 * sc, 16);
      }
      let bp = b + (<usize>j << 2);
      for (let k = 0; k < K; k++) {
        const b0 = v128.load(bp);
        const b1 = v128.load(bp, 16);
        const k4 = <usize>k << 2;
        let v = f32x4.splat(load<f32>(a0 + k4));
        c00 = f32x4.add(c00, f32x4.mul(v, b0));
        c01 = f32x4.add(c01, f32x4.mul(v, b1));
        v = f32x4.splat(load<f32>(a1 + k4));
        c10 = f32x4.add(c10, f32x4.mul(v, b0));
        c11 = f32x4.add(c11, f32x4.mul(v, b1));
        v = f32x4.splat(load<f32>(a2 + k4));
        c20 = f32x4.add(c20, f32x4.mul(v, b0));
        c21 = f32x4.add(c21, f32x4.mul(v, b1));
        v = f32x4.splat(load<f32>(a3 + k4));
        c30 = f32x4.add(c30, f32x4.mul(v, b0));
        c31 = f32x4.add(c31, f32x4.mul(v, b1));
        bp += sb;
      }
      storeTile(cj, sc, c00, c01, c10, c11, c20, c21, c30, c31);
    }
  }
  for (; i < M; i++) {
    const ai = a + <usize>i * sa;
    const ci = c + <usize>i * sc;
    for (let j = 0; j < n; j += 8) {
      const cj = ci + (<usize>j << 2);
      let c0 = accumulate ? v128.load(cj) : f32x4.splat(0);
      let c1 = accumulate ? v128.load(cj, 16) : f32x4.splat(0);
      let bp = b + (<usize>j << 2);
      for (let k = 0; k < K; k++) {
        const v = f32x4.splat(load<f32>(ai + (<usize>k << 2)));
        c0 = f32x4.add(c0, f32x4.mul(v, v128.load(bp)));
        c1 = f32x4.add(c1, f32x4.mul(v, v128.load(bp, 16)));
        bp += sb;
      }
      v128.store(cj, c0);
      v128.store(cj, c1, 16);
    }
  }
}

// c[M, n] = (accumulate ? c : 0) + aᵀ·b with a [K, M], b [K, n]; M % 4 == 0, n % 8 == 0. The four values
// of a that a block of four rows of c needs at step k are adjacent in a's row k: one load, four lane
// broadcasts.
function gemmTN(M: i32, K: i32, n: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32, accumulate: bool): void {
  const sa = <usize>lda << 2;
  const sb = <usize>ldb << 2;
  const sc = <usize>ldc << 2;
  for (let i = 0; i < M; i += 4) {
    const c0 = c + <usize>i * sc;
    for (let j = 0; j < n; j += 8) {
      const cj = c0 + (<usize>j << 2);
      let c00 = f32x4.splat(0);
      let c01 = f32x4.splat(0);
      let c10 = f32x4.splat(0);
      let c11 = f32x4.splat(0);
      let c20 = f32x4.splat(0);
      let c21 = f32x4.splat(0);
      let c30 = f32x4.splat(0);
      let c31 = f32x4.splat(0);
      if (accumulate) {
        c00 = v128.load(cj);
        c01 = v128.load(cj, 16);
        c10 = v128.load(cj + sc);
        c11 = v128.load(cj + sc, 16);
        c20 = v128.load(cj + 2 * sc);
        c21 = v128.load(cj + 2 * sc, 16);
        c30 = v128.load(cj + 3 * sc);
        c31 = v128.load(cj + 3 * sc, 16);
      }
      let ap = a + (<usize>i << 2);
      let bp = b + (<usize>j << 2);
      for (let k = 0; k < K; k++) {
        const b0 = v128.load(bp);
        const b1 = v128.load(bp, 16);
        const av = v128.load(ap);
        let v = v128.shuffle<f32>(av, av, 0, 0, 0, 0);
        c00 = f32x4.add(c00, f32x4.mul(v, b0));
        c01 = f32x4.add(c01, f32x4.mul(v, b1));
        v = v128.shuffle<f32>(av, av, 1, 1, 1, 1);
        c10 = f32x4.add(c10, f32x4.mul(v, b0));
        c11 = f32x4.add(c11, f32x4.mul(v, b1));
        v = v128.shuffle<f32>(av, av, 2, 2, 2, 2);
        c20 = f32x4.add(c20, f32x4.mul(v, b0));
        c21 = f32x4.add(c21, f32x4.mul(v, b1));
        v = v128.shuffle<f32>(av, av, 3, 3, 3, 3);
        c30 = f32x4.add(c30, f32x4.mul(v, b0));
        c31 = f32x4.add(c31, f32x4.mul(v, b1));
        ap += sa;
        bp += sb;
      }
      storeTile(cj, sc, c00, c01, c10, c11, c20, c21, c30, c31);
    }
  }
}

// Where the module's static data ends: the JS side places its buffers above it.
export function heapBase(): usize {
  return __heap_base;
}

// GRU forward over N steps. Scratch: xp and hg [R, 3P], h0 [R, P].
export function gruForward(
  R: i32, P: i32, Q: i32, N: i32, x: usize, w: usize, bIn: usize, u: usize, bhn: usize,
  out: usize, save: usize, xp: usize, hg: usize, h0: usize,
): void {
  const G = 3 * P;
  const gateBytes = <usize>P << 2;
  memory.fill(h0, 0, <usize>(R * P) << 2);
  for (let t = 0; t < N; t++) {
    const hPrev = t == 0 ? h0 : at(out, (t - 1) * R * P);
    // Step t's input projections, then the recurrent product: both stay in cache for the loop below.
    gemm(R, Q, G, at(x, t * R * Q), Q, w, G, xp, G, false);
    gemm(R, P, G, hPrev, P, u, G, hg, G, false);
    for (let j = 0; j < R; j++) {
      const xt = at(xp, j * G);
      const g = at(hg, j * G);
      const hp = at(hPrev, j * P);
      const h = at(out, (t * R + j) * P);
      const s = save == 0 ? 0 : at(save, (t * R + j) * 4 * P);
      for (let i = 0; i < P; i += 4) {
        const o = <usize>i << 2;
        const b = bIn + o;
        const r = sigmoidV(f32x4.add(f32x4.add(v128.load(xt + o), v128.load(b)), v128.load(g + o)));
        const z = sigmoidV(f32x4.add(f32x4.add(v128.load(xt + gateBytes + o), v128.load(b + gateBytes)), v128.load(g + gateBytes + o)));
        const hn = f32x4.add(v128.load(g + 2 * gateBytes + o), v128.load(bhn + o));
        const n = tanhV(f32x4.add(f32x4.add(v128.load(xt + 2 * gateBytes + o), v128.load(b + 2 * gateBytes)), f32x4.mul(r, hn)));
        v128.store(h + o, f32x4.add(n, f32x4.mul(z, f32x4.sub(v128.load(hp + o), n))));
        if (s != 0) {
          v128.store(s + o, r);
          v128.store(s + gateBytes + o, z);
          v128.store(s + 2 * gateBytes + o, n);
          v128.store(s + 3 * gateBytes + o, hn);
        }
      }
    }
  }
}

// GRU backward over N steps from dy [N, R, P] (the loss gradient of every output h_t) and what forward kept.
// Writes the weight gradients dw [Q, 3P], dbIn [3P], du [P, 3P] and dbhn [P] (x is data: no gradient).
// Scratch, one step's rows: dxp [R, 3P] (gradient of the input projections), gates [R, 3P] (the
// gradients of the r and z pre-activations and of hn: the rows of dU), carry [R, P] (dL/dh_{t−1}).
export function gruBackward(
  R: i32, P: i32, Q: i32, N: i32, x: usize, dy: usize, uT: usize, out: usize, save: usize,
  dw: usize, dbIn: usize, du: usize, dbhn: usize, dxp: usize, gates: usize, carry: usize,
): void {
  const G = 3 * P;
  const gateBytes = <usize>P << 2;
  const one = f32x4.splat(1.0);
  memory.fill(carry, 0, <usize>(R * P) << 2);
  memory.fill(dbhn, 0, gateBytes);
  memory.fill(dbIn, 0, <usize>G << 2);
  memory.fill(du, 0, <usize>(P * G) << 2);
  memory.fill(dw, 0, <usize>(Q * G) << 2);
  for (let t = N - 1; t >= 0; t--) {
    for (let j = 0; j < R; j++) {
      const row = t * R + j;
      const d = at(dy, row * P);
      const c = at(carry, j * P);
      const s = at(save, row * 4 * P);
      const dx = at(dxp, j * G);
      const dg = at(gates, j * G);
      for (let i = 0; i < P; i += 4) {
        const o = <usize>i << 2;
        const dh = f32x4.add(v128.load(d + o), v128.load(c + o));
        const r = v128.load(s + o);
        const z = v128.load(s + gateBytes + o);
        const n = v128.load(s + 2 * gateBytes + o);
        const hn = v128.load(s + 3 * gateBytes + o);
        const hp = t == 0 ? f32x4.splat(0) : v128.load(at(out, (row - R) * P) + o);
        const omz = f32x4.sub(one, z);
        // h' = n + z(h − n): ∂/∂n = 1 − z, ∂/∂z = h − n, ∂/∂h = z.
        const dzPre = f32x4.mul(f32x4.mul(dh, f32x4.sub(hp, n)), f32x4.mul(z, omz));
        const dnPre = f32x4.mul(f32x4.mul(dh, omz), f32x4.sub(one, f32x4.mul(n, n)));
        const drPre = f32x4.mul(f32x4.mul(dnPre, hn), f32x4.mul(r, f32x4.sub(one, r)));
        const dhn = f32x4.mul(dnPre, r);
        v128.store(dx + o, drPre);
        v128.store(dx + gateBytes + o, dzPre);
        v128.store(dx + 2 * gateBytes + o, dnPre);
        v128.store(dg + o, drPre);
        v128.store(dg + gateBytes + o, dzPre);
        v128.store(dg + 2 * gateBytes + o, dhn);
        v128.store(c + o, f32x4.mul(dh, z));
        v128.store(dbhn + o, f32x4.add(v128.load(dbhn + o), dhn));
        const db = dbIn + o;
        v128.store(db, f32x4.add(v128.load(db), drPre));
        v128.store(db + gateBytes, f32x4.add(v128.load(db + gateBytes), dzPre));
        v128.store(db + 2 * gateBytes, f32x4.add(v128.load(db + 2 * gateBytes), dnPre));
      }
    }
    // dh_{t−1} = dh ⊙ z + [dr_pre, dz_pre, dhn]·[U_r U_z U_n]ᵀ; nothing reads it at t = 0 (h_0 is fixed).
    // Step t's share of the weight gradients while its rows are in cache: dW += x_tᵀ·dxp_t, and for
    // t ≥ 1 (h_0 = 0 adds nothing) dU += h_{t−1}ᵀ·[dr_pre, dz_pre, dhn]_t.
    gemmTN(Q, R, G, at(x, t * R * Q), Q, dxp, G, dw, G, true);
    if (t > 0) {
      gemmTN(P, R, G, at(out, (t - 1) * R * P), P, gates, G, du, G, true);
      gemm(R, G, P, gates, G, uT, P, carry, P, true);
    }
  }
}

@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

// The end of the run of rows from j on that use the same attention head (one matrix product per run).
@inline function runEnd(heads: usize, j: i32, R: i32): i32 {
  const k = load<i32>(at(heads, j));
  let end = j + 1;
  while (end < R && load<i32>(at(heads, end)) == k) end++;
  return end;
}

// Item-level attention (../../attention.ts) over the GRU outputs out [N, R, P]: with k the row's head,
//   e_t = v_k · tanh(o_t·W_k + b_k),  α = softmax over the row's first len steps (0 after them),
//   c = Σ_t α_t o_t.
// Layout: attW [P, K·A] (head k in columns k·A .. k·A + A; A padded to a multiple of 8), attB [K·A],
// attV [K, A]; lengths and heads: i32 [R]. Keeps ua [N, R, A] (the tanh values) and alpha [N, R]; writes
// c [R, P].
export function attendForward(
  R: i32, P: i32, N: i32, A: i32, K: i32, out: usize, lengths: usize, heads: usize,
  attW: usize, attB: usize, attV: usize, ua: usize, alpha: usize, c: usize,
): void {
  const KA = K * A;
  for (let t = 0; t < N; t++) {
    for (let j = 0; j < R; ) {
      const end = runEnd(heads, j, R);
      const k = load<i32>(at(heads, j));
      gemm(end - j, P, A, at(out, (t * R + j) * P), P, at(attW, k * A), KA, at(ua, (t * R + j) * A), A, false);
      j = end;
    }
    for (let j = 0; j < R; j++) {
      const k = load<i32>(at(heads, j));
      const u = at(ua, (t * R + j) * A);
      const b = at(attB, k * A);
      const v = at(attV, k * A);
      let e = f32x4.splat(0);
      for (let i = 0; i < A; i += 4) {
        const o = <usize>i << 2;
        const tu = tanhV(f32x4.add(v128.load(u + o), v128.load(b + o)));
        v128.store(u + o, tu);
        e = f32x4.add(e, f32x4.mul(tu, v128.load(v + o)));
      }
      store<f32>(at(alpha, t * R + j), hsum(e));
    }
  }
  memory.fill(c, 0, <usize>(R * P) << 2);
  for (let j = 0; j < R; j++) {
    const L = min(load<i32>(at(lengths, j)), N);
    let max: f32 = -Infinity;
    for (let t = 0; t < L; t++) max = Mathf.max(max, load<f32>(at(alpha, t * R + j)));
    let total: f32 = 0;
    for (let t = 0; t < N; t++) {
      const p: f32 = t < L ? Mathf.exp(load<f32>(at(alpha, t * R + j)) - max) : 0;
      store<f32>(at(alpha, t * R + j), p);
      total += p;
    }
    // An empty history attends to nothing: c = 0.
    const cj = at(c, j * P);
    for (let t = 0; t < L; t++) {
      const a = load<f32>(at(alpha, t * R + j)) / total;
      store<f32>(at(alpha, t * R + j), a);
      const av = f32x4.splat(a);
      const o = at(out, (t * R + j) * P);
      for (let i = 0; i < P; i += 4) {
        const q = <usize>i << 2;
        v128.store(cj + q, f32x4.add(v128.load(cj + q), f32x4.mul(av, v128.load(o + q))));
      }
    }
  }
}

// Backward of attendForward from dc [R, P]: writes dout [N, R, P] (the gradient of every GRU output),
// dAttW [P, K·A], dAttB [K·A], dAttV [K, A]. attWT [K·A, P] is attW transposed. Scratch: da [N, R, A]
// (gradient of the pre-tanh scores), dAlpha [N].
export function attendBackward(
  R: i32, P: i32, N: i32, A: i32, K: i32, out: usize, lengths: usize, heads: usize,
  attWT: usize, attV: usize, ua: usize, alpha: usize, dc: usize,
  dout: usize, dAttW: usize, dAttB: usize, dAttV: usize, da: usize, dAlpha: usize,
): void {
  const KA = K * A;
  const one = f32x4.splat(1.0);
  memory.fill(dAttW, 0, <usize>(P * KA) << 2);
  memory.fill(dAttB, 0, <usize>KA << 2);
  memory.fill(dAttV, 0, <usize>KA << 2);
  for (let j = 0; j < R; j++) {
    const k = load<i32>(at(heads, j));
    const L = min(load<i32>(at(lengths, j)), N);
    const dcj = at(dc, j * P);
    // dα_t = dc·o_t; the softmax's backward: de_t = α_t (dα_t − Σ_s α_s dα_s).
    let weighted: f32 = 0;
    for (let t = 0; t < L; t++) {
      const o = at(out, (t * R + j) * P);
      let d = f32x4.splat(0);
      for (let i = 0; i < P; i += 4) d = f32x4.add(d, f32x4.mul(v128.load(dcj + (<usize>i << 2)), v128.load(o + (<usize>i << 2))));
      const dA = hsum(d);
      store<f32>(at(dAlpha, t), dA);
      weighted += load<f32>(at(alpha, t * R + j)) * dA;
    }
    const v = at(attV, k * A);
    const dv = at(dAttV, k * A);
    const db = at(dAttB, k * A);
    for (let t = 0; t < N; t++) {
      const dOut = at(dout, (t * R + j) * P);
      const daRow = at(da, (t * R + j) * A);
      if (t >= L) {
        memory.fill(dOut, 0, <usize>P << 2);
        memory.fill(daRow, 0, <usize>A << 2);
        continue;
      }
      const a = load<f32>(at(alpha, t * R + j));
      // c = Σ α_t o_t: the direct part of dL/do_t.
      const av = f32x4.splat(a);
      for (let i = 0; i < P; i += 4) v128.store(dOut + (<usize>i << 2), f32x4.mul(av, v128.load(dcj + (<usize>i << 2))));
      // e_t = v·u_t, u_t = tanh(pre): dv += de·u, dpre = de·v ⊙ (1 − u²).
      const de = f32x4.splat(a * (load<f32>(at(dAlpha, t)) - weighted));
      const u = at(ua, (t * R + j) * A);
      for (let i = 0; i < A; i += 4) {
        const o = <usize>i << 2;
        const ut = v128.load(u + o);
        const dPre = f32x4.mul(f32x4.mul(de, v128.load(v + o)), f32x4.sub(one, f32x4.mul(ut, ut)));
        v128.store(daRow + o, dPre);
        v128.store(dv + o, f32x4.add(v128.load(dv + o), f32x4.mul(de, ut)));
        v128.store(db + o, f32x4.add(v128.load(db + o), dPre));
      }
    }
  }
  // pre_t = o_t·W_k + b_k: dout_t += dpre_t·W_kᵀ, dW_k += o_tᵀ·dpre_t.
  for (let t = 0; t < N; t++) {
    for (let j = 0; j < R; ) {
      const end = runEnd(heads, j, R);
      const k = load<i32>(at(heads, j));
      const daRun = at(da, (t * R + j) * A);
      const outRun = at(out, (t * R + j) * P);
      gemm(end - j, A, P, daRun, A, at(attWT, k * A * P), P, at(dout, (t * R + j) * P), P, true);
      gemmTN(P, end - j, A, outRun, P, daRun, A, at(dAttW, k * A), KA, true);
      j = end;
    }
  }
}
