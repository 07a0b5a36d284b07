// AssemblyScript (compiled by ../build.ts to WebAssembly with SIMD): the actor's forward pass for one
// user, the serving path of paper §3.2.2 (Algorithm 2 line 5). Same arithmetic as the TensorFlow.js
// networks (gru.ts, attention.ts, actor.ts) in float32: GRU in the reset-after form → item-level
// attention → linear map into the item-embedding space → unit length.
//
// Why a kernel: at B = 1 the work is ≈ 0.9 M multiply-adds per request; TensorFlow.js would dispatch
// ~20 ops per GRU step and plain JS loops reach ~0.6 GMAC/s, while f32x4 lanes here run ~4× faster,
// which is what keeps a serving node's tail latency low (issue 5).
//
// Memory layout (byte offsets, chosen by ../index.ts; every matrix row-major and 16-byte aligned):
// column counts of the matrices that the vector loops read are padded with zeros to multiples of 16
// (Gp ≥ 3H, Ap ≥ A), so each loop runs whole blocks of four f32x4 lanes; padded columns stay zero.

@inline function sigmoid(x: f32): f32 {
  return 1.0 / (1.0 + Mathf.exp(-x));
}

// tanh(x) = 2σ(2x) − 1 (as attention.ts computes it).
@inline function tanh(x: f32): f32 {
  return 2.0 / (1.0 + Mathf.exp(-2.0 * x)) - 1.0;
}

@inline function at(base: usize, index: i32): usize {
  return base + (<usize>index << 2);
}

// out[0..cols) = bias[0..cols) (or 0 when bias is 0) + Σ_k v[k]·m[k, 0..cols); cols % 16 == 0.
function vecMat(v: usize, rows: i32, m: usize, cols: i32, bias: usize, out: usize): void {
  for (let j = 0; j < cols; j += 16) {
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    if (bias != 0) {
      const b = at(bias, j);
      a0 = v128.load(b);
      a1 = v128.load(b, 16);
      a2 = v128.load(b, 32);
      a3 = v128.load(b, 48);
    }
    let row = at(m, j);
    const stride = <usize>cols << 2;
    for (let k = 0; k < rows; k++) {
      const vk = f32x4.splat(load<f32>(at(v, k)));
      a0 = f32x4.add(a0, f32x4.mul(vk, v128.load(row)));
      a1 = f32x4.add(a1, f32x4.mul(vk, v128.load(row, 16)));
      a2 = f32x4.add(a2, f32x4.mul(vk, v128.load(row, 32)));
      a3 = f32x4.add(a3, f32x4.mul(vk, v128.load(row, 48)));
      row += stride;
    }
    const o = at(out, j);
    v128.store(o, a0);
    v128.store(o, a1, 16);
    v128.store(o, a2, 32);
    v128.store(o, a3, 48);
  }
}

// Where the module's static data ends: the JS side places its buffers above it.
export function heapBase(): usize {
  return __heap_base;
}

// The proto-action a [E] for the L items whose embeddings are the rows of x [L, E] (oldest first).
//   weights: w [E, Gp] = [W_r W_z W_n], bIn [Gp] = [b_r b_z b_n], u [H, Gp] = [U_r U_z U_n], bhn [H],
//            attW [H, Ap], attB [Ap], attV [Ap], outW [H, E], outB [E]
//   scratch: xp [L, Gp], outs [L, H], hg [Gp], h [H], ua [Ap], scores [L], c [H]
export function protoAction(
  L: i32, E: i32, H: i32, Gp: i32, Ap: i32,
  x: usize, w: usize, bIn: usize, u: usize, bhn: usize,
  attW: usize, attB: usize, attV: usize, outW: usize, outB: usize,
  xp: usize, outs: usize, hg: usize, h: usize, ua: usize, scores: usize, c: usize, a: usize,
): void {
  // Input projections of every step: x_t·[W_r W_z W_n] + [b_r b_z b_n].
  for (let t = 0; t < L; t++) vecMat(at(x, t * E), E, w, Gp, bIn, at(xp, t * Gp));

  // GRU (gru.ts): r = σ(x_r + h·U_r), z = σ(x_z + h·U_z), n = tanh(x_n + r ⊙ (h·U_n + b_hn)),
  // h' = (1 − z) ⊙ n + z ⊙ h.
  memory.fill(h, 0, <usize>H << 2);
  for (let t = 0; t < L; t++) {
    vecMat(h, H, u, Gp, 0, hg);
    const xt = at(xp, t * Gp);
    for (let j = 0; j < H; j++) {
      const r = sigmoid(load<f32>(at(xt, j)) + load<f32>(at(hg, j)));
      const z = sigmoid(load<f32>(at(xt, H + j)) + load<f32>(at(hg, H + j)));
      const n = tanh(load<f32>(at(xt, 2 * H + j)) + r * (load<f32>(at(hg, 2 * H + j)) + load<f32>(at(bhn, j))));
      store<f32>(at(h, j), (1.0 - z) * n + z * load<f32>(at(h, j)));
    }
    memory.copy(at(outs, t * H), h, <usize>H << 2);
  }

  // Item-level attention (attention.ts): e_t = v · tanh(o_t·W + b), α = softmax(e), c = Σ_t α_t o_t.
  let max: f32 = -Infinity;
  for (let t = 0; t < L; t++) {
    vecMat(at(outs, t * H), H, attW, Ap, attB, ua);
    let e: f32 = 0;
    for (let j = 0; j < Ap; j++) e += load<f32>(at(attV, j)) * tanh(load<f32>(at(ua, j)));
    store<f32>(at(scores, t), e);
    if (e > max) max = e;
  }
  let total: f32 = 0;
  for (let t = 0; t < L; t++) {
    const s = Mathf.exp(load<f32>(at(scores, t)) - max);
    store<f32>(at(scores, t), s);
    total += s;
  }
  // An empty history attends to nothing: c = 0.
  memory.fill(c, 0, <usize>H << 2);
  for (let t = 0; t < L; t++) {
    const alpha = load<f32>(at(scores, t)) / total;
    const o = at(outs, t * H);
    for (let k = 0; k < H; k++) store<f32>(at(c, k), load<f32>(at(c, k)) + alpha * load<f32>(at(o, k)));
  }

  // a = c·outW + outB, then unit length (actor.ts).
  let norm: f32 = 0;
  for (let e = 0; e < E; e++) {
    let s = load<f32>(at(outB, e));
    for (let k = 0; k < H; k++) s += load<f32>(at(c, k)) * load<f32>(at(outW, k * E + e));
    store<f32>(at(a, e), s);
    norm += s * s;
  }
  const inv: f32 = 1.0 / Mathf.sqrt(norm + 1e-12);
  for (let e = 0; e < E; e++) store<f32>(at(a, e), load<f32>(at(a, e)) * inv);
}
