/**
 * The demo against real servers (`--kafka BROKERS --database-url URL`): the product's own processes —
 * sessionizer, learner (with its publisher) and a serving node — are started as an operator would start
 * them (`node --import tsx services/<name>/main.ts`, configured by environment variables), on topics of
 * their own (TOPIC_PREFIX); the simulated users reach the serving node over HTTP and send their events to
 * Kafka through the producer SDK. Progress and the final numbers come from the registry (Postgres) and
 * the services' /metrics. The processes are stopped at the end, and topics this run made up are deleted.
 */
import { randomUUID } from 'node:crypto';
import {
  createKafka, createLogger, createPool, DATA_PARTITIONS, freePort, METRICS, migratePool, provisionTopics, scrubSecrets, startServiceProcess,
  topicNames, withSession, type ServiceProcess,
} from '../common/index.js';
import { listVersions } from '../registry/index.js';
import { createEventProducer } from '../sdk/index.js';
import { httpRecommendClient, Population, World, type SessionRecord } from '../simulator/index.js';
import { DEMO_GATE, type DemoSettings } from './options.js';
import type { ProgressWriter } from './progress.js';
import type { DemoRun } from './report.js';

const MODEL = 'deepchain';
const RECENT = 200;

interface Service extends ServiceProcess {
  name: string;
  port: number;
}

function startService(name: string, port: number, env: Record<string, string>): Service {
  const proc = startServiceProcess(name, { LOG_LEVEL: 'warn', HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port), ...env });
  return Object.assign(proc, { name, port });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function get(port: number, path: string): Promise<{ status: number; text: string } | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3_000) });
    return { status: res.status, text: await res.text() };
  } catch {
    return null;
  }
}

async function waitReady(s: Service, path: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (s.child.exitCode !== null) throw new Error(`${s.name} exited with ${s.child.exitCode}:\n${s.output().slice(-3000)}`);
    if ((await get(s.port, path))?.status === 200) return;
    await sleep(300);
  }
  throw new Error(`${s.name} not ready after ${timeoutMs} ms:\n${s.output().slice(-3000)}`);
}

/** Sums of a Prometheus text exposition's samples by metric name (and label set, when `by` names a label). */
export function metricSums(text: string, name: string, by?: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const label = by ? (new RegExp(`${by}="([^"]*)"`).exec(m[3] ?? '')?.[1] ?? '') : '';
    out[label] = (out[label] ?? 0) + Number(m[4]);
  }
  return out;
}

