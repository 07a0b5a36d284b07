/**
 * Announcements on the compacted `models` topic: what serving nodes load. Key = model name for the version
 * every node serves (role 'live'); model name + '/challenger' for the challenger being measured, which nodes serve to
 * a share of users beside it (a null value withdraws it). A version is announced only after its row is
 * committed in the registry, so the topic never names a version the registry does not hold.
 */
import type { Producer } from 'kafkajs';
import type { AvroSerde, SqlSession, TopicNames } from '../common/index.js';
import { effectiveVersion, getVersion, type VersionWithWeights } from './store.js';

/** Weights travel inline below this size; larger ones are fetched from the registry by reference. */
export const INLINE_WEIGHTS_LIMIT = 8 * 1024 * 1024;

export interface ModelAnnouncement {
  model: string;
  version: number;
  checksum: string;
  sizeBytes: number;
  weights: Buffer | null;
  registryRef: string | null;
  pinned: boolean;
  role: AnnouncementRole;
  /** A challenger's share of users, in (0, 1); 0 for the live version. */
  share: number;
  at: number;
}

export type AnnouncementRole = 'live' | 'challenger';

/** The `models` key of a model's challenger: compaction keeps it beside the live announcement. */
export function challengerKey(model: string): string {
  return `${model}/challenger`;
}

export function registryRef(model: string, version: number): string {
  return `registry:${model}/${version}`;
}

export function announcementOf(
  v: VersionWithWeights, pinned: boolean, now = Date.now(), challenger: { share: number } | null = null,
): ModelAnnouncement {
  const inline = v.weights.byteLength <= INLINE_WEIGHTS_LIMIT;
  return {
    model: v.model,
    version: v.version,
    checksum: v.checksum,
    sizeBytes: v.sizeBytes,
    weights: inline ? Buffer.from(v.weights) : null,
    registryRef: inline ? null : registryRef(v.model, v.version),
    pinned,
    role: challenger ? 'challenger' : 'live',
    share: challenger?.share ?? 0,
    at: now,
  };
}

export async function announce(producer: Producer, serde: AvroSerde, topics: TopicNames, a: ModelAnnouncement): Promise<void> {
  await producer.send({
    topic: topics.models,
    acks: -1,
    messages: [{ key: a.role === 'challenger' ? challengerKey(a.model) : a.model, value: await serde.encode('models', a) }],
  });
}

/** Ends a model's challenger traffic: a tombstone on its challenger key (compaction then drops both). */
export async function withdrawChallenger(producer: Producer, topics: TopicNames, model: string): Promise<void> {
  await producer.send({ topic: topics.models, acks: -1, messages: [{ key: challengerKey(model), value: null }] });
}

/** A decoded record as an announcement; one written before `role` and `share` existed is a live one. */
export function announcementFromRecord(record: ModelAnnouncement): ModelAnnouncement {
  return {
    ...record, version: Number(record.version), sizeBytes: Number(record.sizeBytes), at: Number(record.at),
    role: record.role === 'challenger' ? 'challenger' : 'live', share: Number(record.share ?? 0),
  };
}

/**
 * Announces the version every node should run now (pinned, else live): after a publish, pin, unpin or
 * rollback. Returns what was announced, or null when the model has no such version.
 */
export async function announceEffective(
  db: SqlSession,
  producer: Producer,
  serde: AvroSerde,
  topics: TopicNames,
  model: string,
): Promise<ModelAnnouncement | null> {
  const effective = await effectiveVersion(db, model);
  if (!effective) return null;
  const v = await getVersion(db, model, effective.version);
  if (!v) return null;
  const a = announcementOf(v, effective.pinned);
  await announce(producer, serde, topics, a);
  return a;
}
