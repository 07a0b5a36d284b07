/**
 * What a serving node reads from Kafka: the compacted `models` topic (every announced version, the newest
 * per model last), from the beginning under a group of its own at each start, so nodes scale out without
 * sharing offsets; and the `transitions` topic for users' histories (history-stream.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import { withSession, type AvroSerde, type Logger, type TopicNames } from '../common/index.js';
import { announcementFromRecord, getVersion, recordDeployment, type ModelAnnouncement } from '../registry/index.js';
import type { UserHistories } from './history.js';
import { HistoryStream } from './history-stream.js';
import type { InstallOutcome, ModelSlot } from './model-slot.js';

export interface ServingStreamsDeps {
  nodeId: string;
  kafka: Kafka;
  serde: AvroSerde;
  pool: pg.Pool;
  topics: TopicNames;
  slot: ModelSlot;
  histories: UserHistories;
  /** Histories from transitions written this recently at start (HISTORY_LOOKBACK_HOURS); null: the whole topic. */
  historyLookbackMs?: number | null;
  logger: Logger;
  metrics?: Registry;
  onInstall?: (outcome: InstallOutcome) => void;
}

export class ServingStreams {
  private readonly consumers: Consumer[] = [];
  /** Deployments not yet written because Postgres was away; written at the next chance. */
  private pendingDeployments: number[] = [];
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly history: HistoryStream;

  constructor(private readonly deps: ServingStreamsDeps) {
    this.history = new HistoryStream({
      kafka: deps.kafka, serde: deps.serde, topic: deps.topics.transitions, histories: deps.histories, logger: deps.logger,
      nodeId: deps.nodeId, lookbackMs: deps.historyLookbackMs ?? null, ...(deps.metrics ? { metrics: deps.metrics } : {}),
    });
  }

  /** The /readyz check `histories`: fails, saying how far behind, until the start-up read of transitions is done. */
  historiesReady(): Promise<void> {
    return this.history.readiness();
  }

  historiesProgress(): ReturnType<HistoryStream['progress']> {
    return this.history.progress();
  }

  async start(): Promise<void> {
    const { kafka, topics, nodeId } = this.deps;
    const run = randomUUID().slice(0, 8);
    const models = kafka.consumer({ groupId: `serving-models-${nodeId}-${run}`, readUncommitted: false, maxBytes: 64 * 1024 * 1024 });
    this.consumers.push(models);
    await models.connect();
    await models.subscribe({ topic: topics.models, fromBeginning: true });
    await models.run({ eachMessage: async ({ message }) => this.onAnnouncement(message.value) });
    await this.history.start();
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
    await Promise.all([...this.consumers.map((c) => c.disconnect()), this.history.stop()]);
    await this.writeDeployments();
  }
}
