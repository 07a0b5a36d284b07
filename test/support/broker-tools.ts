/**
 * The broker's own limit, measured beside a bench in the same run: Kafka's producer and consumer performance
 * tools (`org.apache.kafka.tools.ProducerPerformance` / `ConsumerPerformance`, from the `kafka-tools` jar of
 * the broker's version, fetched by `deploy/infra.sh fetch kafka-tools`) run with the machine's Java against
 * the same broker, on a topic of their own. The caller says which producer and consumer settings mirror its
 * own traffic; this file only runs the tools and reads their answers. Also the host's steal time, so a run's
 * figures can be read against how much CPU the host took from this VM meanwhile.
 *
 * It lives in test/support, not test/bench: every test/bench/*.ts is a name for `npm run bench` and must be in
 * test/run-named.ts's SERVERS table (test/unit/run-named.unit.test.ts checks that).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Admin } from 'kafkajs';
import { infraScript } from './infra-script.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TOOL_TIMEOUT_MS = 180_000;

export interface BrokerToolsOptions {
  brokers: readonly string[];
  admin: Admin;
  /** The tools' own topic (created here with `partitions`; the caller deletes it with the run's topics). */
  topic: string;
  partitions: number;
  records: number;
  /** Value bytes per record (the tool sends no key). */
  recordBytes: number;
  /** Java producer settings mirroring the bench's producer (bootstrap.servers is added here). */
  producerProps: Record<string, string>;
  /** Commit a transaction every this many ms (ProducerPerformance has no count-based transactions). */
  transactionDurationMs?: number;
  /** Java consumer settings mirroring the bench's consumer. */
  consumerProps: Record<string, string>;
}

export interface BrokerLimits {
  producerEventsPerS: number;
  /** From the consumer's joining the group to its last record (ConsumerPerformance's fetch.nMsg.sec). */
  consumerEventsPerS: number;
  producerMBPerS: number;
  producerP99Ms: number;
  consumerMBPerS: number;
  consumed: number;
}

/** Produces `records` records with ProducerPerformance, then reads them back with ConsumerPerformance. */
export async function measureBrokerLimits(o: BrokerToolsOptions): Promise<BrokerLimits> {
  const classpath = await toolsClasspath();
  await o.admin.createTopics({ topics: [{ topic: o.topic, numPartitions: o.partitions, replicationFactor: 1 }], waitForLeaders: true });
  const bootstrap = o.brokers.join(',');
  const props = Object.entries({ ...o.producerProps, 'bootstrap.servers': bootstrap }).map(([k, v]) => `${k}=${v}`);
  const produced = await java(classpath, 'org.apache.kafka.tools.ProducerPerformance', [
    '--topic', o.topic, '--num-records', String(o.records), '--record-size', String(o.recordBytes), '--throughput', '-1',
    ...(o.transactionDurationMs === undefined ? [] : ['--transaction-duration-ms', String(o.transactionDurationMs)]),
    '--producer-props', ...props,
  ]);
  const producer = parseProducerSummary(produced);

  const consumed = await withPropsFile(o.consumerProps, (file) => java(classpath, 'org.apache.kafka.tools.ConsumerPerformance', [
    '--bootstrap-server', bootstrap, '--topic', o.topic, '--messages', String(o.records), '--group', `${o.topic}-reader`,
    '--timeout', '30000', '--consumer.config', file,
  ]));
  const consumer = parseConsumerSummary(consumed);
  return {
    producerEventsPerS: Math.round(producer.recordsPerS),
    consumerEventsPerS: Math.round(consumer.fetchRecordsPerS),
    producerMBPerS: producer.mbPerS,
    producerP99Ms: producer.p99Ms,
    consumerMBPerS: round(consumer.fetchMBPerS),
    consumed: consumer.records,
  };
}

/** The host's steal time so far, in ms (Linux /proc/stat, all CPUs, ticks of 1/100 s); NaN elsewhere. */
export function hostStealMs(): number {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
    return Number(cpu[8]) * 10; // cpu user nice system idle iowait irq softirq steal …
  } catch {
    return NaN;
  }
}

/** ProducerPerformance's last line: "N records sent, R records/sec (M MB/sec), … avg latency, …, P ms 99th, …". */
export function parseProducerSummary(stdout: string): { records: number; recordsPerS: number; mbPerS: number; p99Ms: number } {
  const line = stdout.split('\n').reverse().find((l) => /records sent, .* 99th/.test(l));
  const m = line?.match(/^(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\).*?(\d+) ms 99th/);
  if (!m) throw new Error(`ProducerPerformance printed no summary:\n${stdout.slice(-2_000)}`);
  return { records: Number(m[1]), recordsPerS: Number(m[2]), mbPerS: Number(m[3]), p99Ms: Number(m[4]) };
}

/** ConsumerPerformance's header and its one row of comma-separated values. */
export function parseConsumerSummary(stdout: string): { records: number; recordsPerS: number; fetchRecordsPerS: number; fetchMBPerS: number } {
  const lines = stdout.split('\n');
  const h = lines.findIndex((l) => l.startsWith('start.time,'));
  const header = lines[h]?.split(',').map((s) => s.trim());
  const row = lines[h + 1]?.split(',').map((s) => s.trim());
  if (h < 0 || !header || !row || row.length !== header.length) throw new Error(`ConsumerPerformance printed no summary:\n${stdout.slice(-2_000)}`);
  const field = (name: string) => Number(row[header.indexOf(name)]);
  return {
    records: field('data.consumed.in.nMsg'),
    recordsPerS: field('nMsg.sec'),
    fetchRecordsPerS: field('fetch.nMsg.sec'),
    fetchMBPerS: field('fetch.MB.sec'),
  };
}

async function toolsClasspath(): Promise<string> {
  const { stdout, stderr } = await infraScript(['fetch', 'kafka-tools']);
  if (stderr) process.stderr.write(stderr);
  return stdout.trim().split('\n').pop()!;
}

/** Runs a Kafka tool; resolves to its stdout (its log lines, "[date] LEVEL …", go to our stderr). */
function java(classpath: string, main: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('java', [
      '-Xms256m', '-Xmx1g', '-cp', classpath, `-Dlog4j2.configurationFile=${join(ROOT, 'deploy', 'kafka', 'log4j2.yaml')}`, main, ...args,
    ], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], timeout: TOOL_TIMEOUT_MS });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => process.stderr.write(s));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const text = out.split('\n').filter((l) => !/^\[\d{4}-/.test(l)).join('\n');
      for (const l of out.split('\n').filter((l) => /^\[\d{4}-/.test(l))) process.stderr.write(`${main.split('.').pop()}: ${l}\n`);
      if (code === 0) resolve(text);
      else reject(new Error(`${main} exited with ${code ?? signal}:\n${out.slice(-2_000)}`));
    });
  });
}

async function withPropsFile<T>(props: Record<string, string>, fn: (file: string) => Promise<T>): Promise<T> {
  const { mkdtemp, rm, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const dir = await mkdtemp(join(tmpdir(), 'broker-tools-'));
  const file = join(dir, 'consumer.properties');
  await writeFile(file, Object.entries(props).map(([k, v]) => `${k}=${v}\n`).join(''));
  try {
    return await fn(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
