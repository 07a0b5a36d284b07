/**
 * `npm run bench -- freshness [--samples 20] [--backend wasm]`
 *
 * The time from a click entering Kafka to a serving node answering with a version that trained on it,
 * through the real pipeline: SDK → `events` → sessionizer → `transitions` → learner (paper sizes) →
 * registry → `models` → serving node. Each sample clicks an item no version has seen; a version "trained
 * on it" once the node knows the item (the learner added its transition to the replay buffer, and the
 * publisher only publishes after at least one more training step). The node is polled every 50 ms.
 */
import { randomUUID } from 'node:crypto';
import {
  createKafka, createLogger, KAFKA_ENV, loadConfig, migratePool, provisionTopics, topicNames,
} from '../../services/common/index.js';
import { click, createEventProducer, leave, recommendation, type EventProducer } from '../../services/sdk/index.js';
import { createTestDatabase } from '../support/database.js';
import { eventually, freePort, startService } from '../support/processes.js';
import { quantile } from '../support/quantile.js';

function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

/** One session: a recommendation of `items` on the entrance page, a click on `clicked`, a leave. */
async function session(events: EventProducer, userId: string, items: string[], clicked: string): Promise<void> {
  const sessionId = randomUUID();
  const requestId = randomUUID();
  const base = { userId, sessionId, scenario: 'entrance' as const };
  await events.sendAll([
    recommendation({ ...base, requestId, items, propensities: items.map(() => 1), model: 'deepchain', modelVersion: 0 }),
    click({ ...base, requestId, itemId: clicked, position: items.indexOf(clicked) }),
    leave({ ...base, scenario: 'detail' }),
  ]);
}

export default async function freshnessBench(args: string[]): Promise<object> {
  const samples = Number(arg(args, 'samples', '20'));
  const backend = arg(args, 'backend', 'auto');
  const infra = loadConfig(KAFKA_ENV);
  const prefix = `bench-freshness-${Date.now()}.`;
  const logger = createLogger('bench', 'warn');
  const kafka = createKafka({ brokers: infra.KAFKA_BROKERS, clientId: 'bench-freshness', logger });
  const admin = kafka.admin();
  await admin.connect();
  await provisionTopics(admin, prefix);
  const db = await createTestDatabase();
  await migratePool(db.pool);
  const port = await freePort();
  const common = { TOPIC_PREFIX: prefix, DATABASE_URL: db.url, LOG_LEVEL: 'warn' };
  const procs = [
    startService('sessionizer', { ...common, HTTP_PORT: String(await freePort()), SESSIONIZER_INSTANCE_ID: `bench-${prefix}` }),
    startService('learner', { ...common, HTTP_PORT: String(await freePort()), BACKEND: backend, TRAIN_START: '64', PUBLISH_EVERY_S: '1', PUBLISH_EVERY_STEPS: '1000000', CHECKPOINT_EVERY_S: '30', RELEASE_GATE: 'none' }),
    startService('serving', { ...common, HTTP_PORT: String(port), SERVING_NODE_ID: 'bench-node' }),
  ];
  const events = createEventProducer({ kafka, schemaRegistryUrl: infra.SCHEMA_REGISTRY_URL, topicPrefix: prefix, lingerMs: 1, logger });
  await events.connect();
  const catalogue = Array.from({ length: 200 }, (_, i) => `warm-${i}`);
  try {
    // Warm-up traffic, so the learner trains and the node serves before the first sample.
    for (let s = 0; s < 300; s++) {
      const items = Array.from({ length: 5 }, () => catalogue[Math.floor(Math.random() * catalogue.length)]!);
      await session(events, `user-${s % 50}`, items, items[Math.floor(Math.random() * 5)]!);
    }
    const knows = async (item: string): Promise<boolean> => {
      const res = await fetch(`http://127.0.0.1:${port}/v1/recommend`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ userId: 'probe', sessionId: 'probe', scenario: 'entrance', k: 1, candidates: [item] }),
      });
      if (res.status !== 200) return false;
      const body = (await res.json()) as { unknownCandidates?: number };
      return body.unknownCandidates === undefined;
    };
    await eventually(async () => ((await knows(catalogue[0]!)) ? true : undefined), 180_000,
      `the serving node to answer with a trained version\n${procs.map((p) => p.output().slice(-1500)).join('\n---\n')}`);

    const seconds: number[] = [];
    for (let i = 0; i < samples; i++) {
      const fresh = `fresh-${i}-${randomUUID().slice(0, 6)}`;
      const items = [fresh, ...Array.from({ length: 4 }, () => catalogue[Math.floor(Math.random() * catalogue.length)]!)];
      const t0 = performance.now();
      await session(events, `user-${i % 50}`, items, fresh);
      const entered = performance.now();
      for (;;) {
        if (await knows(fresh)) break;
        if (performance.now() - entered > 120_000) throw new Error(`item ${fresh} never reached the serving node`);
        await new Promise((r) => setTimeout(r, 50));
      }
      seconds.push((performance.now() - entered) / 1000);
      process.stderr.write(`sample ${i + 1}/${samples}: ${seconds.at(-1)!.toFixed(2)} s (send ${(entered - t0).toFixed(0)} ms)\n`);
    }
    const sorted = [...seconds].sort((a, b) => a - b);
    const q = (p: number) => Number(quantile(sorted, p).toFixed(2));
    return { bench: 'freshness', p50_s: q(0.5), p99_s: q(0.99), samples, backend };
  } finally {
    await events.close();
    await Promise.all(procs.map((p) => p.stop()));
    await admin.deleteTopics({ topics: Object.values(topicNames(prefix)) }).catch(() => undefined);
    await admin.disconnect();
    await db.drop();
  }
}
