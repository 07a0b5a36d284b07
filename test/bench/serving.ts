/**
 * `npm run bench -- serving [--rps 500] [--seconds 10] [--warmup 8] [--candidates 500] [--items 5000]
 *                            [--recall] [--state-change 0.2]`
 *
 * One serving node (the real routes, model slot and SDK producer on the real broker) with the paper's
 * sizes (E = 20, H = 64, N = 50; untrained weights cost the same to run), 1000 users with full 50-item
 * histories, and requests of 500 candidates each. The load comes from a worker thread (which the kernel
 * may schedule on the node's core) as an open loop at a fixed rate; each latency counts from the request's
 * scheduled start, so a stall shows up.
 * Meanwhile clicks join users' histories as the events stream would deliver them, `state-change` clicks
 * per request on random users; a request whose user's state changed since the user's last request misses
 * the proto-action cache and runs the actor (the reported hit ratio says how often that happened). The
 * first `warmup` seconds (JIT compilation, lazy caches, the first produce) are sent but not recorded.
 *
 * Two more figures say how much of the latency is the node's own: `server_p50_ms`/`server_p99_ms` time each
 * request inside the node (fastify's onRequest to onResponse), and `floor_p50_ms`/`floor_p99_ms` come from
 * the same load, bodies and client, in the same run, against a bare node:http server that reads each body
 * and answers a constant: what this machine and client cost before any serving work is done.
 * `host_steal_ms` (and `floor_host_steal_ms`) is the CPU time the hypervisor took from this VM during the
 * measured seconds: on a shared host, a run with seconds of it measures the host more than the node.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Worker } from 'node:worker_threads';
import {
  AvroSerde, createKafka, createLogger, createMetricsRegistry, createOpsServer, createSchemaRegistry, KAFKA_ENV, loadConfig,
  provisionTopics, topicNames,
} from '../../services/common/index.js';
import { createDeepChain, selectBackend } from '../../services/model/index.js';
import { sha256Hex } from '../../services/registry/index.js';
import { createEventProducer } from '../../services/sdk/index.js';
import { addServingRoutes } from '../../services/serving/app.js';
import { loadServingConfig } from '../../services/serving/config.js';
import { UserHistories } from '../../services/serving/history.js';
import { ModelSlot } from '../../services/serving/model-slot.js';
import { NO_EXPLORATION } from '../../services/serving/ranking.js';
import { quantile } from '../support/quantile.js';

function arg(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}

const LOAD = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { port, rps, seconds, warmup, bodies } = workerData;
// node:http with kept-alive connections: the lightest client, so the latency is the server's.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const latencies = [];
let errors = 0;
const interval = 1000 / rps;
// The first \`warmup\` seconds compile the hot paths and fill caches; they are sent but not recorded.
const skipped = Math.round(rps * warmup);
const total = skipped + Math.round(rps * seconds);
const start = performance.now() + 50;
const measuredFrom = start + skipped * interval;
let done = 0;
// A request counts from its due time when the client sent it late (a stall anywhere shows up), and from
// when it was sent when the millisecond timer fired early (no negative or shortened latencies).
function finish(due, sent, ok) {
  if (due >= measuredFrom) {
    if (!ok) errors++;
    latencies.push(performance.now() - Math.min(due, sent));
  }
  if (++done === total) parentPort.postMessage({ latencies, errors, wall: performance.now() - measuredFrom });
}
for (let i = 0; i < total; i++) {
  const due = start + i * interval;
  setTimeout(() => {
    const sent = performance.now();
    const body = bodies[i % bodies.length];
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/recommend', method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => finish(due, sent, res.statusCode === 200));
    });
    req.on('error', () => finish(due, sent, false));
    req.end(body);
  }, Math.max(0, due - performance.now()));
}
`;

export default async function servingBench(args: string[]): Promise<object> {
  const rps = Number(arg(args, 'rps', '500'));
  const seconds = Number(arg(args, 'seconds', '10'));
  const candidates = Number(arg(args, 'candidates', '500'));
  const items = Number(arg(args, 'items', '5000'));
  const recall = args.includes('--recall');
  const stateChange = Number(arg(args, 'state-change', '0.2'));
  const warmup = Number(arg(args, 'warmup', '8'));
  const N = 50;

  await selectBackend({ prefer: 'cpu' });
  const model = createDeepChain({ scenarios: ['entrance', 'detail', 'cart', 'order'] });
  const ids = Array.from({ length: items }, (_, i) => `item-${i}`);
  for (const id of ids) model.vocabulary.add(id);
  const vectors = new Float32Array((items + 1) * model.config.embeddingSize).map(() => Math.random() - 0.5);
  model.setItemEmbeddings(vectors);
  const weights = model.serialize({ only: 'actors' });
  model.dispose();
  const slot = new ModelSlot('deepchain');
  const installed = slot.install({ model: 'deepchain', version: 1, checksum: sha256Hex(weights), sizeBytes: weights.length, weights: Buffer.from(weights), registryRef: null, pinned: false, role: 'live', share: 0, at: 0 }, weights);
  if (installed.status !== 'installed') throw new Error(`bench model not installed: ${JSON.stringify(installed)}`);

  const histories = new UserHistories(N, 100_000);
  const users = 1000;
  for (let u = 0; u < users; u++) histories.observe({ userId: `u${u}`, nextState: Array.from({ length: N }, () => ids[Math.floor(Math.random() * items)]!) });

  const infra = loadConfig(KAFKA_ENV);
  const prefix = `bench-serving-${Date.now()}.`;
  const logger = createLogger('bench', 'warn');
  const kafka = createKafka({ brokers: infra.KAFKA_BROKERS, clientId: 'bench-serving', logger });
  const admin = kafka.admin();
  await admin.connect();
  await provisionTopics(admin, prefix);
  // The serving node's own settings (services/serving/config.ts), such as how long events wait for a batch.
  const serving = loadServingConfig();
  const events = createEventProducer({ kafka, schemaRegistryUrl: infra.SCHEMA_REGISTRY_URL, topicPrefix: prefix, onFull: 'reject', lingerMs: serving.EVENT_LINGER_MS, logger });
  await events.connect();
  let logFailures = 0;
  const app = createOpsServer({ logger, metrics: createMetricsRegistry('bench') });
  addServingRoutes(app, {
    slot, histories, metrics: createMetricsRegistry('bench-routes'), maxK: 100, maxCandidates: 5000,
    options: { recallSize: candidates, recallSeeds: 5, exploration: NO_EXPLORATION },
    logEvent: (e) => void events.send(e).catch(() => logFailures++),
  });
  // Time inside the node per request, to tell the node's own cost from the machine's and the client's.
  const serverTimes: number[] = [];
  const started = new WeakMap<object, number>();
  app.addHook('onRequest', async (req) => void started.set(req, performance.now()));
  app.addHook('onResponse', async (req) => void serverTimes.push(performance.now() - started.get(req)!));
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };

  const scenarios = ['entrance', 'detail'];
  // Clicks from the stream: rps × state-change of them per second, each on a random user.
  const clicksPerTick = (rps * stateChange) / 100;
  let owed = 0;
  const clicks = setInterval(() => {
    for (owed += clicksPerTick; owed >= 1; owed--) {
      const userId = `u${Math.floor(Math.random() * users)}`;
      histories.observe({ userId, nextState: [...histories.get(userId), ids[Math.floor(Math.random() * items)]!] });
    }
  }, 10);
  const bodies = Array.from({ length: users }, (_, i) => {
    const start = Math.floor(Math.random() * (items - candidates));
    return JSON.stringify({
      userId: `u${i % users}`, sessionId: `s${i}`, scenario: scenarios[i % 2], k: 10,
      ...(recall ? {} : { candidates: ids.slice(start, start + candidates) }),
    });
  });
  const load = { rps, seconds, warmup, bodies };
  const served = await runLoad({ port, ...load });
  clearInterval(clicks);
  const cache = slot.current!.protoActions;
  await app.close();
  await events.close();
  await admin.deleteTopics({ topics: Object.values(topicNames(prefix)) }).catch(() => undefined);
  await admin.disconnect();
  const floor = await floorLoad(load);

  const sorted = served.latencies.sort((a, b) => a - b);
  const inside = serverTimes.slice(-sorted.length).sort((a, b) => a - b);
  const floorSorted = floor.latencies.sort((a, b) => a - b);
  return {
    bench: 'serving', rps: Number((sorted.length / (served.wall / 1000)).toFixed(1)), p50_ms: ms(sorted, 0.5), p99_ms: ms(sorted, 0.99),
    candidates, target_rps: rps, history: N, recall, state_change: stateChange,
    server_p50_ms: ms(inside, 0.5), server_p99_ms: ms(inside, 0.99),
    floor_p50_ms: ms(floorSorted, 0.5), floor_p99_ms: ms(floorSorted, 0.99),
    host_steal_ms: served.hostStealMs, floor_host_steal_ms: floor.hostStealMs,
    proto_cache_hit_ratio: Number((cache.hits / Math.max(1, cache.hits + cache.misses)).toFixed(3)),
    errors: served.errors + floor.errors, unlogged_events: logFailures, requests: sorted.length,
  };
}

interface LoadResult {
  latencies: number[];
  errors: number;
  wall: number;
  /** Host steal over the measured seconds (after the warm-up). */
  hostStealMs: number | null;
}

