/**
 * An in-process partitioned log: the embedded demo's stand-in for Kafka, and nothing more (production
 * runs on Kafka, DESIGN.md §5a). A topic has N partitions; a record goes to the partition of its key's
 * hash, so one user's records keep their order in one partition, as with Kafka. Each consumer group has a
 * cursor per partition; `poll` returns records after the cursor and moves it. Records every group has
 * read are dropped, so memory stays bounded while consumers keep up.
 */
export interface LogRecord<T> {
  readonly partition: number;
  readonly offset: number;
  readonly key: string;
  readonly value: T;
}

interface Partition<T> {
  /** Offset of records[0]. */
  base: number;
  records: { key: string; value: T }[];
}

export class MemoryTopic<T> {
  private readonly parts: Partition<T>[];
  private readonly groups = new Map<string, number[]>();

  constructor(
    readonly name: string,
    readonly partitions: number,
  ) {
    if (!Number.isInteger(partitions) || partitions <= 0) throw new RangeError(`topic ${name}: partitions must be a positive integer`);
    this.parts = Array.from({ length: partitions }, () => ({ base: 0, records: [] }));
  }

  /** The partition of a key: FNV-1a of the key, modulo the partition count. */
  partitionOf(key: string): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    return (h >>> 0) % this.partitions;
  }

  append(key: string, value: T): { partition: number; offset: number } {
    const partition = this.partitionOf(key);
    const p = this.parts[partition]!;
    p.records.push({ key, value });
    return { partition, offset: p.base + p.records.length - 1 };
  }

  /** Next offset to be written in the partition (Kafka's high watermark). */
  end(partition: number): number {
    const p = this.part(partition);
    return p.base + p.records.length;
  }

  /** Registers a consumer group reading from the beginning of what the topic still holds. */
  subscribe(group: string): Consumer<T> {
    if (this.groups.has(group)) throw new Error(`topic ${this.name}: group '${group}' is already subscribed`);
    this.groups.set(group, this.parts.map((p) => p.base));
    return new Consumer(this, group);
  }

  /** At most `max` records of the group after its cursors, partition by partition; moves the cursors past them. */
  poll(group: string, max = Infinity): LogRecord<T>[] {
    const cursors = this.groups.get(group);
    if (!cursors) throw new Error(`topic ${this.name}: group '${group}' is not subscribed`);
    const out: LogRecord<T>[] = [];
    for (let partition = 0; partition < this.partitions && out.length < max; partition++) {
      const p = this.parts[partition]!;
      let offset = cursors[partition]!;
      while (offset < p.base + p.records.length && out.length < max) {
        const r = p.records[offset - p.base]!;
        out.push({ partition, offset, key: r.key, value: r.value });
        offset++;
      }
      cursors[partition] = offset;
    }
    return out;
  }

  /** The group's cursor (next offset to read) per partition. */
  positions(group: string): number[] {
    const cursors = this.groups.get(group);
    if (!cursors) throw new Error(`topic ${this.name}: group '${group}' is not subscribed`);
    return [...cursors];
  }

  /** Records not yet read by the group. */
  lag(group: string): number {
    return this.positions(group).reduce((n, c, partition) => n + this.end(partition) - c, 0);
  }

  /** The subscribed groups, in the order they subscribed. */
  get groupNames(): string[] {
    return [...this.groups.keys()];
  }

  /** Drops records every subscribed group has read; returns how many. */
  trim(): number {
    let dropped = 0;
    this.parts.forEach((p, partition) => {
      let low = p.base + p.records.length;
      for (const cursors of this.groups.values()) low = Math.min(low, cursors[partition]!);
      const n = low - p.base;
      if (n > 0) {
        p.records.splice(0, n);
        p.base = low;
        dropped += n;
      }
    });
    return dropped;
  }

  /** Records held now (not yet trimmed). */
  get size(): number {
    return this.parts.reduce((n, p) => n + p.records.length, 0);
  }

  private part(partition: number): Partition<T> {
    const p = this.parts[partition];
    if (!p) throw new RangeError(`topic ${this.name} has no partition ${partition}`);
    return p;
  }
}

/** One group's view of a topic. */
export class Consumer<T> {
  constructor(
    readonly topic: MemoryTopic<T>,
    readonly group: string,
  ) {}

  poll(max?: number): LogRecord<T>[] {
    return this.topic.poll(this.group, max);
  }

  get lag(): number {
    return this.topic.lag(this.group);
  }

  positions(): number[] {
    return this.topic.positions(this.group);
  }
}
