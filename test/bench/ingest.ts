/**
 * `npm run bench -- ingest [--duration S] [--warmup S] [--connections N] [--profile DIR] [--processes N] [--quick]`: the
 * gateway's ingest rate (DESIGN.md §6: ≥ 20,000 events/s per process, batches of 20).
 *
 * Starts one gateway process (services/gateway/main.ts) on loopback against the real broker and
 * registry, with topics under a fresh prefix, and drives it from this process over keep-alive HTTP
 * connections, each sending one batch of 20 events at a time and the next as soon as it is answered.
 * A request counts when it was answered 200, i.e. after Kafka acknowledged its 20 events. The latency
 * percentile is per request, from sending to the end of the answer. Progress goes to stderr. `--profile`
 * writes the gateway's V8 CPU profile to DIR. `--processes N` starts N gateway processes (the same settings,
 * each on its own port) and spreads the connections over them round-robin (connection i → process i mod N):
 * the line gains `processes`, `events_per_s_per_process`, and per process its events/s and cores, with
 * `gateway_cores` and `events_per_gateway_cpu_s` summed over them. `--quick` leaves out the broker tools.
 *
 * Beside it, the broker's own limit in the same run (test/support/broker-tools.ts): Kafka's ProducerPerformance
 * and ConsumerPerformance (Java client) on a topic of their own under the run's prefix, `broker_producer_events_per_s`
 * and `broker_consumer_events_per_s`, with `ratio_to_broker_producer` = events_per_s / broker_producer_events_per_s,
 * and `host_steal_ms`, the CPU time the host took from this VM over the whole run (/proc/stat). What the tools
 * mirror of the gateway's producer (services/sdk/producer.ts with the gateway's default settings): as many
 * records as the gateway acknowledged (capped at 300,000), each of the mean Avro size of one bench batch's 20
 * events (`broker_record_bytes`), 8 partitions (DATA_PARTITIONS); acks = all, idempotent, one request in flight,
 * no compression, linger 2 ms (GATEWAY_LINGER_MS), batches of GATEWAY_KAFKA_BATCH_EVENTS = 1,000 events' bytes
 * spread over the 8 partitions (`batch.size` is per partition); the consumer with the settings of the events
 * topic's reader, the sessionizer (read_committed, 1 MiB per partition, 10 MiB per fetch, 100 ms max wait), timed
 * from joining its group. What cannot match: the tool writes one fixed-size value with no key (sticky
 * partitioning instead of murmur2 of the user id) from one thread, with no HTTP, JSON validation or Avro
 * encoding in front, and it is the Java client, not kafkajs: it is the broker's ceiling on this machine, not a
 * gateway that could be built.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { dirname, join } from 'node:path';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  AvroSerde, createKafka, createLogger, createSchemaRegistry, DATA_PARTITIONS, eventToRecord, KAFKA_ENV, loadConfig,
  provisionTopics, topicNames, type UserEvent,
} from '../../services/common/index.js';
import { hostStealMs, measureBrokerLimits } from '../support/broker-tools.js';
import { quantile } from '../support/quantile.js';

const BATCH = 20;
/** The gateway's defaults (services/gateway/config.ts) that the broker tools mirror. */
const GATEWAY_LINGER_MS = 2;
const GATEWAY_KAFKA_BATCH_EVENTS = 1_000;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} expects a positive number`);
  return value;
}

/** One batch body: a recommendation of 10 items, then clicks and skips on them; fresh event ids. */
function batchBody(seq: number, now: number): string {
  const user = `u${seq % 5_000}`;
  const session = `s${seq % 5_000}-${Math.floor(seq / 5_000)}`;
  const req = `r${seq}`;
  const items = Array.from({ length: 10 }, (_, i) => `i${(seq * 7 + i) % 50_000}`);
  const parts = [
    `{"type":"recommendation","eventId":"${req}-0","userId":"${user}","sessionId":"${session}","eventTime":${now},"scenario":"entrance","requestId":"${req}","items":${JSON.stringify(items)},"propensities":[0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1],"model":"deepchain","modelVersion":1}`,
  ];
  for (let i = 1; i < BATCH; i++) {
    const type = i % 4 === 0 ? 'click' : 'skip';
    parts.push(`{"type":"${type}","eventId":"${req}-${i}","userId":"${user}","sessionId":"${session}","eventTime":${now},"scenario":"entrance","requestId":"${req}","itemId":"${items[i % 10]}","position":${i % 10}}`);
  }
  return `{"events":[${parts.join(',')}]}`;
}

/** Mean bytes of one bench batch's events as the gateway writes them (Avro, schema id in front). */
async function meanRecordBytes(registryUrl: string, prefix: string): Promise<number> {
  const serde = new AvroSerde(createSchemaRegistry(registryUrl), topicNames(prefix));
  await serde.registerAll(['events']);
  const events = (JSON.parse(batchBody(0, Date.now())) as { events: UserEvent[] }).events;
  let bytes = 0;
  for (const e of events) bytes += (await serde.encode('events', eventToRecord(e))).length;
  return Math.round(bytes / events.length);
}

async function startGateway(env: NodeJS.ProcessEnv, profileDir: string | undefined): Promise<{ child: ChildProcess; port: number }> {
  const profile = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', join(ROOT, 'services/gateway/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code} before listening`)));
    lines.on('line', (line) => {
      process.stderr.write(`gateway: ${line}\n`);
      try {
        const entry = JSON.parse(line) as { msg?: string; port?: number };
        if (entry.msg === 'gateway listening' && entry.port) resolve(entry.port);
      } catch {
        // not a log line
      }
    });
  });
  return { child, port };
}

