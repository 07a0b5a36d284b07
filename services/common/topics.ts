/**
 * The product's Kafka topics, declared once (DESIGN.md §3). A prefix (TOPIC_PREFIX) lets tests and
 * parallel deployments share a broker without sharing data.
 */
import type { Admin, ITopicConfig } from 'kafkajs';
import { SINGLE_NODE_REPLICATION, type TopicReplication } from './infra-config.js';

export const TOPIC_KEYS = ['events', 'transitions', 'models', 'deadLetters', 'sessionizerState'] as const;
export type TopicKey = (typeof TOPIC_KEYS)[number];
export type TopicNames = Readonly<Record<TopicKey, string>>;

const DAY_MS = 24 * 60 * 60 * 1000;

interface TopicDeclaration {
  name: string;
  /** Partitions scale consumers; events, transitions and the sessionizer changelog must match (same keys). */
  partitions: number;
  config: Record<string, string>;
}

/** Events, transitions and the sessionizer's changelog share a partition count: state moves with its partition. */
export const DATA_PARTITIONS = 8;

const DECLARATIONS: Readonly<Record<TopicKey, TopicDeclaration>> = {
  events: { name: 'events', partitions: DATA_PARTITIONS, config: { 'retention.ms': String(7 * DAY_MS) } },
  transitions: { name: 'transitions', partitions: DATA_PARTITIONS, config: { 'retention.ms': String(7 * DAY_MS) } },
  // Compacted: the newest announcement per model name is what a starting serving node reads.
  models: {
    name: 'models',
    partitions: 1,
    config: { 'cleanup.policy': 'compact', 'max.message.bytes': String(16 * 1024 * 1024) },
  },
  deadLetters: { name: 'dead-letters', partitions: 1, config: { 'retention.ms': String(30 * DAY_MS) } },
  // Compacted; the broker only compacts closed segments, so they close after 10 minutes or 64 MiB: a restore
  // then reads about the users the sessionizer retains, not every state it ever wrote.
  sessionizerState: {
    name: 'sessionizer-state-changelog',
    partitions: DATA_PARTITIONS,
    config: {
      'cleanup.policy': 'compact', 'min.compaction.lag.ms': '0', 'segment.ms': String(10 * 60 * 1000), 'segment.bytes': String(64 * 1024 * 1024),
    },
  },
};

export function topicNames(prefix = ''): TopicNames {
  return Object.freeze(
    Object.fromEntries(TOPIC_KEYS.map((k) => [k, prefix + DECLARATIONS[k].name])) as Record<TopicKey, string>,
  );
}

/** Every topic with its partitions and settings; replication comes from configuration (TOPIC_ENV). */
export function topicDeclarations(prefix = '', replication: TopicReplication = SINGLE_NODE_REPLICATION): ITopicConfig[] {
  return TOPIC_KEYS.map((k) => {
    const d = DECLARATIONS[k];
    const config = { ...d.config, 'min.insync.replicas': String(replication.minInsyncReplicas) };
    return {
      topic: prefix + d.name,
      numPartitions: d.partitions,
      replicationFactor: replication.replicationFactor,
      configEntries: Object.entries(config).map(([name, value]) => ({ name, value })),
    };
  });
}

/**
 * Creates the topics that are missing. Existing topics are left as they are; a partition count that
 * differs from the declaration is reported, since keyed state would no longer line up.
 */
export async function provisionTopics(
  admin: Admin,
  prefix = '',
  replication: TopicReplication = SINGLE_NODE_REPLICATION,
): Promise<{ created: string[]; existing: string[] }> {
  const wanted = topicDeclarations(prefix, replication);
  const present = new Set(await admin.listTopics());
  const missing = wanted.filter((t) => !present.has(t.topic));
  if (missing.length > 0) {
    try {
      await admin.createTopics({ topics: missing, waitForLeaders: true });
    } catch (err) {
      // kafkajs waits for leaders through metadata requests and retries only LEADER_NOT_AVAILABLE; a topic the
      // controller created a moment ago can still be UNKNOWN_TOPIC_OR_PARTITION there, which topicMetadata waits out.
      if (!isUnknownTopic(err)) throw err;
    }
    await topicMetadata(admin, missing.map((t) => t.topic));
  }
  const existing = wanted.filter((t) => present.has(t.topic));
  if (existing.length > 0) {
    const meta = await topicMetadata(admin, existing.map((t) => t.topic));
    for (const t of meta.topics) {
      const declared = wanted.find((w) => w.topic === t.name)!;
      if (t.partitions.length !== declared.numPartitions) {
        throw new Error(
          `topic '${t.name}' has ${t.partitions.length} partitions, the declaration says ${declared.numPartitions}: ` +
            'recreate it or change the declaration in services/common/topics.ts',
        );
      }
    }
  }
  return { created: missing.map((t) => t.topic), existing: existing.map((t) => t.topic) };
}

/**
 * Topic metadata, waiting out UNKNOWN_TOPIC_OR_PARTITION: with KRaft a topic the controller has just
 * created (or listed) can be missing from the broker's metadata cache for a moment.
 */
async function topicMetadata(admin: Admin, topics: string[], timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 50; ; delay = Math.min(delay * 2, 1_000)) {
    try {
      return await admin.fetchTopicMetadata({ topics });
    } catch (err) {
      if (!isUnknownTopic(err) || Date.now() + delay > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

function isUnknownTopic(err: unknown): boolean {
  return (err as { type?: string }).type === 'UNKNOWN_TOPIC_OR_PARTITION';
}
