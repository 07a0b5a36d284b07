/**
 * What a serving node reads from Kafka: the compacted `models` topic (every announced version, the newest
 * per key last: the live version, and the challenger served to a share of users, challenger.ts), from the
 * beginning under a group of its own at each start, so nodes scale out without sharing offsets; and the
 * `transitions` topic for users' histories (history-stream.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import { backoffDelay, KeptConsumer, withSession, type AvroSerde, type Logger, type TopicNames } from '../common/index.js';
import {
  announcementFromRecord, challengerKey, getVersion, recordDeployment, WeightsPrunedError, type AnnouncementRole, type ModelAnnouncement,
} from '../registry/index.js';
import type { UserHistories } from './history.js';
import { HistoryStream } from './history-stream.js';
import type { ModelSlot } from './model-slot.js';

/** Backoff between attempts at fetching an announced version's weights from a registry that is away. */
const FETCH_RETRY = { initialMs: 500, maxMs: 5_000 };

export interface ServingStreamsDeps {
  nodeId: string;
  kafka: Kafka;
  serde: AvroSerde;
  pool: pg.Pool;
  topics: TopicNames;
  /** The live version's slot. */
  slot: ModelSlot;
  /** The challenger's slot (announcements with role 'challenger'); without it they are ignored. */
  challenger?: ModelSlot;
  histories: UserHistories;
  /** Histories from transitions written this recently at start (HISTORY_LOOKBACK_HOURS); null: the whole topic. */
  historyLookbackMs?: number | null;
  logger: Logger;
  metrics?: Registry;
}

type From = { topic: string; partition: number; offset: string };

export class ServingStreams {
  private readonly models: KeptConsumer;
  /** Deployments not yet written because Postgres was away; written at the next chance. */
  private pendingDeployments: number[] = [];
  private retryTimer: NodeJS.Timeout | null = null;
  /** Announcements of this node's model seen so far, per role: a weights fetch for an older one is given up. */
  private readonly announced: Record<AnnouncementRole, number> = { live: 0, challenger: 0 };
  /** The next attempt at fetching the newest announcement's weights, per role, while the registry is away. */
  private readonly fetchRetry: Record<AnnouncementRole, NodeJS.Timeout | null> = { live: null, challenger: null };
  private stopped = false;
  private readonly history: HistoryStream;

  constructor(private readonly deps: ServingStreamsDeps) {
    this.history = new HistoryStream({
      kafka: deps.kafka, serde: deps.serde, topic: deps.topics.transitions, histories: deps.histories, logger: deps.logger,
      nodeId: deps.nodeId, lookbackMs: deps.historyLookbackMs ?? null, ...(deps.metrics ? { metrics: deps.metrics } : {}),
    });
    this.models = this.modelsConsumer();
  }

  /** The /readyz check `histories`: fails, saying how far behind, until the start-up read of transitions is done. */
  historiesReady(): Promise<void> {
    return this.history.readiness();
  }

  historiesProgress(): ReturnType<HistoryStream['progress']> {
    return this.history.progress();
  }

  async start(): Promise<void> {
    await this.models.start();
    await this.history.start();
    this.retryTimer = setInterval(() => void this.writeDeployments(), 5_000).unref();
  }

  /**
   * The `models` consumer: a group of its own, from the beginning of the compacted topic (the newest
   * announcement comes last), replaced when kafkajs gives it up (kept-consumer.ts).
   */
  private modelsConsumer(): KeptConsumer {
    const { kafka, topics, nodeId, logger } = this.deps;
    return new KeptConsumer({
      name: 'models',
      logger,
      create: () => kafka.consumer({ groupId: `serving-models-${nodeId}-${randomUUID().slice(0, 8)}`, readUncommitted: false, maxBytes: 64 * 1024 * 1024 }),
      run: async (models) => {
        await models.connect();
        await models.subscribe({ topic: topics.models, fromBeginning: true });
        await models.run({
          eachMessage: async ({ topic, partition, message }) => this.onAnnouncement({ topic, partition, offset: message.offset }, message.key, message.value),
        });
      },
    });
  }

