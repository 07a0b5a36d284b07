/**
 * `npm run chaos -- broker [events]`: a Kafka broker of the run's own (deploy/infra.sh on a free port, KRaft,
 * data of its own) carries a steady stream of whole-chain user events through the real sessionizer, learner
 * and serving processes while it is stopped (SIGTERM) and started again on the same data, CHAOS_RESTARTS
 * times. Nothing restarts the services: each must resume by itself. A probe asks the serving node for
 * recommendations throughout (its recommendation events go to the events topic like any node's).
 * Prints {"chaos":"broker",…}: lost, duplicated and mismatched (the transitions topic, read_committed,
 * against the pure fold over the events topic as it holds them) must be 0, and so must learner_read_twice
 * (transitions the learner counted beyond those in the topic); sessionizer_resumed, learner_resumed and
 * serving_resumed must be true and processes_exited 0.
 *
 * Settings: CHAOS_SECONDS (default 150) of sending [events] (default 20,000) events; CHAOS_RESTARTS (2), spread
 * evenly over the sending; CHAOS_BROKER_DOWN_MS (2,000) more between the broker's exit and its start;
 * CHAOS_GRACE_MS (the sessionizer's grace, its default 5,000: events made before an outage and delivered after it
 * are applied when they still come after what their user's state reflects, services/sessionizer/fold.ts); CHAOS_PROBE_RATE
 * (10 requests/s); CHAOS_SEED. The schema registry is the shared one (subjects under the run's prefix).
 * Logs: .infra/chaos-logs/<prefix>{sessionizer,learner,serving,broker-N}.log.
 * Long because it drives a whole run; its phases are marked below.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KafkaMessage } from 'kafkajs';
import { pino } from 'pino';
import {
  AvroSerde, createKafka, createProducer, createSchemaRegistry, env, freePort, KAFKA_ENV, loadConfig, METRICS, migratePool,
  provisionTopics, startServiceProcess, topicNames, transitionFromRecord, type ServiceProcess, type Transition, type UserEvent,
} from '../../services/common/index.js';
import { DEFAULT_SETTINGS, type SessionizerSettings } from '../../services/sessionizer/state.js';
import { WireCodec } from '../../services/sessionizer/wire.js';
import { generateUser, seededRng } from '../../services/sessionizer/workload.js';
import { createTestDatabase } from '../support/database.js';
import { readToEnd, waitUntilQuiet } from '../support/topic-reader.js';
import { ownBroker } from '../support/own-broker.js';
import { metricsOf, metricSum } from '../support/service-metrics.js';
import { compareWithReference, referenceFold } from '../support/reference-fold.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const LOGS = join(ROOT, '.infra', 'chaos-logs');
const MODEL = 'deepchain';
const SESSION_TIMEOUT_MS = 5_000;
const HISTORY_LENGTH = 10;
const progress = (msg: string, extra: object = {}) => process.stderr.write(`${JSON.stringify({ chaos: 'broker', msg, ...extra })}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (ms: number) => Math.round(ms / 100) / 10;

interface Snapshot { at: number; sessionizerTransitions: number; sessionizerDeadLetters: number; learnerSeen: number; learnerSteps: number; learnerVersions: number; servingVersion: number }

// ---------------------------------------------------------------- the chaos run

export default async function run(args: string[]): Promise<object> {
  const target = Number(args[0] ?? 20_000);
  const config = loadConfig({
    ...KAFKA_ENV,
    CHAOS_SEED: env.int({ default: Date.now() % 100_000 }),
    CHAOS_SECONDS: env.int({ min: 30, default: 150 }),
    CHAOS_RESTARTS: env.int({ min: 0, max: 10, default: 2 }),
    CHAOS_BROKER_DOWN_MS: env.int({ min: 0, default: 2_000 }),
    CHAOS_GRACE_MS: env.int({ min: 0, default: DEFAULT_SETTINGS.graceMs }),
    CHAOS_PROBE_RATE: env.int({ min: 1, max: 200, default: 10 }),
  });
  const settings: SessionizerSettings = { ...DEFAULT_SETTINGS, historyLength: HISTORY_LENGTH, sessionTimeoutMs: SESSION_TIMEOUT_MS, graceMs: config.CHAOS_GRACE_MS };
  const rng = seededRng(config.CHAOS_SEED);
  const logger = pino({ name: 'chaos', level: 'fatal' }, pino.destination(2)); // the broker's outages make kafkajs loud
  const prefix = `chaos-broker-${randomUUID().slice(0, 8)}.`;
  const topics = topicNames(prefix);
  const started = Date.now();
  mkdirSync(LOGS, { recursive: true });

  const broker = await ownBroker();
  const db = await createTestDatabase();
  const services: { name: string; port: number; proc: ServiceProcess; exited: object | null }[] = [];
  try {
    progress('starting the broker', { port: broker.port });
    await broker.start();
    const kafka = createKafka({ brokers: broker.brokers, clientId: 'chaos-broker', logger });
    const admin = kafka.admin();
    await admin.connect();
    await provisionTopics(admin, prefix);
    await admin.disconnect();
    const schemaRegistry = createSchemaRegistry(config.SCHEMA_REGISTRY_URL);
    await new AvroSerde(schemaRegistry, topics).registerAll();
    const wire = new WireCodec(schemaRegistry, topics);
    await wire.register();
    await migratePool(db.pool);

    // ---------------------------------------------------------------- the three services, never restarted here
    // One history length for the three, as in a deployment (HISTORY_LENGTH), and the reference fold's too.
    const common = {
      KAFKA_BROKERS: broker.brokers.join(','), SCHEMA_REGISTRY_URL: config.SCHEMA_REGISTRY_URL, TOPIC_PREFIX: prefix, HTTP_HOST: '127.0.0.1', LOG_LEVEL: 'info',
      HISTORY_LENGTH: String(HISTORY_LENGTH),
    };
    const specs: [string, Record<string, string>][] = [
      ['sessionizer', {
        SESSIONIZER_INSTANCE_ID: 'chaos-broker', SESSIONIZER_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS), SESSIONIZER_GRACE_MS: String(config.CHAOS_GRACE_MS),
        SESSIONIZER_TICK_MS: '500', SESSIONIZER_TRANSACTION_TIMEOUT_MS: '10000', SESSIONIZER_KAFKA_SESSION_TIMEOUT_MS: '10000',
      }],
      ['learner', {
        DATABASE_URL: db.url, MODEL_NAME: MODEL, EMBEDDING_SIZE: '8', HIDDEN_SIZE: '16', BATCH_SIZE: '32', TRAIN_START: '64',
        REPLAY_CAPACITY: '20000', PUBLISH_EVERY_STEPS: '50', PUBLISH_EVERY_S: '5', CHECKPOINT_EVERY_S: '5', HOLDOUT_EVERY: '20', RELEASE_GATE: 'none',
      }],
      ['serving', { DATABASE_URL: db.url, MODEL_NAME: MODEL, SERVING_NODE_ID: 'chaos-broker' }],
    ];
    let stopping = false;
    for (const [name, extra] of specs) {
      const port = await freePort();
      const proc = startServiceProcess(name, { ...common, ...extra, HTTP_PORT: String(port) });
      const log = createWriteStream(join(LOGS, `${prefix}${name}.log`));
      proc.child.stdout!.pipe(log);
      proc.child.stderr!.pipe(log);
      const service = { name, port, proc, exited: null as object | null };
      proc.child.once('exit', (code, signal) => {
        if (stopping) return;
        service.exited = { code, signal, at_s: seconds(Date.now() - started) };
        progress(`${name} exited by itself (not restarted)`, { code, signal, tail: proc.output().slice(-2000) });
      });
      services.push(service);
    }
    const [sessionizer, learner, serving] = services as [typeof services[0], typeof services[0], typeof services[0]];
    for (const [s, path] of [[sessionizer, '/readyz'], [learner, '/healthz'], [serving, '/healthz']] as const) {
      const until = Date.now() + 180_000;
      while ((await fetch(`http://127.0.0.1:${s.port}${path}`).then((r) => r.status).catch(() => 0)) !== 200) {
        if (s.exited || Date.now() > until) throw new Error(`${s.name} did not get ready:\n${s.proc.output().slice(-3000)}`);
        await sleep(300);
      }
    }
    progress('services ready', { prefix, sessionizer: sessionizer.port, learner: learner.port, serving: serving.port });

    const snapshot = async (): Promise<Snapshot> => {
      const [s, l] = await Promise.all([metricsOf(sessionizer.port), metricsOf(learner.port)]);
      const v = await fetch(`http://127.0.0.1:${serving.port}/v1/version`, { signal: AbortSignal.timeout(2_000) })
        .then(async (r) => (r.ok ? ((await r.json()) as { version: number }).version : 0)).catch(() => 0);
      return {
        at: Date.now(),
        sessionizerTransitions: metricSum(s, METRICS.sessionizer.transitions.name),
        sessionizerDeadLetters: metricSum(s, METRICS.sessionizer.deadLetters.name),
        learnerSeen: metricSum(l, METRICS.learner.transitions.name, /outcome="(accepted|held_out|rejected|undecodable)"/),
        learnerSteps: metricSum(l, METRICS.learner.steps.name),
        learnerVersions: metricSum(l, METRICS.learner.versions.name),
        servingVersion: v,
      };
    };

    // ---------------------------------------------------------------- the workload: users spread over the sending
    const spreadMs = config.CHAOS_SECONDS * 1000;
    const scripts: UserEvent[][] = [];
    let total = 0;
    for (let u = 0; total < target; u++) {
      const s = generateUser(rng, `user${u}`, 0, {
        sessions: 2, pagesPerSession: 5, maxItems: 4, gapMs: [50, 1_500], idleGapMs: SESSION_TIMEOUT_MS + 2_000, catalogue: 500,
      });
      const length = s.events.at(-1)!.eventTime;
      const offset = rng() * Math.max(0, spreadMs - length);
      scripts.push(s.events.map((e) => ({ ...e, eventTime: e.eventTime + offset })));
      total += s.events.length;
    }
    const timeline = scripts.flat().map((e) => ({ at: e.eventTime, e })).sort((a, b) => a.at - b.at);
    const span = timeline.at(-1)!.at;
    progress('workload', { events: total, users: scripts.length, seconds: seconds(span), seed: config.CHAOS_SEED });

    // ---------------------------------------------------------------- the probe: recommend requests throughout
    const phase = { down: false, restarts: 0 };
    const probe = { before: { ok: 0, failed: 0 }, outage: { ok: 0, failed: 0 }, after: { ok: 0, failed: 0 }, noModel: 0, firstOkAfterRestartS: [] as number[] };
    let probing = true;
    let upAt = 0;
    const prober = (async () => {
      for (let i = 0; probing; i++) {
        const tick = Date.now();
        const bucket = phase.down ? probe.outage : phase.restarts > 0 ? probe.after : probe.before;
        const status = await fetch(`http://127.0.0.1:${serving.port}/v1/recommend`, {
          method: 'POST', headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(2_000),
          body: JSON.stringify({ userId: `probe${i}`, sessionId: `probe${i}`, scenario: 'entrance', k: 4 }),
        }).then((r) => r.status).catch(() => 0);
        if (status === 200) {
          bucket.ok++;
          if (upAt > 0) { probe.firstOkAfterRestartS.push(seconds(Date.now() - upAt)); upAt = 0; }
        } else if (status === 503 && phase.restarts === 0 && !phase.down) {
          probe.noModel++; // before the first version: not an outage error
        } else {
          bucket.failed++;
        }
        await sleep(Math.max(0, 1000 / config.CHAOS_PROBE_RATE - (Date.now() - tick)));
      }
    })();

    // ---------------------------------------------------------------- the fault: SIGTERM, a pause, start on the same data
    const downs: number[] = [];
    const atRestart: Snapshot[] = [];
    let killedBroker = 0;
    const sendStart = Date.now();
    const fault = (async () => {
      for (let r = 0; r < config.CHAOS_RESTARTS; r++) {
        await sleep(Math.max(0, sendStart + (span * (r + 1)) / (config.CHAOS_RESTARTS + 1) - Date.now()));
        progress('stopping the broker (SIGTERM)', { restart: r + 1, ...(await snapshot()) });
        phase.down = true;
        const downAt = Date.now();
        if (await broker.stop()) killedBroker++;
        broker.keepLog(join(LOGS, `${prefix}broker-${r + 1}.log`));
        await sleep(config.CHAOS_BROKER_DOWN_MS);
        await broker.start();
        downs.push(Date.now() - downAt);
        phase.down = false;
        phase.restarts++;
        upAt = Date.now();
        atRestart.push(await snapshot());
        progress('broker back', { restart: r + 1, downSeconds: seconds(downs.at(-1)!), ...atRestart.at(-1) });
      }
    })();

    // ---------------------------------------------------------------- the sending: real time, event time = the wall clock when made
    const producer = createProducer(kafka);
    await producer.connect();
    let sent = 0;
    let sendRetries = 0;
    let maxDelayMs = 0;
    for (let i = 0; i < timeline.length;) {
      const elapsed = Date.now() - sendStart;
      const batch: { key: string; value: Buffer }[] = [];
      const madeAt = Date.now();
      while (i < timeline.length && timeline[i]!.at <= elapsed) {
        const e = { ...timeline[i++]!.e, eventTime: madeAt };
        batch.push({ key: e.userId, value: wire.encodeEvent(e) });
      }
      if (batch.length === 0) { await sleep(5); continue; }
      // A client keeps its events (and their times) until the broker takes them.
      for (;;) {
        try {
          await producer.send({ topic: topics.events, messages: batch });
          break;
        } catch (err) {
          sendRetries++;
          if (sendRetries % 5 === 1) progress('send failed; retrying', { err: (err as Error).message });
          await sleep(500);
        }
      }
      maxDelayMs = Math.max(maxDelayMs, Date.now() - madeAt);
      sent += batch.length;
    }
    progress('sent', { events: sent, seconds: seconds(Date.now() - sendStart), sendRetries, maxDelaySeconds: seconds(maxDelayMs) });
    await fault;
    await producer.disconnect();

    // ---------------------------------------------------------------- wait for the output: complete and quiet
    // The probe stops first: the serving node's last recommendation events (sent after a linger) must be in
    // the events topic before the reference reads it. Then sessions close once the wall clock passes their
    // last event by the timeout plus the grace.
    probing = false;
    await prober;
    await sleep(SESSION_TIMEOUT_MS + config.CHAOS_GRACE_MS);
    const events = await readToEnd(kafka, topics.events, `${prefix}reference`);
    const reference = referenceFold(events, wire, settings);
    const expected = reference.transitions;
    progress('reference', { records: events.reduce((n, p) => n + p.length, 0), transitions: expected.length });
    const output = new Map<string, KafkaMessage>();
    const reader = kafka.consumer({ groupId: `${prefix}reader`, readUncommitted: false, maxWaitTimeInMs: 200 });
    await reader.connect();
    await reader.subscribe({ topics: [topics.transitions], fromBeginning: true });
    await reader.run({ eachBatch: async ({ batch }) => { for (const m of batch.messages) output.set(`${batch.partition}:${m.offset}`, m); } });
    await waitUntilQuiet(() => output.size, expected.length, Number(process.env.CHAOS_WAIT_MS ?? 180_000), progress);
    await reader.disconnect();
    // The learner reads what the sessionizer wrote: wait until it has counted as many, and published once more.
    const learnerUntil = Date.now() + 90_000;
    let end = await snapshot();
    while (Date.now() < learnerUntil && (end.learnerSeen < output.size || end.servingVersion <= (atRestart.at(-1)?.servingVersion ?? 0))) {
      await sleep(2_000);
      end = await snapshot();
    }
    progress('end', { ...end });

    // ---------------------------------------------------------------- the accounting
    const got = [...output.values()].map((m) => transitionFromRecord(wire.decode<Transition>('transitions', m.value!)));
    const { lost, duplicated, mismatched } = compareWithReference(expected, got, progress);

    const lastUp = atRestart.at(-1);
    const exited = services.filter((s) => s.exited).map((s) => ({ name: s.name, ...s.exited }));
    const warnings = Object.fromEntries(services.map((s) => [s.name, (s.proc.output().match(/"level":(40|50|60)/g) ?? []).length]));
    stopping = true;
    await Promise.all(services.map((s) => s.proc.stop(30_000)));
    broker.keepLog(join(LOGS, `${prefix}broker-final.log`));
    return {
      chaos: 'broker',
      events: sent,
      transitions: got.length,
      expected_transitions: expected.length,
      broker_restarts: downs.length,
      broker_down_s: seconds(downs.reduce((a, b) => a + b, 0)),
      broker_down_each_s: downs.map(seconds),
      broker_killed_after_sigterm: killedBroker,
      lost,
      duplicated,
      mismatched,
      dead_letters: end.sessionizerDeadLetters,
      dead_letters_by_reference: reference.rejectedByFold.size,
      send_retries: sendRetries,
      max_send_delay_s: seconds(maxDelayMs),
      sessionizer_transitions_at_last_restart: lastUp?.sessionizerTransitions ?? null,
      sessionizer_transitions_end: end.sessionizerTransitions,
      sessionizer_resumed: !!lastUp && end.sessionizerTransitions > lastUp.sessionizerTransitions,
      learner_transitions_seen_at_last_restart: lastUp?.learnerSeen ?? null,
      learner_transitions_seen_end: end.learnerSeen,
      learner_steps_at_last_restart: lastUp?.learnerSteps ?? null,
      learner_steps_end: end.learnerSteps,
      learner_versions_end: end.learnerVersions,
      learner_resumed: !!lastUp && end.learnerSeen > lastUp.learnerSeen && end.learnerSteps > lastUp.learnerSteps,
      // The learner's process never restarted, so it reads each transition once: more is a re-read.
      learner_read_twice: Math.max(0, end.learnerSeen - output.size),
      serving_ok_before: probe.before.ok,
      serving_no_model_before: probe.noModel,
      serving_failed_before: probe.before.failed,
      serving_ok_during_outage: probe.outage.ok,
      serving_errors_during_outage: probe.outage.failed,
      serving_ok_after_restart: probe.after.ok,
      serving_errors_after_restart: probe.after.failed,
      serving_first_ok_after_restart_s: probe.firstOkAfterRestartS,
      serving_version_at_last_restart: lastUp?.servingVersion ?? null,
      serving_version_end: end.servingVersion,
      serving_resumed: !!lastUp && probe.after.ok > 0 && end.servingVersion > lastUp.servingVersion,
      processes_exited: exited.length,
      ...(exited.length ? { exits: exited } : {}),
      restarted_by_chaos: 0,
      warn_or_error_log_lines: warnings,
      seed: config.CHAOS_SEED,
      seconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    for (const s of services) await s.proc.kill9().catch(() => undefined);
    await broker.dispose().catch((err: Error) => progress('could not clean up the broker', { err: err.message }));
    await db.drop().catch(() => undefined);
  }
}

