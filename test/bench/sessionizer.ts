/**
 * `npm run bench -- sessionizer [events] [--quick] [--cpu-prof DIR] [--processes N] [--send-chunk N] [--compression none|gzip]`: throughput of the sessionizer (exactly once, real Kafka) and
 * of a bare consume → produce pass-through on the same transactional pipeline (same kafkajs client,
 * transactions, batch and fetch settings, same broker), measured in the same run over the same
 * pre-produced whole-chain events. Prints {"bench":"sessionizer","events_per_s":…,"passthrough_events_per_s":…,"ratio":…}
 * plus the details that explain the numbers (records and bytes written per event, transaction counts).
 *
 * Beside them, the broker's own limit in the same run (test/support/broker-tools.ts): Kafka's ProducerPerformance
 * and ConsumerPerformance (Java client) on a topic of their own under the run's prefix, `broker_producer_events_per_s`
 * and `broker_consumer_events_per_s`, with `ratio_to_broker_producer` = events_per_s / broker_producer_events_per_s,
 * and `host_steal_ms`, the CPU time the host took from this VM over the whole run (/proc/stat). What the tools
 * mirror of this bench's traffic: the same number of records (capped at 300,000) of the events' mean Avro size,
 * 8 partitions (DATA_PARTITIONS); a transactional, idempotent producer (acks = all, implied), one request in
 * flight, no compression, batches up to 1 MiB per partition (the most one fetch hands a transaction), a commit
 * every `broker_transaction_ms` = the sessionizer's mean time per transaction; a read_committed consumer with the
 * pipeline's fetch sizes (1 MiB per partition, 10 MiB per fetch, 100 ms max wait), timed from joining its group
 * (`fetch.nMsg.sec`) as ours is. What cannot match: the tool writes one fixed-size value with no key (sticky
 * partitioning instead of murmur2 of the user id) and times its transactions, where ours commit one per fetched
 * batch; it runs the producer and the consumer one after the other, where the pipeline consumes and produces at
 * once; and it is the Java client, not kafkajs, so the gap between the two is the client's as well as our code's.
 *
 * And what a JVM team would write instead, on the same events topic: a Kafka Streams application
 * (exactly_once_v2, per-user state in a changelog-backed store; test/bench/kafka-streams/, run by
 * test/support/kafka-streams-anchor.ts), `kafka_streams_events_per_s`, and `ratio_kafka_streams` = ours ÷ it.
 *
 * Options. `--quick` leaves out the broker tools and the Kafka Streams anchor (sessionizer and pass-through
 * only: for before/after comparisons of a change). `--cpu-prof DIR` records a V8 CPU profile of this process
 * over the sessionizer's measured run only (node:inspector; the pass-through is not in it), writes it to
 * DIR/sessionizer-<time>.cpuprofile and adds its summary (test/support/profile-summary.ts: self-time shares
 * of kafkajs, avsc, the product's files, GC, idle) to the line as `profile`. `--processes N` runs the
 * sessionizer instead as N real processes (services/sessionizer/main.ts, one consumer group, the events topic's
 * 8 partitions shared among them) over the same pre-produced events, with no pass-through, broker tools or
 * anchor (test/support/sessionizer-processes.ts says how it is timed); with `--cpu-prof DIR` each process
 * writes its own profile there. `--send-chunk N` and `--compression` set the pipeline's records of a topic per
 * produce request (pipeline.ts MAX_RECORDS_PER_SEND; a huge N gives the former one send per transaction) and
 * its record batch compression, on both runs, for comparisons. Every line also carries `cpu_us_per_event` (this
 * process's CPU time over each measured run, per event: steadier than wall time on a shared machine) and,
 * where the local broker's data directory is readable, `*_broker_bytes_per_event` (log segment bytes written).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CompressionTypes, type Batch, type Consumer, type Kafka } from 'kafkajs';
import { pino } from 'pino';
import {
  createKafka, createMetricsRegistry, createProducer, createSchemaRegistry, DATA_PARTITIONS, KAFKA_ENV, loadConfig, provisionTopics,
  topicNames, type TopicNames, type UserEvent,
} from '../../services/common/index.js';
import { Sessionizer } from '../../services/sessionizer/loop.js';
import { createSessionizerMetrics } from '../../services/sessionizer/metrics.js';
import { TransactionalPipeline, type Processor, type Work } from '../../services/sessionizer/pipeline.js';
import { DEFAULT_SETTINGS } from '../../services/sessionizer/state.js';
import { WireCodec } from '../../services/sessionizer/wire.js';
import { generateUser, seededRng } from '../../services/sessionizer/workload.js';
import { hostStealMs, measureBrokerLimits } from '../support/broker-tools.js';
import { runKafkaStreamsAnchor } from '../support/kafka-streams-anchor.js';
import { summariseFile } from '../support/profile-summary.js';
import { runSessionizerProcesses } from '../support/sessionizer-processes.js';

const COMPRESSION: Record<string, CompressionTypes> = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP };
const BASE_CLIENT = { transactionTimeoutMs: 30_000, sessionTimeoutMs: 15_000, maxBytesPerPartition: 1024 * 1024, maxBytes: 10 * 1024 * 1024 };
const progress = (msg: string, extra: object = {}) => process.stderr.write(`${JSON.stringify({ bench: 'sessionizer', msg, ...extra })}\n`);

/** `--name VALUE` (or undefined) and the positional arguments that are left. */
function parseArgs(args: string[]): {
  n: number; quick: boolean; cpuProf: string | undefined; processes: number | undefined; sendChunk: number | undefined; compression: string | undefined;
} {
  const valueOf = (name: string) => {
    const i = args.indexOf(`--${name}`);
    if (i < 0) return undefined;
    const v = args[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`--${name} expects a value`);
    return v;
  };
  const taken = new Set<number>();
  for (const name of ['cpu-prof', 'processes', 'send-chunk', 'compression']) {
    const i = args.indexOf(`--${name}`);
    if (i >= 0) { taken.add(i); taken.add(i + 1); }
  }
  const positional = args.filter((a, i) => !taken.has(i) && !a.startsWith('--'));
  const processes = valueOf('processes');
  if (processes !== undefined && !(Number.isInteger(Number(processes)) && Number(processes) >= 1)) throw new Error('--processes expects a positive integer');
  const n = Number(positional[0] ?? 300_000);
  if (!Number.isInteger(n) || n <= 0) throw new Error('events must be a positive integer');
  const sendChunk = valueOf('send-chunk');
  return {
    n, quick: args.includes('--quick'), cpuProf: valueOf('cpu-prof'), processes: processes === undefined ? undefined : Number(processes),
    sendChunk: sendChunk === undefined ? undefined : Number(sendChunk), compression: valueOf('compression'),
  };
}

