/**
 * item2vec (paper footnote 1; Barkan & Koenigstein 2016): skip-gram with negative sampling (Mikolov et al.
 * 2013) where a session's clicked items are a sentence and each item a word. It trains incrementally:
 * `train` may be called with new sequences at any time, new items get fresh vectors and existing vectors
 * keep learning (DESIGN.md §2: kept up to date as new items appear).
 *
 * Written as typed-array loops, not TensorFlow.js: each update touches 1 + k rows of E floats, a sparse
 * pattern for which dispatching tensor ops would cost far more than the arithmetic.
 */
import { seededRandom } from './params.js';
import { ItemVocabulary } from './vocabulary.js';

export interface Item2VecOptions {
  readonly dimension: number;
  /** Context window on each side. */
  readonly window?: number;
  /** Negative samples per positive pair. */
  readonly negatives?: number;
  readonly learningRate?: number;
  readonly seed?: number;
}

export class Item2Vec {
  readonly vocabulary: ItemVocabulary;
  readonly dimension: number;
  private readonly window: number;
  private readonly negatives: number;
  private readonly learningRate: number;
  private readonly random: () => number;
  private input = new Float32Array(0);
  private output = new Float32Array(0);
  private counts = new Float64Array(0);
  private capacity = 0;

  constructor(options: Item2VecOptions, vocabulary = new ItemVocabulary()) {
    this.dimension = options.dimension;
    this.window = options.window ?? 5;
    this.negatives = options.negatives ?? 5;
    this.learningRate = options.learningRate ?? 0.025;
    this.random = seededRandom(options.seed ?? 1);
    this.vocabulary = vocabulary;
    this.ensureCapacity(vocabulary.size);
  }

  private ensureCapacity(size: number): void {
    if (size <= this.capacity) return;
    const E = this.dimension;
    const cap = Math.max(size, this.capacity * 2, 16);
    const input = new Float32Array(cap * E);
    const output = new Float32Array(cap * E);
    const counts = new Float64Array(cap);
    input.set(this.input);
    output.set(this.output);
    counts.set(this.counts);
    // word2vec's initialisation: input vectors uniform in ±0.5/E, output vectors zero. Row 0 (padding) stays 0.
    for (let i = Math.max(1, this.capacity) * E; i < cap * E; i++) input[i] = (this.random() - 0.5) / E;
    this.input = input;
    this.output = output;
    this.counts = counts;
    this.capacity = cap;
  }

  /**
   * One pass of SGNS over the sequences (item ids, in click order); registers new items first.
   * Returns the mean logistic loss of the positive and negative pairs seen.
   */
  train(sequences: readonly (readonly string[])[], epochs = 1): { pairs: number; loss: number } {
    const seqs = sequences.map((s) => s.map((id) => this.vocabulary.add(id)));
    this.ensureCapacity(this.vocabulary.size);
    for (const s of seqs) for (const i of s) this.counts[i]! += 1;
    const table = this.negativeTable();
    const E = this.dimension;
    const grad = new Float32Array(E);
    let pairs = 0;
    let loss = 0;
    for (let epoch = 0; epoch < epochs; epoch++) {
      for (const s of seqs) {
        for (let p = 0; p < s.length; p++) {
          const centre = s[p]!;
          for (let q = Math.max(0, p - this.window); q <= Math.min(s.length - 1, p + this.window); q++) {
            if (q === p) continue;
            const context = s[q]!;
            grad.fill(0);
            const inOff = centre * E;
            for (let k = 0; k <= this.negatives; k++) {
              const target = k === 0 ? context : this.sampleNegative(table);
              if (k > 0 && target === context) continue;
              const label = k === 0 ? 1 : 0;
              const outOff = target * E;
              let dot = 0;
              for (let e = 0; e < E; e++) dot += this.input[inOff + e]! * this.output[outOff + e]!;
              const sig = 1 / (1 + Math.exp(-dot));
              loss += label ? -Math.log(sig + 1e-12) : -Math.log(1 - sig + 1e-12);
              const g = (label - sig) * this.learningRate;
              for (let e = 0; e < E; e++) {
                grad[e]! += g * this.output[outOff + e]!;
                this.output[outOff + e]! += g * this.input[inOff + e]!;
              }
            }
            for (let e = 0; e < E; e++) this.input[inOff + e]! += grad[e]!;
            pairs++;
          }
        }
      }
    }
    return { pairs, loss: pairs ? loss / (pairs * (1 + this.negatives)) : 0 };
  }

