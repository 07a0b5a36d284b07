/**
 * `npm run chaos -- sessionizer [events]`: at least 200,000 events of a whole-chain workload (with
 * duplicates, out-of-order, too-late and undecodable records) go through two sessionizer processes while
 * one of them is killed with SIGKILL at random moments (and restarted each time). The transitions read
 * back with read_committed are compared with what the pure fold computes from the same events, read back
 * from the events topic in partition order. Prints {"chaos":"sessionizer",…}; lost, duplicated and
 * mismatched must be 0.
 *
 * Event times are the wall clock at sending, so the sessionizers' timers (which follow the wall clock on a
 * caught-up partition) and the reference agree: every session is closed at the end, by the timer in the
 * processes and by a final flush in the reference.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KafkaMessage } from 'kafkajs';
import { pino } from 'pino';
import {
  createKafka, createProducer, createSchemaRegistry, env, KAFKA_ENV, loadConfig, provisionTopics, topicNames,
  transitionFromRecord, type Transition, type UserEvent,
} from '../../services/common/index.js';
import { DEFAULT_SETTINGS, type SessionizerSettings } from '../../services/sessionizer/state.js';
import { WireCodec } from '../../services/sessionizer/wire.js';
import { generateUser, seededRng } from '../../services/sessionizer/workload.js';
import { readToEnd, waitUntilQuiet } from '../support/topic-reader.js';
import { compareWithReference, referenceFold } from '../support/reference-fold.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SESSION_TIMEOUT_MS = 5_000;
const GRACE_MS = 10_000;
const SETTINGS: SessionizerSettings = { ...DEFAULT_SETTINGS, sessionTimeoutMs: SESSION_TIMEOUT_MS, graceMs: GRACE_MS };
const progress = (msg: string, extra: object = {}) => process.stderr.write(`${JSON.stringify({ chaos: 'sessionizer', msg, ...extra })}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export default async function run(args: string[]): Promise<object> {
  const target = Number(args[0] ?? 200_000);
  const config = loadConfig({ ...KAFKA_ENV, CHAOS_SEED: env.int({ default: Date.now() % 100_000 }), CHAOS_SECONDS: env.int({ min: 5, default: 45 }), CHAOS_KILLS: env.int({ min: 0, default: 5 }) });
  const rng = seededRng(config.CHAOS_SEED);
  const logger = pino({ name: 'chaos', level: 'error' }, pino.destination(2)); // stdout carries only the result line
  const prefix = `chaos-sessionizer-${randomUUID().slice(0, 8)}.`;
  const topics = topicNames(prefix);
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'chaos-sessionizer', logger });
  const admin = kafka.admin();
  await admin.connect();
  await provisionTopics(admin, prefix);
  const wire = new WireCodec(createSchemaRegistry(config.SCHEMA_REGISTRY_URL), topics);
  await wire.register();

  // The workload: users with whole-chain sessions, spread over CHAOS_SECONDS of sending.
  const scripts: UserEvent[][] = [];
  let total = 0;
  for (let u = 0; total < target; u++) {
    const s = generateUser(rng, `user${u}`, 0, {
      sessions: 4, pagesPerSession: 6, maxItems: 4, gapMs: [50, 1_500], idleGapMs: SESSION_TIMEOUT_MS + 2_000, catalogue: 500,
    });
    scripts.push(s.events);
    total += s.events.length;
  }
  const span = Math.max(...scripts.map((s) => s.at(-1)!.eventTime));
  const scale = (config.CHAOS_SECONDS * 1000) / span;
  const timeline = scripts.flatMap((s) => s.map((e) => ({ at: e.eventTime * scale, e }))).sort((a, b) => a.at - b.at);
  progress('workload', { events: total, users: scripts.length, seed: config.CHAOS_SEED });

  // Two sessionizer processes, restarted whenever they are killed.
  const logDir = join(ROOT, '.infra', 'chaos-logs');
  mkdirSync(logDir, { recursive: true });
  const log = createWriteStream(join(logDir, `${prefix}log`));
  const procs: (ChildProcess | null)[] = [null, null];
  let stopping = false;
  const launch = (i: number) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'services/sessionizer/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        TOPIC_PREFIX: prefix,
        SESSIONIZER_INSTANCE_ID: `chaos-${i}`,
        SESSIONIZER_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
        SESSIONIZER_GRACE_MS: String(GRACE_MS),
        SESSIONIZER_TICK_MS: '500',
        SESSIONIZER_TRANSACTION_TIMEOUT_MS: '10000',
        SESSIONIZER_KAFKA_SESSION_TIMEOUT_MS: process.env.CHAOS_KAFKA_SESSION_TIMEOUT_MS ?? '10000',
        LOG_LEVEL: process.env.CHAOS_CHILD_LOG_LEVEL ?? 'warn',
        HTTP_PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.pipe(log, { end: false });
    child.stderr!.pipe(log, { end: false });
    child.on('exit', (code, signal) => {
      if (procs[i] === child) procs[i] = null;
      if (!stopping && signal !== 'SIGKILL') progress('sessionizer exited by itself', { i, code, signal });
      if (!stopping && signal !== 'SIGKILL') launch(i);
    });
    procs[i] = child;
  };
  launch(0);
  launch(1);

  // A read_committed reader of the output for the whole run. Kept by partition and offset: if the reader
  // itself rejoins its group and reads a stretch again, that is not a duplicate in the topic.
  const output = new Map<string, KafkaMessage>();
  const transitions = { get length() { return output.size; } };
  const reader = kafka.consumer({ groupId: `${prefix}reader`, readUncommitted: false, maxWaitTimeInMs: 200 });
  await reader.connect();
  await reader.subscribe({ topics: [topics.transitions], fromBeginning: true });
  await reader.run({ eachBatch: async ({ batch }) => { for (const m of batch.messages) output.set(`${batch.partition}:${m.offset}`, m); } });

  // The killer: SIGKILL one process at random moments, then start it again.
  let kills = 0;
  let sending = true;
  const killer = (async () => {
    while (config.CHAOS_KILLS > 0 && (sending || kills < config.CHAOS_KILLS)) {
      await sleep(3_000 + rng() * 5_000);
      const i = rng() < 0.5 ? 0 : 1;
      const victim = procs[i];
      if (!victim) continue;
      victim.kill('SIGKILL');
      kills++;
      progress('killed', { i, kills, transitionsSoFar: transitions.length });
      await new Promise((r) => victim.once('exit', r));
      launch(i);
    }
  })();

  // Send the workload in real time; event time is the wall clock when sent.
  const producer = createProducer(kafka);
  await producer.connect();
  const started = Date.now();
  let sent = 0;
  const recent: { key: string; value: Buffer }[] = [];
  for (let i = 0; i < timeline.length;) {
    const elapsed = Date.now() - started;
    const messages: { key: string; value: Buffer }[] = [];
    while (i < timeline.length && timeline[i]!.at <= elapsed) {
      const now = Date.now();
      const e = timeline[i++]!.e;
      const roll = rng();
      // Mostly on time; some a little out of order (within grace); a few far too late.
      const eventTime = roll < 0.03 ? now - Math.floor(rng() * 2_000) : roll < 0.032 ? now - 10 * 60_000 : now;
      const m = { key: e.userId, value: wire.encodeEvent({ ...e, eventTime }) };
      messages.push(m);
      recent.push(m);
      if (recent.length > 200) recent.shift();
      if (rng() < 0.02) messages.push(recent[Math.floor(rng() * recent.length)]!); // a duplicate
      if (rng() < 0.0005) messages.push({ key: e.userId, value: Buffer.from(`garbage ${i}`) }); // undecodable
    }
    if (messages.length > 0) {
      await producer.send({ topic: topics.events, messages });
      sent += messages.length;
    } else {
      await sleep(5);
    }
  }
  sending = false;
  await producer.disconnect();
  progress('sent', { records: sent, seconds: (Date.now() - started) / 1000 });
  await killer;

  // The reference: the pure fold over the events as the topic holds them, partition by partition.
  const events = await readToEnd(kafka, topics.events, `${prefix}reference`);
  const expected = referenceFold(events, wire, SETTINGS).transitions;
  progress('reference', { records: events.reduce((n, p) => n + p.length, 0), transitions: expected.length });

  // Wait until the output is complete and quiet (sessions close on the timers once caught up).
  await waitUntilQuiet(() => transitions.length, expected.length, Number(process.env.CHAOS_WAIT_MS ?? 300_000), progress);
  stopping = true;
  await reader.disconnect();
  for (const p of procs) p?.kill('SIGTERM');
  await sleep(1_000);
  for (const p of procs) p?.kill('SIGKILL');

  const got = [...output.values()].map((m) => transitionFromRecord(wire.decode<Transition>('transitions', m.value!)));
  const { lost, duplicated, mismatched } = compareWithReference(expected, got);

  await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
  await admin.disconnect();
  log.end();
  return { chaos: 'sessionizer', events: sent, transitions: got.length, kills, lost, duplicated, mismatched };
}

