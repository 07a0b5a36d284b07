/**
 * The Kafka Streams anchor for the sessionizer bench (a benchmark anchor, not part of the product): builds
 * test/bench/kafka-streams/ with Maven when its jar is missing or older than its sources or the schemas,
 * runs it (`java -jar`, exactly_once_v2, consumer group = app id) over an already filled events topic and
 * times it from the app reaching RUNNING until its group's committed offsets cover `events` input records
 * (offsets commit in the app's transactions, so this counts committed work, as the sessionizer bench does).
 * Afterwards it stops the app (SIGTERM), deletes its internal topics (`<appId>-…-changelog`), its group and
 * its state folder. The output topic is the caller's to create and delete.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, type Admin } from 'kafkajs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PROJECT = join(ROOT, 'test', 'bench', 'kafka-streams');
const JAR = join(PROJECT, 'target', 'kafka-streams-anchor.jar');
const POLL_MS = 50;

export interface KafkaStreamsAnchorOptions {
  brokers: readonly string[];
  inputTopic: string;
  outputTopic: string;
  /** Input records to wait for: the topic's whole content, from its start. */
  events: number;
  /** application.id: also the consumer group and the internal topics' prefix, so fresh per run. */
  appId: string;
  /** Kafka Streams' commit.interval.ms, i.e. how often a transaction commits (100, the exactly-once default). */
  commitIntervalMs?: number;
  /** num.stream.threads (1: the sessionizer is one Node thread). */
  threads?: number;
  /** Gives up (and stops the app) after this long (300 s). */
  timeoutMs?: number;
  /** Progress lines (default: JSON on stderr). */
  progress?: (msg: string, extra?: object) => void;
}

export interface KafkaStreamsAnchorResult {
  eventsPerS: number;
  seconds: number;
  /** From starting the JVM to RUNNING (not in `seconds`). */
  startupSeconds: number;
  /** What the app reported on exit: records it processed, transitions it forwarded, events it dropped. */
  processed: number | null;
  transitions: number | null;
  dropped: number | null;
}

/** Builds the jar if needed; returns its path. */
export function buildKafkaStreamsAnchor(progress: (msg: string) => void = () => undefined): string {
  if (isFresh()) return JAR;
  progress('building the Kafka Streams anchor with Maven');
  const r = spawnSync('mvn', ['-q', '-B', '-f', join(PROJECT, 'pom.xml'), 'package'], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`mvn package failed (${r.status ?? r.signal}): ${(r.stdout + r.stderr).slice(-2_000)}`);
  return JAR;
}

export async function runKafkaStreamsAnchor(o: KafkaStreamsAnchorOptions): Promise<KafkaStreamsAnchorResult> {
  const progress = o.progress ?? ((msg, extra = {}) => process.stderr.write(`${JSON.stringify({ bench: 'kafka-streams', msg, ...extra })}\n`));
  const jar = buildKafkaStreamsAnchor(progress);
  const stateDir = join(ROOT, '.infra', 'kafka-streams-state', o.appId);
  mkdirSync(stateDir, { recursive: true });
  const admin = new Kafka({ clientId: `${o.appId}-watch`, brokers: [...o.brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const low = new Map((await admin.fetchTopicOffsets(o.inputTopic)).map((p) => [p.partition, Number(p.low)]));

  const t0 = performance.now();
  const child = spawn('java', [
    '-Xmx1g', '-jar', jar, '--brokers', o.brokers.join(','), '--input', o.inputTopic, '--output', o.outputTopic,
    '--app-id', o.appId, '--state-dir', stateDir, '--commit-interval-ms', String(o.commitIntervalMs ?? 100),
    '--threads', String(o.threads ?? 1),
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let running = 0;
  let stderrTail = '';
  const final: { processed?: number; transitions?: number; dropped?: number } = {};
  let stdoutBuf = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdoutBuf += chunk;
    for (let nl = stdoutBuf.indexOf('\n'); nl >= 0; nl = stdoutBuf.indexOf('\n')) {
      const line = stdoutBuf.slice(0, nl);
      stdoutBuf = stdoutBuf.slice(nl + 1);
      const msg = parseLine(line);
      if (msg?.state === 'RUNNING' && running === 0) running = performance.now();
      if (typeof msg?.processed === 'number') Object.assign(final, msg);
      if (msg?.error) progress('app error', { error: msg.error });
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderrTail = (stderrTail + chunk).slice(-4_000); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let exitCode: number | undefined;
  void exited.then((code) => { exitCode = code ?? -1; });

  try {
    const deadline = t0 + (o.timeoutMs ?? 300_000);
    let end = 0;
    while (end === 0) {
      if (exitCode !== undefined) throw new Error(`the Kafka Streams anchor exited (${exitCode}) early: ${stderrTail}`);
      if (performance.now() > deadline) throw new Error(`the Kafka Streams anchor did not consume ${o.events} events in time`);
      await new Promise((r) => setTimeout(r, POLL_MS));
      if (running !== 0 && (await committedInputs(admin, o.appId, o.inputTopic, low)) >= o.events) end = performance.now();
    }
    const seconds = (end - running) / 1000;
    await stop(child, exited);
    const result = {
      eventsPerS: Math.round(o.events / seconds),
      seconds: Math.round(seconds * 1000) / 1000,
      startupSeconds: Math.round(running - t0) / 1000,
      processed: final.processed ?? null,
      transitions: final.transitions ?? null,
      dropped: final.dropped ?? null,
    };
    progress('measured', result);
    return result;
  } finally {
    if (exitCode === undefined) await stop(child, exited);
    const internal = (await admin.listTopics()).filter((t) => t.startsWith(`${o.appId}-`));
    if (internal.length > 0) await admin.deleteTopics({ topics: internal }).catch(() => undefined);
    await admin.deleteGroups([o.appId]).catch(() => undefined);
    await admin.disconnect();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/** Input records the group has committed, counted from each partition's start when the run began. */
async function committedInputs(admin: Admin, groupId: string, topic: string, low: Map<number, number>): Promise<number> {
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
  let n = 0;
  for (const p of offsets?.partitions ?? []) {
    const committed = Number(p.offset);
    if (committed >= 0) n += committed - (low.get(p.partition) ?? 0);
  }
  return n;
}

/** SIGTERM (the app closes Kafka Streams and prints its counts), SIGKILL after 30 s. */
async function stop(child: ReturnType<typeof spawn>, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

function parseLine(line: string): Record<string, unknown> | null {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** True when the jar exists and is newer than the pom, every Java source and the schemas it embeds. */
function isFresh(): boolean {
  let built: number;
  try {
    built = statSync(JAR).mtimeMs;
  } catch {
    return false;
  }
  const inputs = [join(PROJECT, 'pom.xml'), join(ROOT, 'schemas', 'event.avsc'), join(ROOT, 'schemas', 'transition.avsc'), ...walk(join(PROJECT, 'src'))];
  return inputs.every((f) => statSync(f).mtimeMs <= built);
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}
