/**
 * GRU over item-embedding histories (paper §3.2.1 and §3.3: actors, critic and probability net each own
 * one), in the reset-after form of Cho et al. 2014 as cuDNN and Keras compute it:
 *
 *   r = σ(x·W_r + b_r + h·U_r)            z = σ(x·W_z + b_z + h·U_z)
 *   n = tanh(x·W_n + b_n + r ⊙ (h·U_n + b_hn))
 *   h' = (1 − z) ⊙ n + z ⊙ h
 *
 * Why this file is long and hand-differentiated: a training step of Algorithm 1 runs several GRUs over
 * the same N steps (probability net, critic, actors; then the target networks). `multiGru` runs them in
 * lockstep as "segments" of one row block, so each step's element-wise work is one op over all rows
 * instead of one per network, and its backward pass is written out (BPTT) so that the per-step work is
 * one matrix product and ~20 element-wise ops, while the weight gradients are a few large products at the
 * end. Autodiff of the same loop records ~3× more small ops; on WASM, per-op overhead is what limits a
 * GRU at B = 64. `test/unit/model-gru.unit.test.ts` checks this backward pass against autodiff.
 *
 * Sequences are right-padded: row j's items occupy steps 0..len_j−1. Outputs at padded steps are
 * computed but never read (attention masks them, see attention.ts), so padding never reaches a result,
 * and their gradient is exactly zero, so it never reaches a weight.
 */
import * as tf from '@tensorflow/tfjs';
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

export interface GruSegment {
  readonly weights: GruWeights;
  /** Input embeddings, time-major: row t·R + j is step t of sequence j; [N·R, E]. Data, not trained. */
  readonly x: tf.Tensor2D;
  /** R: number of sequences. */
  readonly rows: number;
}

/**
 * Runs every segment's GRU over `steps` steps. Returns the outputs of all segments, time-major and
 * side by side: [N, ΣR, H], segment k in columns offset_k .. offset_k + R_k of axis 1.
 */
export function multiGru(segments: readonly GruSegment[], steps: number): tf.Tensor3D {
  if (segments.length === 0) throw new Error('multiGru needs at least one segment');
  const inputs: tf.Tensor[] = [];
  for (const s of segments) {
    const w = s.weights;
    // The input projections of all N steps and three gates at once: one large product per segment
    // instead of 3·N small ones.
    const wcat = tf.concat([w.wr, w.wz, w.wn], 1) as tf.Tensor2D;
    const bcat = tf.concat([w.br, w.bz, w.bn], 0);
    inputs.push(tf.add(mm(s.x, wcat, { constA: true }), bcat), w.ur, w.uz, w.un, w.bhn);
  }
  const rows = segments.map((s) => s.rows);
  return recurrentOp(rows, steps)(...inputs) as tf.Tensor3D;
}

const PER_SEGMENT = 5;

/**
 * Moving rows between segments is done on host copies: on WASM, tf.slice/gather/split copy their whole
 * input through JS per call (≈ 0.1–10 ms each here), while a readSync plus an upload of the same bytes costs
 * microseconds. So every layout change below is a typed-array copy, and every tensor op is arithmetic.
 */
