/**
 * `npm run chaos -- registry [events]`: a schema registry of the run's own (deploy/infra.sh on a free port,
 * SQL storage in a database of its own) is stopped and started again while events flow through a real
 * sessionizer process. While it is down, a newer producer starts writing events with a newer (compatible)
 * events schema whose id the sessionizer has not met yet, and the sessionizer is killed (SIGKILL) and
 * restarted, so it must register its schemas and restore its changelog against a registry that is not
 * there; once the registry is back, it is killed once more and restores with the ids the restarted registry
 * hands out. Prints {"chaos":"registry",…}: ids_unchanged must be true; lost, duplicated, mismatched and
 * dead_lettered_valid (dead letters of records that decode, other than those the fold itself rejects)
 * must be 0; dead_lettered_invalid counts the undecodable records sent on purpose.
 *
 * This file also exports the own-registry helper (ownRegistry) that the durable-registry integration test
 * uses. Long because it drives a whole run; its phases are marked below.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KafkaMessage } from 'kafkajs';
import avro from 'avsc';
import pg from 'pg';
import { pino } from 'pino';
import {
  AvroSerde, createKafka, createProducer, createSchemaRegistry, DATABASE_ENV, env, eventToRecord, freePort, KAFKA_ENV, loadConfig,
  provisionTopics, readSchema, registerValueSchema, topicNames, transitionFromRecord, type DeadLetterRecord, type Transition, type UserEvent,
} from '../../services/common/index.js';
import { DEFAULT_SETTINGS, type SessionizerSettings } from '../../services/sessionizer/state.js';
import { WireCodec } from '../../services/sessionizer/wire.js';
import { generateUser, seededRng } from '../../services/sessionizer/workload.js';
import { readToEnd, waitUntilQuiet } from '../support/topic-reader.js';
import { infraScript } from '../support/infra-script.js';
import { compareWithReference, referenceFold } from '../support/reference-fold.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// ---------------------------------------------------------------- a registry of one's own

export interface OwnRegistry {
  readonly port: number;
  /** The Confluent API base URL (SCHEMA_REGISTRY_URL). */
  readonly url: string;
  /** The database its schemas live in (postgresql://…). */
  readonly databaseUrl: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops it (if it runs) and drops its database. */
  dispose(): Promise<void>;
}

/**
 * An Apicurio Registry on a free port with a fresh database on DATABASE_URL's server, started and stopped
 * through deploy/infra.sh (which keeps its pid and log apart from the shared registry's).
 */
