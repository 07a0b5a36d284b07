/** Random unit item vectors for model tests: row-major [items + 1, E], row 0 (padding) zero. */
export function unitEmbeddings(random: () => number, items: number, E: number): Float32Array {
  const v = new Float32Array((items + 1) * E);
  for (let i = 1; i <= items; i++) {
    let norm = 0;
    for (let e = 0; e < E; e++) norm += (v[i * E + e] = random() * 2 - 1) ** 2;
    for (let e = 0; e < E; e++) v[i * E + e]! /= Math.sqrt(norm);
  }
  return v;
}
