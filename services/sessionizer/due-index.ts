/**
 * Users ordered by the stream time at which the timer next has work for them (fold.ts `dueAt`): a binary
 * min-heap with each user's place in it, so a user's time changes in O(log n) and a tick finds the due users
 * without visiting the others. Plain data structure, no I/O.
 */
export class DueIndex {
  private readonly ids: string[] = [];
  private readonly times: number[] = [];
  private readonly place = new Map<string, number>();

  get size(): number {
    return this.ids.length;
  }

  /** Sets (or moves) a user's due time. */
  set(userId: string, time: number): void {
    const i = this.place.get(userId);
    if (i === undefined) {
      this.ids.push(userId);
      this.times.push(time);
      this.place.set(userId, this.ids.length - 1);
      this.up(this.ids.length - 1);
      return;
    }
    const before = this.times[i]!;
    this.times[i] = time;
    if (time < before) this.up(i);
    else this.down(i);
  }

  delete(userId: string): void {
    const i = this.place.get(userId);
    if (i === undefined) return;
    const last = this.ids.length - 1;
    this.swap(i, last);
    this.ids.pop();
    this.times.pop();
    this.place.delete(userId);
    if (i < last) {
      this.up(i);
      this.down(i);
    }
  }

  /** The users due at or before `time`, earliest first; the index is unchanged. */
  dueAt(time: number): string[] {
    // A walk of the heap's top that stops at the first later time on each branch: O(due users).
    const found: { id: string; time: number }[] = [];
    const stack = this.ids.length > 0 ? [0] : [];
    while (stack.length > 0) {
      const i = stack.pop()!;
      if (this.times[i]! > time) continue;
      found.push({ id: this.ids[i]!, time: this.times[i]! });
      const left = 2 * i + 1;
      if (left < this.ids.length) stack.push(left);
      if (left + 1 < this.ids.length) stack.push(left + 1);
    }
    return found.sort((a, b) => a.time - b.time).map((f) => f.id);
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.times[parent]! <= this.times[i]!) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const n = this.ids.length;
    for (;;) {
      const left = 2 * i + 1;
      let least = i;
      if (left < n && this.times[left]! < this.times[least]!) least = left;
      if (left + 1 < n && this.times[left + 1]! < this.times[least]!) least = left + 1;
      if (least === i) return;
      this.swap(i, least);
      i = least;
    }
  }

  private swap(a: number, b: number): void {
    if (a === b) return;
    [this.ids[a], this.ids[b]] = [this.ids[b]!, this.ids[a]!];
    [this.times[a], this.times[b]] = [this.times[b]!, this.times[a]!];
    this.place.set(this.ids[a]!, a);
    this.place.set(this.ids[b]!, b);
  }
}