function recurrentOp(rows: readonly number[], steps: number) {
  const total = rows.reduce((a, b) => a + b, 0);
  const offsets = rows.map((_, k) => rows.slice(0, k).reduce((a, b) => a + b, 0));
  const K = rows.length;
  const N = steps;
  /** Splits a host copy of a [ΣR, W] block into per-segment tensors [R_k, W]. */
  const uploadSegments = (host: Float32Array, width: number): tf.Tensor2D[] =>
    rows.map((r, k) => tf.tensor2d(host.subarray(offsets[k]! * width, (offsets[k]! + r) * width), [r, width]));

  return tf.customGrad(((...args: unknown[]) => {
    const inputs = args.slice(0, K * PER_SEGMENT) as tf.Tensor[];
    const save = args[K * PER_SEGMENT] as tf.GradSaveFunc;
    const seg = (k: number, i: number) => inputs[k * PER_SEGMENT + i] as tf.Tensor2D;
    const H = seg(0, 1).shape[0];
    const one = tf.scalar(1);
    // Host copy of the input projections, re-laid out per step: x_t rows of all segments side by side.
    const xp = rows.map((_, k) => seg(k, 0).dataSync() as Float32Array);
    const stepInputs = (t: number): [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D] => {
      const gates = [new Float32Array(total * H), new Float32Array(total * H), new Float32Array(total * H)];
      rows.forEach((r, k) => {
        const src = xp[k]!;
        for (let j = 0; j < r; j++) {
          const from = (t * r + j) * 3 * H;
          const to = (offsets[k]! + j) * H;
          gates[0]!.set(src.subarray(from, from + H), to);
          gates[1]!.set(src.subarray(from + H, from + 2 * H), to);
          // Candidate pre-activation doubled (2a): tanh(a) = 2σ(2a) − 1 costs one sigmoid.
          const n = gates[2]!;
          for (let i = 0; i < H; i++) n[to + i] = 2 * src[from + 2 * H + i]!;
        }
      });
      return gates.map((g) => tf.tensor2d(g, [total, H])) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
    };
    const ur = rows.map((_, k) => seg(k, 1));
    const uz = rows.map((_, k) => seg(k, 2));
    const un2 = rows.map((_, k) => tf.mul(seg(k, 3), 2) as tf.Tensor2D);
    const bhn2 = tf.tidy(() => tf.concat(rows.map((r, k) => tf.tile(tf.reshape(tf.mul(seg(k, 4), 2), [1, H]), [r, 1])), 0)) as tf.Tensor2D;

    let h = tf.zeros([total, H]) as tf.Tensor2D;
    const hs: tf.Tensor2D[] = [];
    const saved = { r: [] as tf.Tensor[], z: [] as tf.Tensor[], s: [] as tf.Tensor[], hn2: [] as tf.Tensor[], d: [] as tf.Tensor[] };
    for (let t = 0; t < N; t++) {
      const [xr, xz, xn2] = stepInputs(t);
      const hPrev = h;
      const next = tf.tidy(() => {
        const hParts = K === 1 ? [hPrev] : uploadSegments(hPrev.dataSync() as Float32Array, H);
        const byK = (u: tf.Tensor2D[]) => (K === 1 ? tf.matMul(hPrev, u[0]!) : tf.concat(hParts.map((hk, k) => tf.matMul(hk, u[k]!)), 0));
        const r = tf.sigmoid(tf.add(xr, byK(ur)));
        const z = tf.sigmoid(tf.add(xz, byK(uz)));
        const hn2 = tf.add(byK(un2), bhn2);
        const s = tf.sigmoid(tf.add(xn2, tf.mul(r, hn2)));
        const n = tf.sub(tf.add(s, s), one);
        const d = tf.sub(hPrev, n);
        const hNext = tf.add(n, tf.mul(z, d));
        return { r, z, s, hn2, d, hNext };
      });
      tf.dispose([xr, xz, xn2]);
      saved.r.push(next.r);
      saved.z.push(next.z);
      saved.s.push(next.s);
      saved.hn2.push(next.hn2);
      saved.d.push(next.d);
      hs.push(hPrev);
      h = next.hNext as tf.Tensor2D;
    }
    flopMeter.add(2 * 3 * N * total * H * H);
    const value = tf.reshape(tf.concat([...hs.slice(1), h], 0), [N, total, H]);
    // The backward pass may run after the forward's scope has ended; what it reads goes through save()
    // (which keeps a reference while a gradient tape records, and is a no-op otherwise).
    save([...ur, ...uz, ...rows.map((_, k) => seg(k, 3)), ...saved.r, ...saved.z, ...saved.s, ...saved.hn2, ...saved.d, ...hs]);

    const gradFunc = (dy: tf.Tensor, kept: tf.Tensor[]): tf.Tensor[] =>
      tf.tidy(() => {
        const at = (i: number) => kept[i] as tf.Tensor2D;
        const base = 3 * K;
        const sv = (which: number, t: number) => at(base + which * N + t);
        const one = tf.scalar(1);
        const dyHost = dy.dataSync() as Float32Array;
        // dh_prev = dh ⊙ z + [ρ, ζ, η]·[2U_r; U_z; 4U_n]ᵀ, with ρ, ζ, η the scaled gate gradients below.
        const vt = rows.map((_, k) => tf.transpose(tf.concat([tf.mul(at(k), 2), at(K + k), tf.mul(at(2 * K + k), 4)], 1)) as tf.Tensor2D);
        // Host accumulators, time-major per segment: G_k = [ρ, ζ, η] rows for dU, dX_k = [2ρ, ζ, 4g] rows.
        const gHost = rows.map((r) => new Float32Array(N * r * 3 * H));
        const dxHost = rows.map((r) => new Float32Array(N * r * 3 * H));
        const hHost = rows.map((r) => new Float32Array(N * r * H));
        const dbhn = rows.map(() => new Float32Array(H));
        let carry: tf.Tensor | null = null;
        for (let t = N - 1; t >= 0; t--) {
          const dOt = tf.tensor2d(dyHost.subarray(t * total * H, (t + 1) * total * H), [total, H]);
          const out = tf.tidy(() => {
            const dh = carry === null ? dOt : tf.add(dOt, carry);
            const r = sv(0, t);
            const z = sv(1, t);
            const s = sv(2, t);
            const omz = tf.sub(one, z);
            const dn = tf.mul(dh, omz);
            // ζ = dz_pre = dh ⊙ (h − n) ⊙ z(1 − z)
            const zt = tf.mul(tf.mul(dh, sv(4, t)), tf.mul(z, omz));
            // g = dn ⊙ s(1 − s); the true da = 4g since n = 2σ(2a) − 1.
            const gt = tf.mul(dn, tf.mul(s, tf.sub(one, s)));
            // ρ = g ⊙ hn2 ⊙ r(1 − r) = dr_pre / 2 (hn2 = 2·hn);  η = g ⊙ r = dhn / 4.
            const rt = tf.mul(tf.mul(gt, sv(3, t)), tf.mul(r, tf.sub(one, r)));
            const et = tf.mul(gt, r);
            const direct = tf.mul(dh, z);
            return { rt, zt, et, gt, direct };
          });
          dOt.dispose();
          const [rh, zh, eh, gh] = [out.rt, out.zt, out.et, out.gt].map((x) => x.dataSync() as Float32Array);
          const hh = sv(5, t).dataSync() as Float32Array;
          const gateParts: tf.Tensor2D[] = [];
          rows.forEach((r, k) => {
            const gate = new Float32Array(r * 3 * H);
            for (let j = 0; j < r; j++) {
              const src = (offsets[k]! + j) * H;
              const row = j * 3 * H;
              gate.set(rh!.subarray(src, src + H), row);
              gate.set(zh!.subarray(src, src + H), row + H);
              gate.set(eh!.subarray(src, src + H), row + 2 * H);
              const dst = (t * r + j) * 3 * H;
              gHost[k]!.set(gate.subarray(row, row + 3 * H), dst);
              const dx = dxHost[k]!;
              for (let i = 0; i < H; i++) {
                dx[dst + i] = 2 * rh![src + i]!;
                dx[dst + H + i] = zh![src + i]!;
                dx[dst + 2 * H + i] = 4 * gh![src + i]!;
                dbhn[k]![i]! += 4 * eh![src + i]!;
              }
              hHost[k]!.set(hh.subarray(src, src + H), (t * r + j) * H);
            }
            gateParts.push(tf.tensor2d(gate, [r, 3 * H]));
          });
          const nextCarry = tf.tidy(() => {
            const back = K === 1 ? tf.matMul(gateParts[0]!, vt[0]!) : tf.concat(gateParts.map((gk, k) => tf.matMul(gk, vt[k]!)), 0);
            return tf.add(out.direct, back);
          });
          tf.dispose([...gateParts, out.rt, out.zt, out.et, out.gt, out.direct]);
          if (carry !== null) carry.dispose();
          carry = nextCarry;
        }
        flopMeter.add(2 * 3 * N * total * H * H);
        const grads: tf.Tensor[] = [];
        const scale = tf.tensor1d(Float32Array.from({ length: 3 * H }, (_, i) => (i < H ? 2 : i < 2 * H ? 1 : 4)));
        rows.forEach((r, k) => {
          // dU = Σ_t h_{t−1}ᵀ [dr_pre, dz_pre, dhn] = (H_kᵀ G_k) scaled by [2, 1, 4] per gate block.
          const hT = tf.tensor2d(transpose(hHost[k]!, N * r, H), [H, N * r]);
          const dU = tf.mul(tf.matMul(hT, tf.tensor2d(gHost[k]!, [N * r, 3 * H])), scale);
          const [dUr, dUz, dUn] = tf.split(dU, 3, 1);
          flopMeter.add(2 * 3 * N * r * H * H);
          grads.push(tf.tensor2d(dxHost[k]!, [N * r, 3 * H]), dUr!, dUz!, dUn!, tf.tensor1d(dbhn[k]!));
        });
        return grads;
      });
    return { value, gradFunc };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
}

/** Row-major [rows, cols] → [cols, rows]. */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = a[i * cols + j]!;
  return out;
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