export default async function run(args: string[]): Promise<object> {
  const { n, quick, cpuProf, processes, sendChunk, compression: compressionName } = parseArgs(args);
  const compression = compressionName === undefined ? undefined : COMPRESSION[compressionName];
  if (compressionName !== undefined && compression === undefined) throw new Error(`--compression: one of ${Object.keys(COMPRESSION).join(', ')}`);
  const CLIENT = {
    ...BASE_CLIENT, ...(sendChunk === undefined ? {} : { maxRecordsPerSend: sendChunk }), ...(compression === undefined ? {} : { compression }),
  };
  // The sessionizer builds its own pipeline (loop.ts): the same settings are set on it after construction.
  const sendLimit = (p: TransactionalPipeline) => {
    if (sendChunk !== undefined) p.maxRecordsPerSend = sendChunk;
    if (compression !== undefined) p.compression = compression;
  };
  const stealAtStart = hostStealMs();
  const config = loadConfig(KAFKA_ENV);
  const logger = pino({ name: 'bench', level: 'error' }, pino.destination(2)); // stdout carries only the result line
  const prefix = `bench-sessionizer-${randomUUID().slice(0, 8)}.`;
  const topics = topicNames(prefix);
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'bench-sessionizer', logger });
  const admin = kafka.admin();
  await admin.connect();
  const passthroughTopic = `${prefix}passthrough`;
  const toolsTopic = `${prefix}broker-tools`;
  const streamsTopic = `${prefix}kafka-streams-transitions`;
  // A busy broker sometimes answers metadata before a new topic's leaders exist: try again.
  await withRetries(async () => {
    await provisionTopics(admin, prefix);
    if (!(await admin.listTopics()).includes(passthroughTopic)) {
      await admin.createTopics({ topics: [{ topic: passthroughTopic, numPartitions: 8, replicationFactor: 1 }], waitForLeaders: true });
    }
  });
  const wire = new WireCodec(createSchemaRegistry(config.SCHEMA_REGISTRY_URL), topics);
  await wire.register();

  try {
    if (processes !== undefined) {
      // The events go in one transaction, committed only once the group is stable with every process in it:
      // read_committed consumers see none of them before, so no process starts alone (sessionizer-processes.ts).
      let inputBytes = 0;
      const mp = await runSessionizerProcesses({
        admin, processes, events: n, prefix, groupId: `${prefix}sessionizer-mp`, eventsTopic: topics.events,
        brokers: config.KAFKA_BROKERS, registryUrl: config.SCHEMA_REGISTRY_URL,
        cpuProfDir: cpuProf === undefined ? undefined : resolve(cpuProf), progress,
        produce: async () => {
          const { bytes, commit } = await produceWorkload(kafka, wire, topics, n, `${prefix}workload`);
          inputBytes = bytes;
          progress('produced (not committed yet)', { events: n, bytes });
          return commit;
        },
      });
      return { bench: 'sessionizer', ...mp, host_steal_ms: hostStealMs() - stealAtStart, events: n, input_bytes_per_event: Math.round(inputBytes / n) };
    }

    const { bytes: inputBytes } = await produceWorkload(kafka, wire, topics, n);
    progress('produced', { events: n, bytes: inputBytes });

    // The bare pass-through: every event copied to another topic, same pipeline.
    let copied = 0;
    let ptBytes = 0;
    let ptTx = 0;
    const pt = await measure(n, (onInputs) => {
      const processor: Processor = {
        assigned: () => undefined,
        reset: () => undefined,
        process: async (batch: Batch): Promise<Work> => {
          const messages = batch.messages.map((m) => ({ key: m.key, value: m.value, partition: batch.partition }));
          return {
            messages: [{ topic: passthroughTopic, messages }],
            offsets: [{ partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) }],
            committed: () => {
              copied += messages.length;
              ptTx++;
              for (const m of messages) ptBytes += m.value?.length ?? 0;
              onInputs(batch.messages.length);
            },
          };
        },
      };
      return new TransactionalPipeline({
        kafka, logger, groupId: `${prefix}passthrough`, transactionalId: `${prefix}passthrough-0`, inputTopic: topics.events, processor,
        onFatal: (err) => { throw err; }, ...CLIENT,
      });
    });
    progress('passthrough', { ...pt, copied, bytes: ptBytes, transactions: ptTx });

    // The sessionizer, same settings.
    let records = 0;
    let bytes = 0;
    let transactions = 0;
    const profiler = cpuProf === undefined ? null : new Session();
    if (profiler) {
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    }
    const ss = await measure(n, (onInputs) => {
      class Counted extends Sessionizer {
        override async process(batch: Batch, heartbeat: () => Promise<void>) {
          const work = await super.process(batch, heartbeat);
          if (!work) return work;
          const inner = work.committed;
          return {
            ...work,
            committed: (meta: Parameters<Work['committed']>[0]) => {
              inner(meta);
              transactions++;
              for (const t of work.messages) for (const m of t.messages) { records++; bytes += (m.value as Buffer | null)?.length ?? 0; }
              onInputs(batch.messages.length);
            },
          };
        }
      }
      const s = new Counted({
        kafka, admin, wire, topics, settings: DEFAULT_SETTINGS, logger, metrics: createSessionizerMetrics(createMetricsRegistry('bench')),
        groupId: `${prefix}sessionizer`, instanceId: 'bench', tickMs: 1_000, onFatal: (err) => { throw err; }, ...CLIENT,
      });
      sendLimit(s.pipeline);
      return { start: () => s.start(), stop: () => s.stop(), consumer: s.pipeline.consumer, stats: s.pipeline.stats };
    });
    progress('sessionizer', { ...ss, records, bytes, transactions });
    let profile: object | undefined;
    if (profiler) {
      const { profile: p } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      mkdirSync(cpuProf!, { recursive: true });
      const file = join(cpuProf!, `sessionizer-${Date.now()}.cpuprofile`);
      writeFileSync(file, JSON.stringify(p));
      const { top: _top, ...summary } = summariseFile(file);
      profile = summary;
      progress('profile', { file });
    }
    const eventsPerS = Math.round(n / ss.seconds);
    const passthroughPerS = Math.round(n / pt.seconds);
    // What the broker stores per input event for each run's output (log segments; compression shows here).
    const brokerBytesPerEvent = () => {
      const s = brokerBytes([topics.transitions, topics.sessionizerState, topics.deadLetters]);
      const p = brokerBytes([passthroughTopic]);
      return s === null || p === null ? {} : { sessionizer_broker_bytes_per_event: Math.round(s / n), passthrough_broker_bytes_per_event: Math.round(p / n) };
    };
    const core = {
      bench: 'sessionizer',
      ...(sendChunk === undefined ? {} : { max_records_per_send: sendChunk }),
      ...(compressionName === undefined ? {} : { compression: compressionName }),
      events_per_s: eventsPerS,
      passthrough_events_per_s: passthroughPerS,
      ratio: Math.round((eventsPerS / passthroughPerS) * 1000) / 1000,
      // CPU microseconds per event of this process in each measured run (sessionizer, pass-through), and their ratio.
      cpu_us_per_event: Math.round((ss.cpuS * 1e6) / n),
      passthrough_cpu_us_per_event: Math.round((pt.cpuS * 1e6) / n),
      events: n,
      sessionizer_records_written_per_event: Math.round((records / n) * 100) / 100,
      sessionizer_bytes_written_per_event: Math.round(bytes / n),
      passthrough_bytes_written_per_event: Math.round(ptBytes / n),
      ...brokerBytesPerEvent(),
      sessionizer_transactions: transactions,
      passthrough_transactions: ptTx,
      // Seconds of each run spent in: the transform itself (decode, fold, encode; zero-copy for the
      // pass-through), kafkajs transaction begin + produce, sendOffsets + commit, and the rest (fetch, decode
      // of the fetch response, heartbeats, waiting): the Kafka client's share is everything but the first.
      sessionizer_seconds: { total: round(ss.seconds), transform: ss.processS, produce: ss.sendS, commit: ss.commitS, fetch_and_other: ss.kafkajsFetchAndOtherS },
      passthrough_seconds: { total: round(pt.seconds), transform: pt.processS, produce: pt.sendS, commit: pt.commitS, fetch_and_other: pt.kafkajsFetchAndOtherS },
      ...(profile ? { profile } : {}),
    };
    if (quick) return { ...core, quick: true, host_steal_ms: hostStealMs() - stealAtStart };

    // The broker's own limit for the same traffic (the file header says what matches and what cannot).
    const transactionMs = Math.max(1, Math.round((ss.seconds * 1000) / Math.max(1, transactions)));
    const recordBytes = Math.round(inputBytes / n);
    const broker = await measureBrokerLimits({
      brokers: config.KAFKA_BROKERS, admin, topic: toolsTopic, partitions: DATA_PARTITIONS, records: Math.min(n, 300_000), recordBytes,
      transactionDurationMs: transactionMs,
      producerProps: {
        acks: 'all', 'enable.idempotence': 'true', 'max.in.flight.requests.per.connection': '1', 'compression.type': 'none',
        'linger.ms': '0', 'batch.size': String(CLIENT.maxBytesPerPartition),
      },
      consumerProps: {
        'isolation.level': 'read_committed', 'max.partition.fetch.bytes': String(CLIENT.maxBytesPerPartition),
        'fetch.max.bytes': String(CLIENT.maxBytes), 'fetch.max.wait.ms': '100', 'auto.offset.reset': 'earliest',
      },
    });
    progress('broker tools', { ...broker });

    // What a JVM team would build instead, on the same events (test/support/kafka-streams-anchor.ts says what it ports).
    await admin.createTopics({ topics: [{ topic: streamsTopic, numPartitions: DATA_PARTITIONS, replicationFactor: 1 }], waitForLeaders: true });
    const streams = await runKafkaStreamsAnchor({
      brokers: config.KAFKA_BROKERS, inputTopic: topics.events, outputTopic: streamsTopic, events: n, appId: `${prefix}kafka-streams`,
    });
    progress('kafka streams', { ...streams });

    return {
      ...core,
      broker_producer_events_per_s: broker.producerEventsPerS,
      broker_consumer_events_per_s: broker.consumerEventsPerS,
      ratio_to_broker_producer: Math.round((eventsPerS / broker.producerEventsPerS) * 1000) / 1000,
      kafka_streams_events_per_s: streams.eventsPerS,
      ratio_kafka_streams: Math.round((eventsPerS / streams.eventsPerS) * 1000) / 1000,
      host_steal_ms: hostStealMs() - stealAtStart,
      broker_record_bytes: recordBytes,
      broker_transaction_ms: transactionMs,
      broker_producer_p99_ms: broker.producerP99Ms,
    };
  } finally {
    await admin.deleteTopics({ topics: [...Object.values(topics), passthroughTopic, toolsTopic, streamsTopic] }).catch(() => undefined);
    await admin.disconnect();
  }
}

