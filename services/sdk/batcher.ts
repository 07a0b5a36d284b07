/**
 * The producer's bounded buffer: it admits items, groups them into batches for a sink (Kafka, in the
 * SDK), and settles each caller's promise when the sink settled the batch that carried its items.
 *
 * Bounded: at most `capacity` items are held at once, counting both those waiting for a batch and those
 * in a batch the sink has not settled yet. Room is given back only when the sink settles, so a sink that
 * hangs (Kafka away) fills the buffer and stops admission instead of growing memory.
 *
 * When full, `onFull` decides:
 *  - 'reject': `add` fails at once with BUFFER_FULL (retriable);
 *  - 'block':  `add` waits, in arrival order, until its items fit, for at most `blockTimeoutMs`, then fails
 *    with BUFFER_FULL (retriable). Nothing is ever dropped silently: every item is either settled by the
 *    sink or its caller gets an error.
 *
 * A group of items given to one `add` call is admitted all at once or not at all, and its promise
 * resolves when every item was written (it rejects if any part failed).
 *
 * No Kafka or other I/O here: the sink is injected, so this is tested without servers.
 */
import { DeepChainError } from '../common/index.js';

export type OnFull = 'reject' | 'block';

export interface BatcherOptions<T> {
  /** Most items held at once (waiting or in flight). */
  capacity: number;
  /** A batch is sent as soon as this many items wait; also the most items in one sink call. */
  batchSize: number;
  /** Longest an item waits for companions before a smaller batch is sent (0: next tick). */
  lingerMs: number;
  /** Sink calls running at once. 1 keeps order across batches. */
  maxInFlight: number;
  onFull: OnFull;
  blockTimeoutMs: number;
  sink: (items: T[]) => Promise<void>;
}

interface Group {
  remaining: number;
  error: unknown;
  resolve(): void;
  reject(err: unknown): void;
}

interface Entry<T> {
  item: T;
  group: Group;
  seq: number;
}

interface Waiter<T> {
  items: readonly T[];
  timer: NodeJS.Timeout | undefined;
  resolve(): void;
  reject(err: unknown): void;
}

export class Batcher<T> {
  private readonly queue: Entry<T>[] = [];
  private readonly waiters: Waiter<T>[] = [];
  private readonly idleWaiters: Array<() => void> = [];
  private readonly flushWaiters: Array<{ seq: number; resolve(): void }> = [];
  private used = 0;
  private inFlight = 0;
  private seq = 0;
  /** Entries with seq ≤ this are sent without lingering (flush). */
  private urgentUpTo = 0;
  private lingerTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Sequence numbers of entries not yet settled, oldest first (settlement can be out of order). */
  private readonly unsettled = new Set<number>();