export async function runOnServers(s: DemoSettings, progress: ProgressWriter): Promise<DemoRun> {
  const runId = randomUUID().slice(0, 8);
  const prefix = s.topicPrefix ?? `demo-${runId}.`;
  const brokers = s.kafka!;
  const logger = createLogger('demo', 'warn');
  const kafka = createKafka({ brokers, clientId: `demo-${runId}`, logger });
  const admin = kafka.admin();
  await admin.connect();
  await provisionTopics(admin, prefix);
  const pool = createPool(s.databaseUrl!, 2);
  await migratePool(pool);

  // HISTORY_LENGTH is one setting of the three services (common/infra-config.ts HISTORY_ENV).
  const common = {
    KAFKA_BROKERS: brokers.join(','), SCHEMA_REGISTRY_URL: s.schemaRegistryUrl, DATABASE_URL: s.databaseUrl!, TOPIC_PREFIX: prefix,
    HISTORY_LENGTH: String(s.model.historyLength),
  };
  const [pS, pL, pV] = [await freePort(), await freePort(), await freePort()];
  const services: Service[] = [
    startService('sessionizer', pS, {
      ...common, SESSIONIZER_INSTANCE_ID: `demo-${runId}`,
      SESSIONIZER_TICK_MS: '250', SESSIONIZER_SESSION_TIMEOUT_MS: '60000', SESSIONIZER_WAIT_WINDOW_MS: '60000',
    }),
    startService('learner', pL, {
      ...common, MODEL_NAME: MODEL, BACKEND: 'wasm', EMBEDDING_SIZE: String(s.model.embeddingSize), HIDDEN_SIZE: String(s.model.hiddenSize),
      BATCH_SIZE: String(s.model.batchSize), TRAIN_START: '200', PUBLISH_EVERY_STEPS: '200', PUBLISH_EVERY_S: '10',
      CHECKPOINT_EVERY_S: '30', HOLDOUT_EVERY: '20', SEED: String(s.seed),
      GATE_MIN_PAGES: String(DEMO_GATE.minPages), GATE_MIN_ESS: String(DEMO_GATE.minEffectiveSampleSize),
    }),
    startService('serving', pV, {
      ...common, MODEL_NAME: MODEL, SERVING_NODE_ID: `demo-${runId}`, RECALL_SIZE: String(s.recallSize),
      EXPLORATION_EPSILON: String(s.epsilon),
    }),
  ];
  const [sessionizer, learner, serving] = services as [Service, Service, Service];
  const events = createEventProducer({ kafka, schemaRegistryUrl: s.schemaRegistryUrl, topicPrefix: prefix, logger });
  try {
    progress.note(`kafka: topics ${prefix}*, registry ${scrubSecrets(s.schemaRegistryUrl)}; starting sessionizer, learner and serving…`);
    await Promise.all([waitReady(sessionizer, '/readyz', 180_000), waitReady(learner, '/healthz', 180_000), waitReady(serving, '/healthz', 180_000)]);
    await events.connect();
    progress.note(`services ready (sessionizer :${pS}, learner :${pL}, serving :${pV}); simulated users start`);

    const world = new World(s.world);
    const population = new Population(world, httpRecommendClient(`http://127.0.0.1:${pV}`), events, {
      concurrency: s.concurrency, k: s.k, walk: s.walk, thinkMs: Math.max(2, s.thinkMs), runId, seed: s.seed,
    });
    const sessions: SessionRecord[] = [];
    const startedAt = Date.now();
    const deadline = startedAt + s.minutes * 60_000;
    const state = { versions: 0, rejected: 0, serving: null as number | null, steps: null as number | null, transitions: null as number | null, losses: null as { critic: number; actor: number; probability: number } | null };
    const poll = async () => {
      const vs = await withSession(pool, (db) => listVersions(db, MODEL, 10_000)).catch(() => null);
      if (vs) {
        state.versions = vs.filter((v) => v.status !== 'rejected').length;
        state.rejected = vs.length - state.versions;
      }
      const v = await get(pV, '/v1/version');
      state.serving = v?.status === 200 ? (JSON.parse(v.text) as { version: number }).version : null;
      const m = await get(pL, '/metrics');
      if (m?.status === 200) {
        state.steps = metricSums(m.text, METRICS.learner.steps.name)['']!;
        const t = metricSums(m.text, METRICS.learner.transitions.name, 'outcome');
        state.transitions = (t.accepted ?? 0) + (t.held_out ?? 0);
        const l = metricSums(m.text, METRICS.learner.loss.name, 'network');
        state.losses = l.critic === undefined ? null : { critic: l.critic, actor: l.actor ?? NaN, probability: l.probability ?? NaN };
      }
    };
    const show = (force = false) => {
      const recent = sessions.slice(-RECENT);
      progress.update({
        elapsedMs: Date.now() - startedAt, sessions: sessions.length,
        recentReward: recent.length ? recent.reduce((a, r) => a + r.reward, 0) / recent.length : null,
        recentWindow: recent.length, versionsLive: state.versions, versionsRejected: state.rejected,
        servingVersion: state.serving, steps: state.steps, losses: state.losses, transitions: state.transitions,
      }, force);
    };
    let polling = false;
    const ticker = setInterval(() => {
      show();
      if (polling) return;
      polling = true;
      void poll().finally(() => { polling = false; });
    }, 1000);
    try {
      await population.run(() => Date.now() >= deadline, (r) => sessions.push(r));
      await events.flush();
      // Let the pipeline catch up: transitions reach the learner and at least one version is published.
      const until = Date.now() + 120_000;
      while (Date.now() < until) {
        await poll();
        if (state.versions + state.rejected > 0 && (state.transitions ?? 0) > 0) break;
        for (const svc of services) if (svc.child.exitCode !== null) throw new Error(`${svc.name} exited:\n${svc.output().slice(-3000)}`);
        await sleep(1000);
      }
    } finally {
      clearInterval(ticker);
    }
    await poll();
    show(true);
    progress.done();
    const versions = await withSession(pool, (db) => listVersions(db, MODEL, 10_000));
    const deadLetters = (await admin.fetchTopicOffsets(topicNames(prefix).deadLetters)).reduce((n, p) => n + Number(p.high), 0);
    return {
      mode: 'kafka',
      startedAt,
      endedAt: Date.now(),
      sessions,
      versions: versions.reverse().map((v) => ({ version: v.version, at: v.createdAt.getTime(), live: v.status !== 'rejected', reason: v.decision?.reasons[0] ?? null })),
      transitions: Math.max(state.transitions ?? 0, ...versions.map((v) => v.transitionsSeen)),
      steps: state.steps,
      checks: {
        dead_letters: deadLetters,
        fallback_pages: sessions.reduce((n, r) => n + r.fallbackPages, 0),
        recommend_errors: sessions.reduce((n, r) => n + r.errors, 0),
        partitions: DATA_PARTITIONS,
      },
    };
  } finally {
    await events.close().catch(() => undefined);
    await Promise.all(services.map((svc) => svc.stop()));
    if (s.topicPrefix === null) await admin.deleteTopics({ topics: Object.values(topicNames(prefix)) }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await pool.end().catch(() => undefined);
  }
}