/** Runs a pipeline until `n` input records are committed; timed from its consumer's joining the group. */
async function measure(
  n: number,
  make: (onInputs: (k: number) => void) => { start(): Promise<void>; stop(): Promise<void>; consumer: Consumer; stats: TransactionalPipeline['stats'] },
): Promise<{ seconds: number; cpuS: number; processS: number; sendS: number; commitS: number; kafkajsFetchAndOtherS: number }> {
  let done = 0;
  let finish!: () => void;
  const finished = new Promise<void>((r) => { finish = r; });
  const pipeline = make((k) => {
    done += k;
    if (done >= n) finish();
  });
  let joined = 0;
  let cpuAtJoin = process.cpuUsage();
  pipeline.consumer.on(pipeline.consumer.events.GROUP_JOIN, () => {
    if (joined === 0) { joined = performance.now(); cpuAtJoin = process.cpuUsage(); }
  });
  const t0 = performance.now();
  await pipeline.start();
  await finished;
  const end = performance.now();
  const cpu = process.cpuUsage(cpuAtJoin);
  await pipeline.stop();
  const seconds = (end - joined) / 1000;
  const { processMs, beginAndSendMs, offsetsAndCommitMs } = pipeline.stats;
  const r = (ms: number) => Math.round(ms) / 1000;
  const times = {
    seconds,
    // CPU time of this process (all its threads) over the same window: less sensitive to other load than seconds.
    cpuS: r((cpu.user + cpu.system) / 1000),
    processS: r(processMs),
    sendS: r(beginAndSendMs),
    commitS: r(offsetsAndCommitMs),
    kafkajsFetchAndOtherS: r(seconds * 1000 - processMs - beginAndSendMs - offsetsAndCommitMs),
  };
  progress('measured', { startupSeconds: (joined - t0) / 1000, ...times });
  return times;
}

