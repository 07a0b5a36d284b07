/**
 * Candidate recall (paper footnote 2): the initial item space of a session is the union of the most
 * similar items (cosine similarity of item embeddings) to each of the user's last items, and every
 * click adds its own nearest neighbours. Exact search over normalised vectors.
 */
export class CosineIndex {
  readonly size: number;
  readonly dimension: number;
  private readonly unit: Float32Array;

  /** vectors: row-major [size, E], row 0 (padding) never returned. */
  constructor(vectors: Float32Array, dimension: number) {
    this.dimension = dimension;
    this.size = Math.floor(vectors.length / dimension);
    this.unit = new Float32Array(this.size * dimension);
    for (let i = 1; i < this.size; i++) {
      let norm = 0;
      for (let e = 0; e < dimension; e++) norm += vectors[i * dimension + e]! ** 2;
      const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
      for (let e = 0; e < dimension; e++) this.unit[i * dimension + e] = vectors[i * dimension + e]! * inv;
    }
  }

  /** The k items most cosine-similar to `item` (itself excluded), best first. */
  neighbours(item: number, k: number): { index: number; similarity: number }[] {
    const E = this.dimension;
    const q = this.unit.subarray(item * E, (item + 1) * E);
    // Bounded min-heap of the best k by similarity.
    const heapIdx = new Int32Array(k);
    const heapSim = new Float32Array(k);
    let n = 0;
    const siftDown = (i: number) => {
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < n && heapSim[l]! < heapSim[m]!) m = l;
        if (r < n && heapSim[r]! < heapSim[m]!) m = r;
        if (m === i) return;
        [heapSim[i], heapSim[m]] = [heapSim[m]!, heapSim[i]!];
        [heapIdx[i], heapIdx[m]] = [heapIdx[m]!, heapIdx[i]!];
        i = m;
      }
    };
    for (let j = 1; j < this.size; j++) {
      if (j === item) continue;
      let s = 0;
      const off = j * E;
      for (let e = 0; e < E; e++) s += q[e]! * this.unit[off + e]!;
      if (n < k) {
        heapIdx[n] = j;
        heapSim[n] = s;
        n++;
        for (let i = n - 1; i > 0; ) {
          const p = (i - 1) >> 1;
          if (heapSim[p]! <= heapSim[i]!) break;
          [heapSim[i], heapSim[p]] = [heapSim[p]!, heapSim[i]!];
          [heapIdx[i], heapIdx[p]] = [heapIdx[p]!, heapIdx[i]!];
          i = p;
        }
      } else if (k > 0 && s > heapSim[0]!) {
        heapIdx[0] = j;
        heapSim[0] = s;
        siftDown(0);
      }
    }
    return Array.from({ length: n }, (_, i) => ({ index: heapIdx[i]!, similarity: heapSim[i]! })).sort(
      (a, b) => b.similarity - a.similarity || a.index - b.index,
    );
  }

  /** Footnote 2's item space: the union of each recent item's `perItem` nearest neighbours, in first-seen order. */
  recall(recentItems: readonly number[], perItem: number): number[] {
    const out = new Set<number>();
    for (const item of recentItems) for (const { index } of this.neighbours(item, perItem)) out.add(index);
    return [...out];
  }
}