export async function ownRegistry(name: string, databaseUrl = loadConfig(DATABASE_ENV).DATABASE_URL): Promise<OwnRegistry> {
  const port = await freePort();
  const database = `deepchain_registry_${name}_${randomUUID().replace(/-/g, '').slice(0, 8)}`;
  const url = new URL(databaseUrl);
  url.pathname = `/${database}`;
  url.search = '';
  const envOf = { REGISTRY_PORT: String(port), REGISTRY_DATABASE_URL: url.toString() };
  const registry: OwnRegistry = {
    port,
    url: `http://127.0.0.1:${port}/apis/ccompat/v7`,
    databaseUrl: url.toString(),
    start: async () => {
      const { stdout } = await infraScript(['up', 'registry'], envOf);
      if (!/^registry started$/m.test(stdout)) throw new Error(`port ${port}: another registry answers there (${stdout.trim()})`);
    },
    stop: async () => { await infraScript(['down', 'registry'], envOf); },
    dispose: async () => {
      await registry.stop().catch(() => undefined);
      const admin = new pg.Client({ connectionString: databaseUrl });
      await admin.connect();
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
  return registry;
}

/** Every subject's versions under `prefix` → schema id, as the registry answers now. */
export async function idsUnder(url: string, prefix: string): Promise<Map<string, number>> {
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const ids = new Map<string, number>();
  for (const subject of (await get<string[]>('/subjects')).filter((s) => s.startsWith(prefix)).sort()) {
    for (const version of await get<number[]>(`/subjects/${encodeURIComponent(subject)}/versions`)) {
      ids.set(`${subject}/${version}`, (await get<{ id: number }>(`/subjects/${encodeURIComponent(subject)}/versions/${version}`)).id);
    }
  }
  return ids;
}

// ---------------------------------------------------------------- the chaos run

const SESSION_TIMEOUT_MS = 5_000;
const GRACE_MS = 10_000;
const SETTINGS: SessionizerSettings = { ...DEFAULT_SETTINGS, sessionTimeoutMs: SESSION_TIMEOUT_MS, graceMs: GRACE_MS };
const progress = (msg: string, extra: object = {}) => process.stderr.write(`${JSON.stringify({ chaos: 'registry', msg, ...extra })}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The events schema of a newer producer: one more optional field (BACKWARD compatible). */
function newerEventSchema(): string {
  const current = JSON.parse(readSchema('event')) as { fields: unknown[] };
  return JSON.stringify({ ...current, fields: [...current.fields, { name: 'referrer', type: ['null', 'string'], default: null }] });
}

export default async function run(args: string[]): Promise<object> {
  const target = Number(args[0] ?? 30_000);
  const config = loadConfig({
    ...KAFKA_ENV,
    CHAOS_SEED: env.int({ default: Date.now() % 100_000 }),
    CHAOS_REGISTRY_DOWN_MS: env.int({ min: 0, default: 5_000 }),
    /** Share of the events written with the newer events schema once the registry is down. */
    CHAOS_NEWER_EVENTS: env.number({ min: 0, max: 1, default: 0.5 }),
  });
  const rng = seededRng(config.CHAOS_SEED);
  const logger = pino({ name: 'chaos', level: 'error' }, pino.destination(2)); // stdout carries only the result line
  const prefix = `chaos-registry-${randomUUID().slice(0, 8)}.`;
  const topics = topicNames(prefix);
  const registry = await ownRegistry('chaos');
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'chaos-registry', logger });
  const admin = kafka.admin();
  const procs: { current: ChildProcess | null; stopping: boolean } = { current: null, stopping: false };
  try {
    await admin.connect();
    await provisionTopics(admin, prefix);
    progress('starting the registry', { port: registry.port, database: registry.databaseUrl.replace(/^.*\//, '') });
    await registry.start();

    // The product's schemas (every topic's, the changelog's) and a newer events schema, registered up front.
    const schemaRegistry = createSchemaRegistry(registry.url);
    await new AvroSerde(schemaRegistry, topics).registerAll();
    const wire = new WireCodec(schemaRegistry, topics);
    await wire.register();
    const v2 = newerEventSchema();
    const v2Type = avro.Type.forSchema(JSON.parse(v2));
    const v2Id = await registerValueSchema(schemaRegistry, topics.events, v2);
    const idsBefore = await idsUnder(registry.url, prefix);
    progress('schemas registered', { ids: Object.fromEntries(idsBefore) });

    // The workload: whole-chain sessions sent in real time (no time compression: gaps within a session stay
    // well under the session timeout and gaps between sessions well over it, so the sessionizer's wall-clock
    // timers and the reference's event times agree), every event on time.
    const scripts: UserEvent[][] = [];
    let total = 0;
    for (let u = 0; total < target; u++) {
      const s = generateUser(rng, `user${u}`, 0, {
        sessions: 2, pagesPerSession: 6, maxItems: 4, gapMs: [50, 1_500], idleGapMs: SESSION_TIMEOUT_MS + 2_000, catalogue: 500,
      });
      scripts.push(s.events);
      total += s.events.length;
    }
    const span = Math.max(...scripts.map((s) => s.at(-1)!.eventTime));
    const timeline = scripts.flatMap((s) => s.map((e) => ({ at: e.eventTime, e }))).sort((a, b) => a.at - b.at);
    progress('workload', { events: total, users: scripts.length, seconds: span / 1000, seed: config.CHAOS_SEED });

    // One sessionizer process, restarted whenever it exits (also by itself: it gives up registering after a while).
    const logDir = join(ROOT, '.infra', 'chaos-logs');
    mkdirSync(logDir, { recursive: true });
    const log = createWriteStream(join(logDir, `${prefix}log`));
    let restores = 0;
    let selfExits = 0;
    const launch = () => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'services/sessionizer/main.ts'], {
        cwd: ROOT,
        env: {
          ...process.env,
          SCHEMA_REGISTRY_URL: registry.url,
          TOPIC_PREFIX: prefix,
          SESSIONIZER_INSTANCE_ID: 'chaos-registry',
          SESSIONIZER_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
          SESSIONIZER_GRACE_MS: String(GRACE_MS),
          SESSIONIZER_TICK_MS: '500',
          SESSIONIZER_TRANSACTION_TIMEOUT_MS: '10000',
          SESSIONIZER_KAFKA_SESSION_TIMEOUT_MS: '10000',
          LOG_LEVEL: 'info',
          HTTP_PORT: '0',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.on('data', (d: Buffer) => { restores += d.toString().split('"changelog restored"').length - 1; });
      child.stdout!.pipe(log, { end: false });
      child.stderr!.pipe(log, { end: false });
      child.on('exit', (code, signal) => {
        if (procs.current === child) procs.current = null;
        if (procs.stopping || signal === 'SIGKILL') return;
        selfExits++;
        progress('sessionizer exited by itself; starting it again', { code, signal });
        launch();
      });
      procs.current = child;
    };
    const kill = async () => {
      const victim = procs.current;
      if (!victim) return;
      const gone = new Promise((r) => victim.once('exit', r));
      victim.kill('SIGKILL');
      await gone;
      launch();
    };
    launch();

    // The output, read_committed for the whole run (kept by partition and offset).
    const output = new Map<string, KafkaMessage>();
    const deadLetters = new Map<string, KafkaMessage>();
    const reader = kafka.consumer({ groupId: `${prefix}reader`, readUncommitted: false, maxWaitTimeInMs: 200 });
    await reader.connect();
    await reader.subscribe({ topics: [topics.transitions, topics.deadLetters], fromBeginning: true });
    await reader.run({
      eachBatch: async ({ batch }) => {
        const into = batch.topic === topics.transitions ? output : deadLetters;
        for (const m of batch.messages) into.set(`${batch.partition}:${m.offset}`, m);
      },
    });

    // The fault, beside the sending: registry down; while it is down, newer events and a sessionizer crash;
    // registry up (ids compared); one more crash, so the sessionizer restores with the restarted registry.
    const phase = { v2: false };
    let idsAfter = new Map<string, number>();
    let downMs = 0;
    let kills = 0;
    const fault = (async () => {
      await sleep(span * 0.15);
      progress('stopping the registry', { transitionsSoFar: output.size });
      const downAt = Date.now();
      await registry.stop();
      phase.v2 = true;
      await sleep(config.CHAOS_REGISTRY_DOWN_MS / 2);
      await kill();
      kills++;
      progress('killed the sessionizer while the registry is down', { transitionsSoFar: output.size });
      await sleep(config.CHAOS_REGISTRY_DOWN_MS / 2);
      progress('starting the registry again');
      await registry.start();
      downMs = Date.now() - downAt;
      idsAfter = await idsUnder(registry.url, prefix);
      progress('registry back', { downSeconds: downMs / 1000, transitionsSoFar: output.size });
      await sleep(5_000);
      await kill();
      kills++;
      progress('killed the sessionizer with the registry up', { transitionsSoFar: output.size });
    })();

    // Send the workload in real time; event time is the wall clock when sent. A few records are garbage.
    const producer = createProducer(kafka);
    await producer.connect();
    const started = Date.now();
    let sent = 0;
    let invalid = 0;
    let newer = 0;
    for (let i = 0; i < timeline.length;) {
      const elapsed = Date.now() - started;
      const messages: { key: string; value: Buffer }[] = [];
      while (i < timeline.length && timeline[i]!.at <= elapsed) {
        const e = { ...timeline[i++]!.e, eventTime: Date.now() };
        let value: Buffer;
        if (phase.v2 && rng() < config.CHAOS_NEWER_EVENTS) {
          const body = v2Type.toBuffer({ ...eventToRecord(e), referrer: 'chaos' });
          value = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), body]);
          value.writeInt32BE(v2Id, 1);
          newer++;
        } else {
          value = wire.encodeEvent(e);
        }
        messages.push({ key: e.userId, value });
        if (rng() < 0.001) { messages.push({ key: e.userId, value: Buffer.from(`garbage ${i}`) }); invalid++; }
      }
      if (messages.length > 0) {
        await producer.send({ topic: topics.events, messages });
        sent += messages.length;
      } else {
        await sleep(5);
      }
    }
    await producer.disconnect();
    progress('sent', { records: sent, newer, invalid, seconds: (Date.now() - started) / 1000 });
    await fault;

    // The reference: the pure fold over the events as the topic holds them, partition by partition.
    const events = await readToEnd(kafka, topics.events, `${prefix}reference`);
    const reference = new WireCodec(createSchemaRegistry(registry.url), topics);
    await reference.register();
    await reference.prepare(events.flat().map((m) => m.value));
    const expected = referenceFold(events, reference, SETTINGS);
    progress('reference', { records: events.reduce((n, p) => n + p.length, 0), transitions: expected.transitions.length });

    // Wait until the output is complete and quiet (sessions close on the timers once caught up).
    await waitUntilQuiet(() => output.size, expected.transitions.length, Number(process.env.CHAOS_WAIT_MS ?? 300_000), progress);
    procs.stopping = true;
    await reader.disconnect();
    procs.current?.kill('SIGTERM');
    await sleep(1_000);
    procs.current?.kill('SIGKILL');
    log.end();

    // Transitions against the reference; dead letters of records that decode against the fold's own.
    const got = [...output.values()].map((m) => transitionFromRecord(reference.decode<Transition>('transitions', m.value!)));
    const { lost, duplicated, mismatched } = compareWithReference(expected.transitions, got, progress);
    let deadLetteredValid = 0;
    let deadLetteredInvalid = 0;
    for (const m of deadLetters.values()) {
      const d = reference.decode<DeadLetterRecord>('deadLetters', m.value!);
      let event: UserEvent;
      try {
        event = reference.decodeEvent(d.value);
      } catch {
        deadLetteredInvalid++;
        continue;
      }
      if (!expected.rejectedByFold.has(event.eventId)) {
        deadLetteredValid++;
        progress('a valid record was dead-lettered', { reason: d.reason, eventId: event.eventId });
      }
    }
    const idsUnchanged = idsBefore.size > 0 && [...idsBefore].every(([k, id]) => idsAfter.get(k) === id);
    return {
      chaos: 'registry', events: sent - invalid, newer_schema_events: newer, invalid_sent: invalid, transitions: got.length,
      registry_restarts: 1, registry_down_s: Math.round(downMs / 100) / 10, schema_ids: idsBefore.size, ids_unchanged: idsUnchanged,
      sessionizer_kills: kills, sessionizer_self_restarts: selfExits, restores, lost, duplicated, mismatched,
      dead_lettered: deadLetters.size, dead_lettered_invalid: deadLetteredInvalid, dead_lettered_valid: deadLetteredValid,
    };
  } finally {
    procs.stopping = true;
    procs.current?.kill('SIGKILL');
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await registry.dispose().catch((err: Error) => progress('could not clean up the registry', { err: err.message }));
  }
}