  constructor(private readonly options: BatcherOptions<T>) {
    const { capacity, batchSize, maxInFlight, lingerMs, blockTimeoutMs } = options;
    for (const [name, value, min] of [
      ['capacity', capacity, 1], ['batchSize', batchSize, 1], ['maxInFlight', maxInFlight, 1],
      ['lingerMs', lingerMs, 0], ['blockTimeoutMs', blockTimeoutMs, 0],
    ] as const) {
      if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} must be an integer ≥ ${min}, got ${value}`);
    }
  }

  /** Items held now (waiting or in flight); never more than `capacity`. */
  get size(): number {
    return this.used;
  }

  /** Calls blocked waiting for room. */
  get blocked(): number {
    return this.waiters.length;
  }

  add(items: readonly T[]): Promise<void> {
    if (this.closed) return Promise.reject(new DeepChainError('PRODUCER_CLOSED', 'close() was called; nothing more is accepted'));
    if (items.length === 0) return Promise.resolve();
    const { capacity, onFull, blockTimeoutMs } = this.options;
    if (items.length > capacity) {
      return Promise.reject(new RangeError(`${items.length} items can never fit a buffer of ${capacity}; split them`));
    }
    if (this.waiters.length === 0 && this.used + items.length <= capacity) return this.admit(items);
    if (onFull === 'reject') {
      return Promise.reject(new DeepChainError('BUFFER_FULL', `${this.used} of ${capacity} events waiting or in flight; retry later`));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter<T> = { items, timer: undefined, resolve, reject };
      waiter.timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new DeepChainError('BUFFER_FULL', `no room for ${items.length} events within ${blockTimeoutMs} ms (${this.used} of ${capacity} held); retry later`));
        this.admitWaiters(); // a smaller waiter behind this one may fit now
        this.checkIdle();
      }, blockTimeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Sends what waits now without lingering; resolves when everything added before the call is settled. */
  flush(): Promise<void> {
    const upTo = this.seq;
    this.urgentUpTo = upTo;
    this.pump();
    if (this.oldestUnsettled() > upTo) return Promise.resolve();
    return new Promise((resolve) => this.flushWaiters.push({ seq: upTo, resolve }));
  }

  /**
   * Refuses new items (PRODUCER_CLOSED), sends everything held without lingering, lets calls already
   * blocked for room in as room frees, and resolves when nothing is held or blocked.
   */
  close(): Promise<void> {
    this.closed = true;
    this.pump();
    if (this.used === 0 && this.waiters.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private admit(items: readonly T[]): Promise<void> {
    this.used += items.length;
    return new Promise<void>((resolve, reject) => {
      const group: Group = { remaining: items.length, error: undefined, resolve, reject };
      for (const item of items) {
        const seq = ++this.seq;
        this.unsettled.add(seq);
        this.queue.push({ item, group, seq });
      }
      this.pump();
    });
  }

  private admitWaiters(): void {
    while (this.waiters.length > 0) {
      const head = this.waiters[0]!;
      if (this.used + head.items.length > this.options.capacity) return;
      this.waiters.shift();
      clearTimeout(head.timer);
      this.admit(head.items).then(head.resolve, head.reject);
    }
  }

  private pump(): void {
    const { batchSize, lingerMs, maxInFlight } = this.options;
    while (this.queue.length > 0 && this.inFlight < maxInFlight) {
      const urgent = this.closed || this.queue.length >= batchSize || this.queue[0]!.seq <= this.urgentUpTo;
      if (!urgent) break;
      this.dispatch();
    }
    if (this.queue.length > 0 && this.inFlight < maxInFlight && this.lingerTimer === undefined) {
      this.lingerTimer = setTimeout(() => {
        this.lingerTimer = undefined;
        if (this.queue.length > 0 && this.inFlight < maxInFlight) this.dispatch();
        this.pump();
      }, lingerMs);
    }
  }

  private dispatch(): void {
    if (this.lingerTimer !== undefined && this.queue.length <= this.options.batchSize) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
    }
    const batch = this.queue.splice(0, this.options.batchSize);
    this.inFlight++;
    let sent: Promise<void>;
    try {
      sent = this.options.sink(batch.map((e) => e.item));
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.then(
      () => this.settle(batch, undefined),
      (err: unknown) => this.settle(batch, err ?? new Error('sink failed')),
    );
  }

  private settle(batch: Entry<T>[], error: unknown): void {
    this.inFlight--;
    this.used -= batch.length;
    for (const { group, seq } of batch) {
      this.unsettled.delete(seq);
      if (error !== undefined && group.error === undefined) group.error = error;
      if (--group.remaining === 0) {
        if (group.error === undefined) group.resolve();
        else group.reject(group.error);
      }
    }
    const oldest = this.oldestUnsettled();
    for (let i = this.flushWaiters.length - 1; i >= 0; i--) {
      if (this.flushWaiters[i]!.seq < oldest) this.flushWaiters.splice(i, 1)[0]!.resolve();
    }
    this.admitWaiters();
    // Items that waited while the sink was busy have lingered long enough: send them now.
    if (this.queue.length > 0) this.urgentUpTo = Math.max(this.urgentUpTo, this.queue[this.queue.length - 1]!.seq);
    this.pump();
    this.checkIdle();
  }

  private oldestUnsettled(): number {
    for (const seq of this.unsettled) return seq; // a Set iterates in insertion order: the first is the oldest
    return Infinity;
  }

  private checkIdle(): void {
    if (this.used === 0 && this.waiters.length === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }
}