/**
 * Bytes the broker holds for these topics: the sizes of their log segments (`*.log`, batches as stored:
 * compressed when the producer compressed, with transaction markers) in the local broker's data directory
 * (deploy/infra.sh: .infra/kafka-<version>/data; BENCH_KAFKA_DATA_DIR overrides). Null when it is not readable.
 */
function brokerBytes(topics: string[]): number | null {
  const root = process.env.BENCH_KAFKA_DATA_DIR ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '.infra', 'kafka-4.1.1', 'data');
  if (!existsSync(root)) return null;
  let bytes = 0;
  for (const d of readdirSync(root)) {
    if (!topics.some((t) => d.startsWith(`${t}-`) && /^\d+$/.test(d.slice(t.length + 1)))) continue;
    for (const f of readdirSync(join(root, d))) if (f.endsWith('.log')) bytes += statSync(join(root, d, f)).size;
  }
  return bytes;
}

async function withRetries(fn: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 5) throw err;
      progress('setup retry', { attempt, err: (err as Error).message });
      await new Promise((r) => setTimeout(r, 1_000 * attempt));
    }
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/**
 * The bench's events, written to the events topic. With `transactionalId`, in one transaction left open:
 * `commit` makes them visible to read_committed consumers all at once.
 */
async function produceWorkload(
  kafka: Kafka, wire: WireCodec, topics: TopicNames, n: number, transactionalId?: string,
): Promise<{ bytes: number; commit: () => Promise<void> }> {
  const rng = seededRng(42);
  const start = Date.now() - 24 * 3_600_000;
  const events: UserEvent[] = [];
  for (let u = 0; events.length < n; u++) {
    const s = generateUser(rng, `user${u}`, start + Math.floor(rng() * 600_000), {
      sessions: 4, pagesPerSession: 6, maxItems: 4, gapMs: [50, 1_500], idleGapMs: DEFAULT_SETTINGS.sessionTimeoutMs + 1_000, catalogue: 5_000,
    });
    events.push(...s.events);
  }
  events.length = n;
  events.sort((a, b) => a.eventTime - b.eventTime);
  const producer = transactionalId === undefined
    ? createProducer(kafka)
    : createProducer(kafka, { transactionalId, maxInFlightRequests: 1, transactionTimeout: 600_000 });
  await producer.connect();
  const tx = transactionalId === undefined ? null : await producer.transaction();
  let bytes = 0;
  for (let i = 0; i < events.length; i += 5_000) {
    const messages = events.slice(i, i + 5_000).map((e) => {
      const value = wire.encodeEvent(e);
      bytes += value.length;
      return { key: e.userId, value };
    });
    await (tx ?? producer).send({ topic: topics.events, messages });
  }
  const commit = async () => {
    await tx?.commit();
    await producer.disconnect();
  };
  if (!tx) await commit();
  return { bytes, commit };
}
