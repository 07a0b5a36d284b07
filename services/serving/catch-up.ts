/**
 * How far a serving node's read of the `transitions` topic is from the end it saw at start: the node is
 * ready (/readyz check `histories`) once every partition's position reached that end. Later transitions
 * move histories on but never make the node unready again: the start-up replay is what readiness covers.
 * No Kafka here; history-stream.ts feeds it offsets.
 */
export interface PartitionRange {
  readonly partition: number;
  /** First offset read (the window's start). */
  readonly from: bigint;
  /** The end offset seen at start (exclusive): caught up once the position reaches it. */
  readonly to: bigint;
}

export class CatchUp {
  private readonly position = new Map<number, bigint>();
  private readonly target = new Map<number, bigint>();
  private caughtUpAtMs: number | null = null;
  /** Offsets to read at start, summed over partitions (control records included). */
  readonly total: number;

  constructor(
    ranges: readonly PartitionRange[],
    readonly startedAtMs: number,
  ) {
    for (const r of ranges) {
      if (r.to > r.from) {
        this.target.set(r.partition, r.to);
        this.position.set(r.partition, r.from);
      }
    }
    this.total = ranges.reduce((n, r) => n + Number(r.to > r.from ? r.to - r.from : 0n), 0);
    if (this.target.size === 0) this.caughtUpAtMs = startedAtMs;
  }

  /** The partition has been read up to `nextOffset` (exclusive). */
  advance(partition: number, nextOffset: bigint, nowMs: number): void {
    const t = this.target.get(partition);
    if (t === undefined) return;
    const p = this.position.get(partition)!;
    if (nextOffset > p) this.position.set(partition, nextOffset);
    if (this.caughtUpAtMs === null && this.behind === 0) this.caughtUpAtMs = nowMs;
  }

  /** Offsets still to read before the end seen at start; 0 once caught up. */
  get behind(): number {
    let n = 0;
    for (const [p, t] of this.target) {
      const at = this.position.get(p)!;
      if (at < t) n += Number(t - at);
    }
    return n;
  }

  get caughtUp(): boolean {
    return this.caughtUpAtMs !== null;
  }

  /** How long the catch-up took (null while it runs). */
  get tookMs(): number | null {
    return this.caughtUpAtMs === null ? null : this.caughtUpAtMs - this.startedAtMs;
  }

  /** Why the node is not ready yet, for /readyz. */
  describe(): string {
    const late = [...this.target].filter(([p, t]) => this.position.get(p)! < t).map(([p]) => p);
    return `catching up on transitions: ${this.behind} of ${this.total} records behind the end seen at start ` +
      `(partitions ${late.join(',')})`;
  }
}