async function runLoad(workerData: { port: number; rps: number; seconds: number; warmup: number; bodies: string[] }): Promise<LoadResult> {
  let stealBefore: number | null = null;
  const measuring = setTimeout(() => void (stealBefore = hostStealMs()), workerData.warmup * 1000 + 50);
  const result = await new Promise<Omit<LoadResult, 'hostStealMs'>>((resolve, reject) => {
    const worker = new Worker(LOAD, { eval: true, workerData });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  clearTimeout(measuring);
  const stealAfter = hostStealMs();
  return { ...result, hostStealMs: stealBefore === null || stealAfter === null ? null : stealAfter - stealBefore };
}

/** The same load against a server that does no serving work: reads the body, answers a constant. */
async function floorLoad(load: { rps: number; seconds: number; warmup: number; bodies: string[] }): Promise<LoadResult> {
  const answer = JSON.stringify({ requestId: '00000000-0000-0000-0000-000000000000', model: 'deepchain', version: 1, items: [] });
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length }).end(answer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  try {
    return await runLoad({ port, ...load });
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

/**
 * CPU time the hypervisor gave to others while this VM's CPUs wanted it (`steal` in /proc/stat, all CPUs, in
 * milliseconds); null where the kernel does not report it. A run with much of it measured the host, not the node.
 */
function hostStealMs(): number | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
    return Number(fields[8]) * (1000 / 100);
  } catch {
    return null;
  }
}

/** A latency percentile in milliseconds, rounded to microseconds. */
function ms(sorted: readonly number[], q: number): number {
  return Number(quantile(sorted, q).toFixed(3));
}
