/**
 * A consumer that stays running. kafkajs restarts a consumer after a retriable error, but not after one it
 * deems non-retriable — as when the broker comes back and the group coordinator cannot be found in time
 * (`Failed to find group coordinator`): that consumer is gone for good, and a serving node would never hear
 * of a new version or a new transition again, nor a learner read another transition. Then a new consumer made
 * by `create` and started by `run` takes its place (the callers commit no offsets, so `run` seeks where they
 * read to), retried with backoff until it runs. And a consumer kafkajs does restart rejoins with no committed offsets, so it would read from
 * the beginning again: with `resume`, it is sent back to where the caller had read to.
 */
import type { Consumer } from 'kafkajs';
import type { Logger } from './log.js';
import { backoffDelay } from './retry.js';

export interface KeptConsumerOptions {
  /** Names the consumer in log lines ("models", "users' histories"). */
  name: string;
  logger: Logger;
  /** A new consumer (not connected). */
  create: () => Consumer;
  /** Connects, subscribes and runs it (and seeks where the caller wants it to resume). */
  run: (consumer: Consumer) => Promise<void>;
  /** Where to go on reading after kafkajs restarted the consumer itself (the caller's read positions). */
  resume?: () => { topic: string; partition: number; offset: string }[];
  /** Backoff between attempts at starting a replacement. */
  backoff?: { initialMs: number; maxMs: number };
}

export class KeptConsumer {
  private current: Consumer | null = null;
  private restart: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly backoff: { initialMs: number; maxMs: number };

  constructor(private readonly o: KeptConsumerOptions) {
    this.backoff = o.backoff ?? { initialMs: 1_000, maxMs: 10_000 };
  }

  async start(): Promise<void> {
    const consumer = this.o.create();
    this.current = consumer;
    let restarted = false;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (!restarted || !this.o.resume) return;
      restarted = false;
      const at = this.o.resume();
      for (const p of at) consumer.seek(p);
      this.o.logger.warn({ offsets: at.map((p) => `${p.partition}:${p.offset}`) }, `${this.o.name} consumer restarted by kafkajs; reading on from where it was`);
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart) restarted = true;
      if (payload.restart || this.stopped || this.current !== consumer) return;
      this.o.logger.error({ err: payload.error.message }, `${this.o.name} consumer stopped after an error kafkajs does not retry; starting a new one`);
      this.replace(consumer, 1);
    });
    await this.o.run(consumer);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restart) clearTimeout(this.restart);
    await this.current?.disconnect();
  }

  private replace(old: Consumer, attempt: number): void {
    const waitMs = backoffDelay(attempt, this.backoff.initialMs, this.backoff.maxMs);
    this.restart = setTimeout(() => {
      this.restart = null;
      void (async () => {
        await old.disconnect().catch(() => undefined);
        if (this.stopped) return;
        try {
          await this.start();
          this.o.logger.info({ attempts: attempt }, `${this.o.name} consumer running again`);
        } catch (err) {
          const current = this.current;
          if (this.stopped || !current) return;
          if (attempt === 1 || attempt % 10 === 0) {
            this.o.logger.error({ err: (err as Error).message, attempts: attempt }, `${this.o.name} consumer could not start yet; retrying`);
          }
          this.replace(current, attempt + 1);
        }
      })();
    }, waitMs);
  }
}
