/**
 * Where a serving node's recommendation events wait for Kafka: a bounded spill in front of the producer.
 *
 * `offer` never waits and never throws, so a request is answered at once whether Kafka is there or not.
 * Events leave in arrival order, one batch at a time; a batch Kafka did not acknowledge is sent again after
 * a backoff (100 ms doubling to 5 s) until it is — with the same event ids, so a copy that landed after all
 * is dropped by the sessionizer's de-duplication — and only then is the next one sent. An outage therefore
 * loses no event that fits the bound, and everything held is delivered in order once Kafka is back.
 *
 * The bound: at most `capacity` events are held (the batch being sent included). An event offered while the
 * spill is full is dropped, never delivered, and counted (METRICS.serving.eventsDropped), with a warn line
 * when dropping starts and then one every 10 s carrying the count meanwhile.
 *
 * No Kafka here: `deliver` is injected (main.ts gives the SDK producer's `sendAll`), so this is tested
 * without servers (test/unit/serving-spill) and against a broker that goes away (test/integration/serving-spill).
 */
import type { Registry } from 'prom-client';
import { backoffDelay, METRICS, prom, type Logger, type UserEvent } from '../common/index.js';

export interface EventSpillOptions {
  /** Most events held at once (EVENT_SPILL_EVENTS). */
  capacity: number;
  /** Most events handed to `deliver` at once. Default 500 (the producer's batch). */
  batchSize?: number;
  /** Writes the events, in order; resolves when Kafka acknowledged all of them. */
  deliver: (events: UserEvent[]) => Promise<void>;
  logger: Logger;
  metrics?: Registry;
  /** Backoff between attempts at a batch Kafka refused: `initialMs`, doubling up to `maxMs`. */
  retry?: { initialMs: number; maxMs: number };
  /** Least time between two "dropped" warn lines. Default 10,000 ms. */
  dropLogEveryMs?: number;
}

export class EventSpill {
  private readonly queue: UserEvent[] = [];
  private readonly batchSize: number;
  private readonly retry: { initialMs: number; maxMs: number };
  private readonly dropLogEveryMs: number;
  private sending = false;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Failed attempts in a row (0 while Kafka answers). */
  private failures = 0;
  private droppedTotal = 0;
  private droppedUnlogged = 0;
  private lastDropLog = Number.NEGATIVE_INFINITY;
  private closed = false;
  /** Set once close() gave up waiting: nothing is attempted any more (a late failure schedules no retry). */
  private stopped = false;
  private readonly idleWaiters: Array<() => void> = [];
  private readonly droppedCounter: prom.Counter | undefined;

  constructor(private readonly options: EventSpillOptions) {
    const { capacity } = options;
    this.batchSize = options.batchSize ?? 500;
    this.retry = options.retry ?? { initialMs: 100, maxMs: 5_000 };
    this.dropLogEveryMs = options.dropLogEveryMs ?? 10_000;
    for (const [name, value] of [['capacity', capacity], ['batchSize', this.batchSize]] as const) {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be an integer ≥ 1, got ${value}`);
    }
    if (options.metrics) {
      const registers = [options.metrics];
      const M = METRICS.serving;
      this.droppedCounter = new prom.Counter({
        name: M.eventsDropped.name, help: 'Recommendation events dropped, never delivered, because the spill was full', registers,
      });
      this.droppedCounter.inc(0);
      const spill = this;
      new prom.Gauge({
        name: M.eventsSpilled.name, help: 'Recommendation events held for Kafka (waiting or being sent)', registers,
        collect() {
          this.set(spill.size);
        },
      });
    }
  }

  /** Events held now (waiting or being sent); never more than `capacity`. */
  get size(): number {
    return this.queue.length;
  }

  /** Events dropped since the start because the spill was full. */
  get dropped(): number {
    return this.droppedTotal;
  }

  /** Holds `event` for delivery; false when it was dropped (spill full, or closed). Never waits. */
  offer(event: UserEvent): boolean {
    if (this.closed || this.queue.length >= this.options.capacity) {
      this.drop();
      return false;
    }
    this.queue.push(event);
    this.kick();
    return true;
  }

  /** Resolves when nothing is held (at once if nothing is). */
  drained(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Takes no more events and waits up to `timeoutMs` for those held to be delivered. Resolves with how many
   * were not (logged as lost: the process is going away).
   */
  async close(timeoutMs: number): Promise<number> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.drained(), new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs); })]);
    clearTimeout(timer);
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const left = this.queue.length;
    if (left > 0) this.options.logger.error({ events: left, timeoutMs }, 'recommendation events not delivered before shutdown: lost');
    return left;
  }

  private drop(): void {
    this.droppedTotal++;
    this.droppedUnlogged++;
    this.droppedCounter?.inc();
    const now = Date.now();
    if (now - this.lastDropLog >= this.dropLogEveryMs) {
      this.options.logger.warn(
        { dropped: this.droppedUnlogged, droppedTotal: this.droppedTotal, capacity: this.options.capacity, closed: this.closed },
        'event spill full: recommendation events dropped',
      );
      this.lastDropLog = now;
      this.droppedUnlogged = 0;
    }
  }

  private kick(): void {
    if (this.stopped || this.sending || this.retryTimer !== undefined || this.queue.length === 0) return;
    this.sending = true;
    const batch = this.queue.slice(0, this.batchSize);
    Promise.resolve()
      .then(() => this.options.deliver(batch))
      .then(() => this.delivered(batch.length), (err: unknown) => this.failed(err));
  }

  private delivered(count: number): void {
    this.sending = false;
    this.queue.splice(0, count);
    if (this.failures > 0) {
      this.options.logger.info({ attempts: this.failures + 1, waiting: this.queue.length }, 'recommendation events delivered again');
      this.failures = 0;
    }
    if (this.queue.length === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
    this.kick();
  }

  private failed(err: unknown): void {
    this.sending = false;
    if (this.stopped) return;
    this.failures++;
    const waitMs = backoffDelay(this.failures, this.retry.initialMs, this.retry.maxMs);
    // The first failure of an outage, then one line per ten attempts.
    if (this.failures === 1 || this.failures % 10 === 0) {
      this.options.logger.warn(
        { err: (err as Error)?.message ?? String(err), attempts: this.failures, held: this.queue.length, capacity: this.options.capacity, retryInMs: waitMs },
        'recommendation events not delivered yet (Kafka away?); held in the spill, retrying',
      );
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.kick();
    }, waitMs);
  }
}