  /** Installs an announced version; a record it cannot use is ignored with a line naming where it came from and why. */
  private async onAnnouncement(from: From, key: Buffer | null, value: Buffer | null): Promise<void> {
    const { slot, logger } = this.deps;
    if (value === null && key?.toString() === challengerKey(slot.modelName)) {
      this.announced.challenger++;
      this.cancelFetchRetry('challenger');
      const previous = this.deps.challenger?.clear() ?? null;
      if (previous !== null) logger.info({ ...from, version: previous }, 'challenger withdrawn; every user gets the live version');
      return;
    }
    let a: ModelAnnouncement;
    try {
      if (!value) throw new Error('record has no value');
      const record = await this.deps.serde.decode<ModelAnnouncement>(value);
      // Decoded with its writer's schema: a record of another schema the registry holds decodes too.
      const missing = notAnAnnouncement(record);
      if (missing !== null) throw new Error(`not a model announcement (written with another schema?): ${missing} missing or of the wrong type`);
      a = announcementFromRecord(record);
    } catch (err) {
      logger.error({ ...from, reason: (err as Error).message }, 'undecodable model announcement ignored; keeping the current version');
      return;
    }
    if (a.model !== slot.modelName || (a.role === 'challenger' && !this.deps.challenger)) return;
    // The newest announcement of a role is the one to serve: one still waiting for its weights is given up.
    this.announced[a.role]++;
    this.cancelFetchRetry(a.role);
    await this.load(a, from, this.announced[a.role], 1);
  }

  /**
   * Installs announcement number `seq`, fetching its weights from the registry when they did not travel inline.
   * While Postgres is away the current version keeps serving and the fetch is tried again (FETCH_RETRY backoff)
   * until it succeeds or a newer announcement supersedes it: the `models` consumer has moved past the record,
   * so nothing else would bring the version in once Postgres is back.
   */
  private async load(a: ModelAnnouncement, from: From, seq: number, attempt: number): Promise<void> {
    const { logger, pool } = this.deps;
    const slot = a.role === 'challenger' ? this.deps.challenger! : this.deps.slot;
    let weights: Uint8Array | null = a.weights;
    if (!weights) {
      let row: Awaited<ReturnType<typeof getVersion>>;
      try {
        row = await withSession(pool, (db) => getVersion(db, a.model, a.version));
      } catch (err) {
        if (seq !== this.announced[a.role] || this.stopped) return;
        if (err instanceof WeightsPrunedError) { // the registry answered: there is nothing to wait for
          logger.error({ ...from, version: a.version, reason: err.message }, 'announcement ignored; keeping the current version');
          return;
        }
        const retryInMs = backoffDelay(attempt, FETCH_RETRY.initialMs, FETCH_RETRY.maxMs);
        // The first failure, then one line per ten attempts.
        if (attempt === 1 || attempt % 10 === 0) {
          logger.error({ ...from, version: a.version, reason: (err as Error).message, attempt, retryInMs }, 'cannot fetch weights from the registry; keeping the current version, retrying');
        }
        this.fetchRetry[a.role] = setTimeout(() => {
          this.fetchRetry[a.role] = null;
          void this.load(a, from, seq, attempt + 1);
        }, retryInMs);
        return;
      }
      if (seq !== this.announced[a.role] || this.stopped) return; // superseded while fetching
      weights = row?.weights ?? null;
      if (!weights) {
        logger.error({ ...from, version: a.version, reason: `version ${a.version} of '${a.model}' is not in the registry` }, 'announcement ignored; keeping the current version');
        return;
      }
      if (attempt > 1) logger.info({ ...from, version: a.version, attempts: attempt }, 'weights fetched from the registry after it came back');
    }
    const outcome = slot.install(a, weights);
    if (outcome.status === 'rejected') {
      logger.error({ ...from, version: a.version, role: a.role, reason: outcome.reason }, 'announced version rejected; keeping the current version');
    } else if (outcome.status === 'installed' && a.role === 'challenger') {
      logger.info({ ...from, version: a.version, share: a.share, previous: outcome.previous }, 'challenger installed');
    } else if (outcome.status === 'installed') {
      // Deployments record what a node serves every user (registry retention keeps those weights).
      logger.info({ ...from, version: a.version, previous: outcome.previous }, 'version installed');
      this.pendingDeployments.push(a.version);
      await this.writeDeployments();
    }
  }

  private cancelFetchRetry(role: AnnouncementRole): void {
    const timer = this.fetchRetry[role];
    if (timer) clearTimeout(timer);
    this.fetchRetry[role] = null;
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
    this.stopped = true;
    this.cancelFetchRetry('live');
    this.cancelFetchRetry('challenger');
    if (this.retryTimer) clearInterval(this.retryTimer);
    await Promise.all([this.models.stop(), this.history.stop()]);
    await this.writeDeployments();
  }
}

/** Null when a decoded record has the fields of an announcement this node reads (schemas/model-announcement.avsc), else the ones that are wrong. */
function notAnAnnouncement(record: unknown): string | null {
  const r = (typeof record === 'object' && record !== null ? record : {}) as Record<string, unknown>;
  const isLong = (v: unknown) => typeof v === 'number' || typeof v === 'bigint';
  const problems = [
    typeof r.model !== 'string' && 'model',
    !isLong(r.version) && 'version',
    typeof r.checksum !== 'string' && 'checksum',
    !(r.weights === null || r.weights instanceof Uint8Array) && 'weights',
  ].filter((p): p is string => p !== false);
  return problems.length === 0 ? null : problems.join(', ');
}