  /** Cumulative unigram^0.75 distribution (word2vec's noise distribution). */
  private negativeTable(): Float64Array {
    const n = this.vocabulary.size;
    const cum = new Float64Array(n);
    let total = 0;
    for (let i = 1; i < n; i++) cum[i] = total += Math.pow(this.counts[i]!, 0.75);
    return cum;
  }

  private sampleNegative(cum: Float64Array): number {
    const x = this.random() * cum[cum.length - 1]!;
    let lo = 1;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Everything training continues from: input and output vectors and item counts (a learner checkpoint). */
  exportState(): { input: Float32Array; output: Float32Array; counts: Float32Array } {
    const n = this.vocabulary.size;
    const E = this.dimension;
    return {
      input: this.input.slice(0, n * E),
      output: this.output.slice(0, n * E),
      counts: Float32Array.from(this.counts.subarray(0, n)),
    };
  }

  /** Restores exportState() for the same vocabulary (same items at the same indices). */
  importState(state: { input: Float32Array; output: Float32Array; counts: Float32Array }): void {
    const n = state.counts.length;
    const E = this.dimension;
    if (state.input.length !== n * E || state.output.length !== n * E) {
      throw new Error(`item2vec state holds ${state.input.length / E} input rows and ${state.output.length / E} output rows for ${n} items`);
    }
    if (n !== this.vocabulary.size) throw new Error(`item2vec state is for ${n} items, the vocabulary has ${this.vocabulary.size}`);
    this.ensureCapacity(n);
    this.input.set(state.input);
    this.output.set(state.output);
    this.counts.set(state.counts);
  }

  /** The item embeddings, row-major [vocabulary.size, E], row 0 zero: what the networks read. */
  vectors(): Float32Array {
    return this.input.slice(0, this.vocabulary.size * this.dimension);
  }

  vectorOf(id: string): Float32Array | undefined {
    const i = this.vocabulary.indexOf(id);
    return i === undefined ? undefined : this.input.slice(i * this.dimension, (i + 1) * this.dimension);
  }
}

/**
 * Centred unit vectors (beyond the paper): the mean of the given rows subtracted, then each scaled to unit
 * length. SGNS vectors share a common direction that grows with training (Mu & Viswanath 2018, "All-but-the-top");
 * removing it leaves unrelated items near-orthogonal, so a proto-action near one item does not score every item
 * alike. `rows`: the row indices to centre (default every non-zero row but padding); other rows are copied as they are.
 */
export function centredVectors(vectors: Float32Array, E: number, rows?: Iterable<number>): Float32Array {
  const out = Float32Array.from(vectors);
  const chosen: number[] = [];
  if (rows) chosen.push(...rows);
  else {
    for (let i = 1; i < vectors.length / E; i++) {
      if (vectors.subarray(i * E, i * E + E).some((x) => x !== 0)) chosen.push(i);
    }
  }
  if (chosen.length === 0) return out;
  const mean = new Float64Array(E);
  for (const i of chosen) {
    let norm = 0;
    for (let e = 0; e < E; e++) norm += vectors[i * E + e]! ** 2;
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let e = 0; e < E; e++) mean[e]! += (vectors[i * E + e]! * inv) / chosen.length;
  }
  for (const i of chosen) {
    let norm = 0;
    for (let e = 0; e < E; e++) norm += vectors[i * E + e]! ** 2;
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    let centredNorm = 0;
    for (let e = 0; e < E; e++) centredNorm += (out[i * E + e] = vectors[i * E + e]! * inv - mean[e]!) ** 2;
    const scale = centredNorm > 0 ? 1 / Math.sqrt(centredNorm) : 0;
    for (let e = 0; e < E; e++) out[i * E + e]! *= scale;
  }
  return out;
}
