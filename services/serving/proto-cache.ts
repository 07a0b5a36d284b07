/**
 * Proto-actions a_t already computed by the loaded version, per user and scenario. A user's state changes
 * only when a click or purchase joins the history (DESIGN.md §2), so the pages of a session between two
 * clicks reuse one actor pass; a changed state is a miss and replaces the entry. Bounded: least recently
 * used entries go first. One cache per loaded version, so a hot swap starts empty.
 */
interface Entry {
  state: number[];
  proto: Float32Array;
}

export class ProtoActionCache {
  private readonly entries = new Map<string, Entry>();
  hits = 0;
  misses = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** The cached a_t for exactly this state, or the value `compute` returns (then cached). */
  getOrCompute(userId: string, scenario: string, state: readonly number[], compute: () => Float32Array): Float32Array {
    const key = `${scenario}\u0000${userId}`;
    const hit = this.entries.get(key);
    if (hit && sameState(hit.state, state)) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      this.hits++;
      return hit.proto;
    }
    this.misses++;
    const proto = compute();
    this.entries.delete(key);
    this.entries.set(key, { state: [...state], proto });
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    return proto;
  }
}

function sameState(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