/** CPU seconds a process used so far (Linux /proc; user + system, in clock ticks of 1/100 s); NaN elsewhere. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

export default async function ingest(args: string[]): Promise<object> {
  const stealAtStart = hostStealMs();
  const durationS = option(args, 'duration', 15);
  const warmupS = option(args, 'warmup', 3);
  const connections = option(args, 'connections', 32);
  const profileIndex = args.indexOf('--profile');
  const profileDir = profileIndex < 0 ? undefined : args[profileIndex + 1];
  const processes = option(args, 'processes', 1);
  const quick = args.includes('--quick');
  const servers = loadConfig(KAFKA_ENV);
  const prefix = `bench-ingest-${randomBytes(4).toString('hex')}.`;
  const admin = createKafka({ brokers: servers.KAFKA_BROKERS, clientId: 'bench-ingest', logger: createLogger('bench', 'warn') }).admin();
  await admin.connect();
  await provisionTopics(admin, prefix);
  const key = randomBytes(24).toString('hex');
  const gatewayEnv = {
    KAFKA_BROKERS: servers.KAFKA_BROKERS.join(','),
    SCHEMA_REGISTRY_URL: servers.SCHEMA_REGISTRY_URL,
    TOPIC_PREFIX: prefix,
    // The bench sends recommendation events too, which a key may send only with that scope.
    GATEWAY_API_KEYS: `bench[recommendation+behaviour]=${key}`,
    GATEWAY_RATE_LIMIT_MAX: String(Number.MAX_SAFE_INTEGER),
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    LOG_LEVEL: 'info',
  };
  const gateways: { child: ChildProcess; port: number }[] = [];
  for (let i = 0; i < processes; i++) gateways.push(await startGateway(gatewayEnv, profileDir));

  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const call = (method: string, path: string, body?: string, port = gateways[0]!.port) =>
    new Promise<{ status: number; ms: number }>((resolve, reject) => {
      const started = performance.now();
      const req = request({
        host: '127.0.0.1', port, method, path, agent,
        headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-api-key': key },
      }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
      });
      req.on('error', reject);
      req.end(body);
    });

  try {
    for (const g of gateways) {
      for (let tries = 0; (await call('GET', '/readyz', undefined, g.port)).status !== 200; tries++) {
        if (tries > 200) throw new Error('the gateway did not become ready (is Kafka up?)');
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    let seq = 0;
    let measuring = false;
    let stop = false;
    const latencies: number[] = [];
    const statuses: Record<number, number> = {};
    let accepted = 0;
    const acceptedBy = gateways.map(() => 0);
    const worker = async (g: number) => {
      while (!stop) {
        const res = await call('POST', '/v1/events', batchBody(seq++, Date.now()), gateways[g]!.port);
        if (!measuring) continue;
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        latencies.push(res.ms);
        if (res.status === 200) { accepted += BATCH; acceptedBy[g] = acceptedBy[g]! + BATCH; }
      }
    };
    const workers = Array.from({ length: connections }, (_, i) => worker(i % gateways.length));
    process.stderr.write(`warming up ${warmupS} s with ${connections} connections\n`);
    await new Promise((r) => setTimeout(r, warmupS * 1000));
    measuring = true;
    const started = performance.now();
    const cpuStart = gateways.map((g) => cpuSeconds(g.child.pid));
    await new Promise((r) => setTimeout(r, durationS * 1000));
    measuring = false;
    const elapsedS = (performance.now() - started) / 1000;
    const coresBy = gateways.map((g, i) => (cpuSeconds(g.child.pid) - cpuStart[i]!) / elapsedS);
    const gatewayCores = coresBy.reduce((a, b) => a + b, 0);
    stop = true;
    await Promise.all(workers);

    latencies.sort((a, b) => a - b);
    const offsets = await admin.fetchTopicOffsets(topicNames(prefix).events);
    const inTopic = offsets.reduce((sum, o) => sum + Number(o.high), 0);

    // The broker's own limit for the same traffic (the file header says what matches and what cannot).
    const recordBytes = await meanRecordBytes(servers.SCHEMA_REGISTRY_URL, prefix);
    const eventsPerS = Math.round(accepted / elapsedS);
    const scaleOut = processes === 1 ? {} : {
      processes,
      events_per_s_per_process: Math.round(eventsPerS / processes),
      per_process: gateways.map((_, i) => ({
        events_per_s: Math.round(acceptedBy[i]! / elapsedS), cores: Number(coresBy[i]!.toFixed(2)),
        events_per_cpu_s: Math.round(acceptedBy[i]! / elapsedS / coresBy[i]!),
      })),
    };
    if (quick) {
      return {
        bench: 'ingest', events_per_s: eventsPerS, ...scaleOut, p99_ms: Number(quantile(latencies, 0.99).toFixed(1)), host_steal_ms: hostStealMs() - stealAtStart,
        broker_record_bytes: recordBytes, batch: BATCH, p50_ms: Number(quantile(latencies, 0.5).toFixed(1)), connections, duration_s: Number(elapsedS.toFixed(1)),
        statuses, events_in_topic: inTopic, gateway_cores: Number(gatewayCores.toFixed(2)), events_per_gateway_cpu_s: Math.round(accepted / elapsedS / gatewayCores),
        target_events_per_s: 20_000, quick: true,
      };
    }
    const broker = await measureBrokerLimits({
      brokers: servers.KAFKA_BROKERS, admin, topic: `${prefix}broker-tools`, partitions: DATA_PARTITIONS,
      records: Math.max(1, Math.min(accepted, 300_000)), recordBytes,
      producerProps: {
        acks: 'all', 'enable.idempotence': 'true', 'max.in.flight.requests.per.connection': '1', 'compression.type': 'none',
        'linger.ms': String(GATEWAY_LINGER_MS), 'batch.size': String(Math.round((GATEWAY_KAFKA_BATCH_EVENTS * recordBytes) / DATA_PARTITIONS)),
      },
      consumerProps: {
        'isolation.level': 'read_committed', 'max.partition.fetch.bytes': String(1024 * 1024), 'fetch.max.bytes': String(10 * 1024 * 1024),
        'fetch.max.wait.ms': '100', 'auto.offset.reset': 'earliest',
      },
    });
    process.stderr.write(`broker tools: ${JSON.stringify(broker)}\n`);
    return {
      bench: 'ingest',
      events_per_s: eventsPerS,
      ...scaleOut,
      p99_ms: Number(quantile(latencies, 0.99).toFixed(1)),
      broker_producer_events_per_s: broker.producerEventsPerS,
      broker_consumer_events_per_s: broker.consumerEventsPerS,
      ratio_to_broker_producer: Math.round((eventsPerS / broker.producerEventsPerS) * 1000) / 1000,
      host_steal_ms: hostStealMs() - stealAtStart,
      broker_record_bytes: recordBytes,
      broker_producer_p99_ms: broker.producerP99Ms,
      batch: BATCH,
      p50_ms: Number(quantile(latencies, 0.5).toFixed(1)),
      connections,
      duration_s: Number(elapsedS.toFixed(1)),
      statuses,
      events_in_topic: inTopic,
      // How much of one core the gateway used, and the rate that would be per core it had to itself: the
      // broker, the registry and this load generator share the same machine.
      gateway_cores: Number(gatewayCores.toFixed(2)),
      events_per_gateway_cpu_s: Math.round(accepted / elapsedS / gatewayCores),
      target_events_per_s: 20_000,
    };
  } finally {
    agent.destroy();
    for (const g of gateways) g.child.kill('SIGTERM');
    await Promise.all(gateways.map((g) => new Promise((r) => g.child.once('exit', r))));
    await admin.deleteTopics({ topics: [...Object.values(topicNames(prefix)), `${prefix}broker-tools`] }).catch(() => undefined);
    await admin.disconnect();
  }
}
