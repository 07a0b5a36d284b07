/**
 * What a serving node reads from Kafka: the compacted `models` topic (every announced version, the newest
 * per model last) and the `events` topic (users' clicks and purchases, for their histories). Each start
 * reads both from the beginning under a group of its own, so nodes scale out without sharing offsets.
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import type pg from 'pg';
import {
  eventFromRecord, withSession, type AvroSerde, type EventRecord, type Logger, type TopicNames,
} from '../common/index.js';
import { announcementFromRecord, getVersion, recordDeployment, type ModelAnnouncement } from '../registry/index.js';
import type { UserHistories } from './history.js';
import type { InstallOutcome, ModelSlot } from './model-slot.js';

export interface ServingStreamsDeps {
  nodeId: string;
  kafka: Kafka;
  serde: AvroSerde;
  pool: pg.Pool;
  topics: TopicNames;
  slot: ModelSlot;
  histories: UserHistories;
  logger: Logger;
  onInstall?: (outcome: InstallOutcome) => void;
}

export class ServingStreams {
  private readonly consumers: Consumer[] = [];
  /** Deployments not yet written because Postgres was away; written at the next chance. */
  private pendingDeployments: number[] = [];
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: ServingStreamsDeps) {}

  async start(): Promise<void> {
    const { kafka, topics, nodeId } = this.deps;
    const run = randomUUID().slice(0, 8);
    const models = kafka.consumer({ groupId: `serving-models-${nodeId}-${run}`, readUncommitted: false, maxBytes: 64 * 1024 * 1024 });
    const events = kafka.consumer({ groupId: `serving-history-${nodeId}-${run}` });
    this.consumers.push(models, events);
    await Promise.all(this.consumers.map((c) => c.connect()));
    await models.subscribe({ topic: topics.models, fromBeginning: true });
    await events.subscribe({ topic: topics.events, fromBeginning: true });
    await models.run({ eachMessage: async ({ message }) => this.onAnnouncement(message.value) });
    await events.run({
      eachBatch: async ({ batch, heartbeat }) => {
        for (const message of batch.messages) {
          try {
            this.deps.histories.apply(eventFromRecord(await this.deps.serde.decode<EventRecord>(message.value!)));
          } catch (err) {
            this.deps.logger.debug({ offset: message.offset, err: (err as Error).message }, 'event skipped for history');
          }
        }
        await heartbeat();
      },
    });
    this.retryTimer = setInterval(() => void this.writeDeployments(), 5_000).unref();
  }

  private async onAnnouncement(value: Buffer | null): Promise<void> {
    const { slot, logger, pool } = this.deps;
    let a: ModelAnnouncement;
    try {
      a = announcementFromRecord(await this.deps.serde.decode<ModelAnnouncement>(value!));
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'undecodable model announcement ignored; keeping the current version');
      return;
    }
    if (a.model !== slot.modelName) return;
    let weights: Uint8Array | null = a.weights;
    if (!weights) {
      const row = await withSession(pool, (db) => getVersion(db, a.model, a.version)).catch((err: Error) => {
        logger.error({ version: a.version, err: err.message }, 'cannot fetch weights from the registry; keeping the current version');
        return null;
      });
      weights = row?.weights ?? null;
      if (!weights) return;
    }
    const outcome = slot.install(a, weights);
    this.deps.onInstall?.(outcome);
    if (outcome.status === 'rejected') {
      logger.error({ version: a.version, reason: outcome.reason }, 'announced version rejected; keeping the current version');
    } else if (outcome.status === 'installed') {
      logger.info({ version: a.version, previous: outcome.previous }, 'version installed');
      this.pendingDeployments.push(a.version);
      await this.writeDeployments();
    }
  }

  private async writeDeployments(): Promise<void> {
    const pending = this.pendingDeployments;
    if (pending.length === 0) return;
    this.pendingDeployments = [];
    try {
      await withSession(this.deps.pool, async (db) => {
        for (const version of pending) await recordDeployment(db, this.deps.nodeId, this.deps.slot.modelName, version);
      });
    } catch (err) {
      this.pendingDeployments = [...pending, ...this.pendingDeployments];
      this.deps.logger.warn({ err: (err as Error).message }, 'deployment not recorded yet (Postgres away?); will retry');
    }
  }

  async stop(): Promise<void> {
    if (this.retryTimer) clearInterval(this.retryTimer);
    await Promise.all(this.consumers.map((c) => c.disconnect()));
    await this.writeDeployments();
  }
}
