/**
 * `npm run chaos -- serving`: a real serving process under a steady open-loop load of recommend requests
 * (CHAOS_RATE, default 500/s, node:http with kept-alive connections) while first its Kafka broker and then its
 * Postgres go away and come back. Both are the run's own: a broker on a free port (test/support/own-broker.ts,
 * deploy/infra.sh) and a Postgres server initdb'd into a temporary folder on a free port
 * (test/support/own-postgres.ts); the shared broker (9092) and Postgres (5432) are never touched. The schema
 * registry is the shared one (subjects under the run's prefix).
 *
 * Set-up: topics under a fresh prefix, the registry's tables migrated into the private Postgres, version 1 (a small
 * model trained here) written to it and announced on `models` (inline weights, as the learner does). Phases:
 *   warmup            CHAOS_WARMUP_MS (15 s)
 *   kafka_down        the broker stopped (deploy/infra.sh down: SIGTERM), CHAOS_KAFKA_DOWN_MS (5 s), started again
 *                     on the same data (the phase ends when it answers: stopping and starting it added 16–70 s
 *                     on the 2-core machine, so the outage is up to about a minute: the spill's bound at 500/s)
 *   kafka_recovery    CHAOS_RECOVERY_MS (20 s)
 *   postgres_down     `pg_ctl stop -m fast`; version 2 — written to the registry before — is announced on `models`
 *                     by reference (weights null, `registryRef`, as announcementOf does for versions past
 *                     INLINE_WEIGHTS_LIMIT), so the node must fetch its weights from the stopped Postgres and keep
 *                     serving version 1; CHAOS_POSTGRES_DOWN_MS (20 s), then `pg_ctl start`
 *   postgres_recovery CHAOS_RECOVERY_MS (20 s): the node must load version 2 by itself
 * A request is an error when it is answered with another status than 200, not answered within
 * CHAOS_REQUEST_TIMEOUT_MS (10 s), or its connection fails; each phase reports its answers' latency (p50, p99,
 * max, from the request's send), to compare the outages with the warm-up on the same machine. The node's spill
 * (deepchain_serving_events_spilled, deepchain_serving_events_dropped_total) is sampled from its /metrics every
 * 250 ms. After the load, once the spill is empty, the events topic is read back (read_committed) and matched by
 * request id against the requests the node answered: events_lost counts answered requests with no event in the
 * topic beyond those the node counted as dropped (the documented bound, EVENT_SPILL_EVENTS); events_duplicated
 * counts extra copies (a batch re-sent after an unacknowledged attempt; the sessionizer drops them by event id).
 *
 * Prints {"chaos":"serving",…,"errors":0,"events_lost":0}; also the achieved request rate, the versions answered,
 * the latency and the node's CPU time (share of one core, /proc/PID/stat) per phase, the spill's peak against its
 * bound, whether the node moved to version 2 after Postgres returned (`serving_version_end`,
 * `version_2_after_postgres_back_s`, its deployment row in the registry), and the node's consumer groups on the
 * run's broker (`models_group_stable_after_kafka_back_s`: when a `models` group had its one member again).
 * Logs: .infra/chaos-logs/<prefix>{serving,broker-1,broker-final,postgres}.log.
 */
import { randomUUID } from 'node:crypto';
import { copyFileSync, createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import {
  AvroSerde, createKafka, createProducer, createSchemaRegistry, env, eventFromRecord, freePort, KAFKA_ENV, loadConfig, METRICS, migratePool,
  provisionTopics, startServiceProcess, topicNames, withSession, type EventRecord, type ServiceProcess,
} from '../../services/common/index.js';
import { selectBackend } from '../../services/model/index.js';
import { announce, announcementOf, currentDeployments, getVersion, insertVersion, registryRef } from '../../services/registry/index.js';
import { ownBroker } from '../support/own-broker.js';
import { ownPostgres } from '../support/own-postgres.js';
import { metricsOf, metricSum } from '../support/service-metrics.js';
import { readToEnd } from '../support/topic-reader.js';
import { smallTrainer } from '../support/transitions.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const LOGS = join(ROOT, '.infra', 'chaos-logs');
const MODEL = 'deepchain';
const SPILL_BOUND = 30_000; // EVENT_SPILL_EVENTS's default (services/serving/config.ts), set explicitly below
const PHASES = ['warmup', 'kafka_down', 'kafka_recovery', 'postgres_down', 'postgres_recovery'] as const;
type Phase = (typeof PHASES)[number];
const progress = (msg: string, extra: object = {}) => process.stderr.write(`${JSON.stringify({ chaos: 'serving', msg, ...extra })}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (ms: number) => Math.round(ms / 100) / 10;

interface PhaseCount { sent: number; ok: number; errors: number; versions: Record<string, number>; latencies: number[] }

export default async function run(_args: string[]): Promise<object> {
  const config = loadConfig({
    ...KAFKA_ENV,
    CHAOS_RATE: env.int({ min: 1, max: 5_000, default: 500 }),
    CHAOS_WARMUP_MS: env.int({ min: 1_000, default: 15_000 }),
    CHAOS_KAFKA_DOWN_MS: env.int({ min: 0, default: 5_000 }),
    CHAOS_POSTGRES_DOWN_MS: env.int({ min: 0, default: 20_000 }),
    CHAOS_RECOVERY_MS: env.int({ min: 5_000, default: 20_000 }),
    CHAOS_REQUEST_TIMEOUT_MS: env.int({ min: 100, default: 10_000 }),
  });
  const logger = pino({ name: 'chaos', level: 'fatal' }, pino.destination(2)); // the broker's outage makes kafkajs loud
  const prefix = `chaos-serving-${randomUUID().slice(0, 8)}.`;
  const topics = topicNames(prefix);
  const started = Date.now();
  mkdirSync(LOGS, { recursive: true });

  const broker = await ownBroker();
  const postgres = await ownPostgres();
  let serving: ServiceProcess | null = null;
  let pool: ReturnType<typeof postgres.pool> | null = null;
  // An interrupted run (Ctrl-C: test/run-named.ts exits at once) skips `finally`: clean up on the way out.
  const onExit = () => {
    serving?.child.kill('SIGKILL');
    broker.disposeSync();
    postgres.disposeSync();
  };
  process.once('exit', onExit);
  try {
    // ---------------------------------------------------------------- servers of the run's own
    progress('starting the broker and Postgres', { kafka: broker.port, postgres: postgres.port });
    await Promise.all([broker.start(), postgres.start()]);
    const kafka = createKafka({ brokers: broker.brokers, clientId: 'chaos-serving', logger });
    const admin = kafka.admin();
    await admin.connect();
    await provisionTopics(admin, prefix);
    await admin.disconnect();
    const serde = new AvroSerde(createSchemaRegistry(config.SCHEMA_REGISTRY_URL), topics);
    await serde.registerAll();
    pool = postgres.pool();
    await migratePool(pool);

    // ---------------------------------------------------------------- versions 1 and 2 in the registry; 1 announced
    await selectBackend({ prefer: 'cpu' });
    const trainer = smallTrainer(200, 16);
    const newVersion = (weights: Uint8Array) => ({
      model: MODEL, trainSteps: 0, transitionsSeen: 0, sourceOffsets: {}, metrics: {}, weights, status: 'live' as const,
    });
    const v1 = await withSession(pool, (db) => insertVersion(db, newVersion(trainer.publishableWeights())));
    for (let i = 0; i < 20; i++) trainer.step();
    const producer = createProducer(kafka);
    await producer.connect();
    const v1Full = (await withSession(pool, (db) => getVersion(db, MODEL, v1.version)))!;
    await announce(producer, serde, topics, announcementOf(v1Full, false));

    // ---------------------------------------------------------------- the serving node, never restarted here
    const port = await freePort();
    serving = startServiceProcess('serving', {
      KAFKA_BROKERS: broker.brokers.join(','), SCHEMA_REGISTRY_URL: config.SCHEMA_REGISTRY_URL, TOPIC_PREFIX: prefix, HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(port), LOG_LEVEL: 'info', DATABASE_URL: postgres.url, MODEL_NAME: MODEL, SERVING_NODE_ID: 'chaos-serving',
      HISTORY_LENGTH: '10', EVENT_SPILL_EVENTS: String(SPILL_BOUND),
    });
    const log = createWriteStream(join(LOGS, `${prefix}serving.log`));
    serving.child.stdout!.pipe(log);
    serving.child.stderr!.pipe(log);
    let exited: object | null = null;
    let stopping = false;
    const node = serving;
    node.child.once('exit', (code, signal) => {
      if (stopping) return;
      exited = { code, signal, at_s: seconds(Date.now() - started) };
      progress('serving exited by itself (not restarted)', { code, signal, tail: node.output().slice(-2000) });
    });
    // The node's consumer groups on the run's broker (models: one member, committed up to the topic's end).
    const groups = async () => {
      const a = kafka.admin();
      await a.connect();
      try {
        const ids = (await a.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith('serving-'));
        const described = (await a.describeGroups(ids)).groups;
        const out: Record<string, object> = {};
        for (const g of described) {
          const topic = g.groupId.startsWith('serving-models') ? topics.models : topics.transitions;
          const committed = (await a.fetchOffsets({ groupId: g.groupId, topics: [topic] }))[0]?.partitions ?? [];
          const ends = await a.fetchTopicOffsets(topic);
          const behind = committed.reduce((n, p) => n + Math.max(0, Number(ends.find((e) => e.partition === p.partition)?.high ?? 0) - Math.max(0, Number(p.offset))), 0);
          out[g.groupId] = { state: g.state, members: g.members.length, behind };
        }
        return out;
      } catch (err) {
        return { error: { state: (err as Error).message, members: 0, behind: -1 } };
      } finally {
        await a.disconnect().catch(() => undefined);
      }
    };
    const versionNow = () => fetch(`http://127.0.0.1:${port}/v1/version`, { signal: AbortSignal.timeout(10_000) })
      .then(async (r) => (r.ok ? ((await r.json()) as { version: number }).version : 0)).catch(() => 0);
    const readyUntil = Date.now() + 180_000;
    while ((await versionNow()) !== v1.version) {
      if (exited || Date.now() > readyUntil) throw new Error(`serving did not load version ${v1.version}:\n${node.output().slice(-3000)}`);
      await sleep(300);
    }
    progress('serving answers with version 1', { prefix, port });

    // ---------------------------------------------------------------- the load: an open loop at CHAOS_RATE
    let phase: Phase = 'warmup';
    const counts = Object.fromEntries(PHASES.map((p) => [p, { sent: 0, ok: 0, errors: 0, versions: {}, latencies: [] as number[] }])) as Record<Phase, PhaseCount>;
    const errorKinds: Record<string, number> = {};
    const answered = new Set<string>(); // request ids the node answered (200, within the timeout)
    let sent = 0;
    let inFlight = 0;
    let maxLatencyMs = 0;
    let firstV2At = 0;
    let v2Version = -1; // known once version 2 is written, before Postgres goes
    const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    const fire = (i: number) => {
      const bucket = counts[phase];
      bucket.sent++;
      inFlight++;
      const t0 = Date.now();
      const body = JSON.stringify({ userId: `u${i % 2000}`, sessionId: `s${i % 2000}`, scenario: 'entrance', k: 4 });
      let settled = false;
      const settle = (ok: boolean, kind: string, res?: { requestId: string; version: number }) => {
        if (settled) return;
        settled = true;
        inFlight--;
        maxLatencyMs = Math.max(maxLatencyMs, Date.now() - t0);
        if (ok && res) {
          bucket.ok++;
          bucket.latencies.push(Date.now() - t0);
          answered.add(res.requestId);
          bucket.versions[res.version] = (bucket.versions[res.version] ?? 0) + 1;
          if (res.version === v2Version && !firstV2At) firstV2At = Date.now();
        } else {
          bucket.errors++;
          errorKinds[`${phase}:${kind}`] = (errorKinds[`${phase}:${kind}`] ?? 0) + 1;
        }
      };
      const req = http.request({
        host: '127.0.0.1', port, path: '/v1/recommend', method: 'POST', agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (s: string) => { text += s; });
        res.on('end', () => {
          if (res.statusCode !== 200) return settle(false, `status_${res.statusCode}`);
          try {
            settle(true, 'ok', JSON.parse(text) as { requestId: string; version: number });
          } catch {
            settle(false, 'bad_body');
          }
        });
        res.on('error', () => settle(false, 'response_error'));
      });
      req.setTimeout(config.CHAOS_REQUEST_TIMEOUT_MS, () => { req.destroy(new Error('timeout')); settle(false, 'timeout'); });
      req.on('error', (err: Error & { code?: string }) => settle(false, err.code ?? err.message));
      req.end(body);
    };
    let loading = true;
    const loadStart = Date.now();
    const loader = (async () => {
      while (loading) {
        const due = Math.floor(((Date.now() - loadStart) * config.CHAOS_RATE) / 1000);
        // A stall of the generator itself sends the missed requests at once (open loop), at most a second's worth.
        if (due - sent > config.CHAOS_RATE) sent = due - config.CHAOS_RATE;
        while (sent < due) fire(sent++);
        await sleep(2);
      }
    })();

    // ---------------------------------------------------------------- the spill, sampled from the node's metrics
    let spilledMax = 0;
    let spilledMaxAt: Phase = 'warmup';
    let droppedEnd = 0;
    let spilledNow = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const text = await metricsOf(port);
        if (text !== null) {
          spilledNow = metricSum(text, METRICS.serving.eventsSpilled.name);
          droppedEnd = metricSum(text, METRICS.serving.eventsDropped.name);
          if (spilledNow > spilledMax) { spilledMax = spilledNow; spilledMaxAt = phase; }
        }
        await sleep(250);
      }
    })();
    const phaseStart: Partial<Record<Phase, number>> = { warmup: Date.now() };
    // The node's own CPU time (user + system, /proc/PID/stat) per phase: what the outages cost the node itself.
    const cpuMs = () => {
      try {
        const f = readFileSync(`/proc/${node.child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in clock ticks (100/s)
      } catch {
        return NaN;
      }
    };
    const cpuAt: Partial<Record<Phase, number>> = { warmup: cpuMs() };
    const cpuOf: Partial<Record<Phase, number>> = {};
    const enter = (p: Phase, extra: object = {}) => {
      const now = cpuMs();
      cpuOf[phase] = now - cpuAt[phase]!;
      cpuAt[p] = now;
      phase = p;
      phaseStart[p] = Date.now();
      progress(`phase ${p}`, { at_s: seconds(Date.now() - loadStart), sent, inFlight, spilled: spilledNow, ...extra });
    };

    // ---------------------------------------------------------------- the faults
    await sleep(config.CHAOS_WARMUP_MS);
    enter('kafka_down');
    const kafkaDownAt = Date.now();
    const brokerKilled = await broker.stop();
    broker.keepLog(join(LOGS, `${prefix}broker-1.log`));
    progress('broker stopped', { stop_s: seconds(Date.now() - kafkaDownAt), killed: brokerKilled });
    await sleep(config.CHAOS_KAFKA_DOWN_MS);
    await broker.start();
    const kafkaOutageMs = Date.now() - kafkaDownAt;
    const kafkaBackAt = Date.now();
    enter('kafka_recovery', { kafka_outage_s: seconds(kafkaOutageMs) });
    // The node's models consumer crashed while the broker was away; kafkajs restarts it, and it reads again once
    // its group is stable with the one member (the old member, which could not leave, times out first).
    let modelsStableAfterS: number | null = null;
    const watcher = (async () => {
      while (modelsStableAfterS === null && Date.now() - kafkaBackAt < 180_000 && sampling) {
        const g = (await groups()) as Record<string, { state?: string; members?: number }>;
        const stable = Object.entries(g).some(([id, x]) => id.startsWith('serving-models-') && x.state === 'Stable' && x.members === 1);
        if (stable) modelsStableAfterS = seconds(Date.now() - kafkaBackAt);
        else await sleep(1_000);
      }
      progress('models consumer group stable again', { after_kafka_back_s: modelsStableAfterS });
    })();
    await sleep(config.CHAOS_RECOVERY_MS);

    // Version 2's row is committed before Postgres goes; its announcement comes while it is away.
    const v2 = await withSession(pool, (db) => insertVersion(db, newVersion(trainer.publishableWeights())));
    const v2Announcement = { ...announcementOf((await withSession(pool, (db) => getVersion(db, MODEL, v2.version)))!, false), weights: null, registryRef: registryRef(MODEL, v2.version) };
    v2Version = v2.version;
    enter('postgres_down');
    const postgresDownAt = Date.now();
    await postgres.stop('fast');
    progress('Postgres stopped', { stop_s: seconds(Date.now() - postgresDownAt) });
    await announce(producer, serde, topics, v2Announcement);
    progress('version 2 announced by reference', { version: v2.version });
    await sleep(config.CHAOS_POSTGRES_DOWN_MS);
    const versionBeforePostgresBack = await versionNow();
    const groupsBeforePostgresBack = await groups();
    progress('consumer groups', groupsBeforePostgresBack);
    await postgres.start();
    const postgresBackAt = Date.now();
    const postgresOutageMs = postgresBackAt - postgresDownAt;
    enter('postgres_recovery', { postgres_outage_s: seconds(postgresOutageMs), version_before_postgres_back: versionBeforePostgresBack });
    await sleep(config.CHAOS_RECOVERY_MS);

    // ---------------------------------------------------------------- the end of the load; the events read back
    loading = false;
    await loader;
    const loadMs = Date.now() - loadStart;
    cpuOf[phase] = cpuMs() - cpuAt[phase]!;
    const drainUntil = Date.now() + 2 * config.CHAOS_REQUEST_TIMEOUT_MS + 1_000;
    while (inFlight > 0 && Date.now() < drainUntil) await sleep(50);
    agent.destroy();
    const versionEnd = await versionNow();
    const groupsEnd = await groups();
    const spillUntil = Date.now() + 120_000;
    do await sleep(1_000); while (spilledNow > 0 && Date.now() < spillUntil);
    await sleep(1_500); // the last events' linger (EVENT_LINGER_MS, 100 ms) and the sampler's last look
    sampling = false;
    await sampler;
    await watcher;
    progress('load over', { sent, seconds: seconds(loadMs), inFlight, spilled: spilledNow, dropped: droppedEnd, version: versionEnd });

    const records = (await readToEnd(kafka, topics.events, `${prefix}reader`)).flat();
    const seen = new Map<string, number>();
    let otherEvents = 0;
    for (const m of records) {
      const e = eventFromRecord(await serde.decode<EventRecord>(m.value!));
      if (e.type !== 'recommendation') { otherEvents++; continue; }
      seen.set(e.requestId, (seen.get(e.requestId) ?? 0) + 1);
    }
    let delivered = 0;
    let missing = 0;
    for (const id of answered) {
      if (seen.has(id)) delivered++;
      else missing++;
    }
    const duplicated = [...seen.values()].reduce((n, c) => n + c - 1, 0);
    const notAnswered = [...seen.keys()].filter((id) => !answered.has(id)).length; // served, but late or cut off at the client
    const deployments = await withSession(pool, (db) => currentDeployments(db)).catch(() => []);
    const deployed = deployments.find((d) => d.servingNode === 'chaos-serving' && d.model === MODEL)?.version ?? null;
    const warnings = (node.output().match(/"level":(40|50|60)/g) ?? []).length;
    producer.disconnect().catch(() => undefined);
    stopping = true;
    const stoppedCleanly = await node.stop(30_000).then(() => true, () => false);
    broker.keepLog(join(LOGS, `${prefix}broker-final.log`));
    if (existsSync(postgres.logPath)) copyFileSync(postgres.logPath, join(LOGS, `${prefix}postgres.log`));

    const total = PHASES.reduce((a, p) => ({ sent: a.sent + counts[p].sent, ok: a.ok + counts[p].ok, errors: a.errors + counts[p].errors }), { sent: 0, ok: 0, errors: 0 });
    const servedOld = (p: Phase) => Object.entries(counts[p].versions).filter(([v]) => Number(v) !== v1.version).reduce((n, [, c]) => n + c, 0);
    return {
      chaos: 'serving',
      rate_target: config.CHAOS_RATE,
      requests_sent: total.sent,
      requests_answered: total.ok,
      achieved_rate: Math.round((total.sent / loadMs) * 1000),
      answered_rate: Math.round((total.ok / loadMs) * 1000),
      load_s: seconds(loadMs),
      errors: total.errors,
      ...(total.errors ? { error_kinds: errorKinds } : {}),
      max_latency_ms: maxLatencyMs,
      phases: Object.fromEntries(PHASES.map((p) => {
        const { latencies, ...rest } = counts[p];
        const sorted = latencies.sort((a, b) => a - b);
        const q = (f: number) => sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))]! : null;
        const phaseS = ((phaseStart[PHASES[PHASES.indexOf(p) + 1]!] ?? loadStart + loadMs) - phaseStart[p]!) / 1000;
        return [p, { ...rest, p50_ms: q(0.5), p99_ms: q(0.99), max_ms: sorted.at(-1) ?? null, seconds: Math.round(phaseS * 10) / 10, node_cpu_share: Math.round((cpuOf[p]! / 1000 / phaseS) * 100) / 100 }];
      })),
      kafka_outage_s: seconds(kafkaOutageMs),
      kafka_broker_killed_after_sigterm: brokerKilled,
      models_group_stable_after_kafka_back_s: modelsStableAfterS,
      postgres_outage_s: seconds(postgresOutageMs),
      version_1: v1.version,
      version_2: v2.version,
      // While Postgres was away the node had version 2 announced but could not fetch it: version 1 only.
      postgres_down_served_other_than_1: servedOld('postgres_down'),
      version_before_postgres_back: versionBeforePostgresBack,
      serving_version_end: versionEnd,
      version_2_after_postgres_back_s: firstV2At ? seconds(firstV2At - postgresBackAt) : null,
      deployment_recorded: deployed,
      consumer_groups_before_postgres_back: groupsBeforePostgresBack,
      consumer_groups_end: groupsEnd,
      events_in_topic: records.length,
      other_events: otherEvents,
      events_delivered: delivered,
      events_missing: missing,
      events_dropped_counted: droppedEnd,
      events_lost: Math.max(0, missing - droppedEnd),
      events_duplicated: duplicated,
      events_of_unanswered_requests: notAnswered,
      events_spilled_max: spilledMax,
      events_spilled_max_phase: spilledMaxAt,
      spill_bound: SPILL_BOUND,
      spill_under_bound: spilledMax < SPILL_BOUND,
      processes_exited: exited ? 1 : 0,
      ...(exited ? { exit: exited } : {}),
      serving_stopped_cleanly: stoppedCleanly,
      warn_or_error_log_lines: warnings,
      seconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    process.removeListener('exit', onExit);
    await serving?.kill9().catch(() => undefined);
    await pool?.end().catch(() => undefined);
    await broker.dispose().catch((err: Error) => progress('could not clean up the broker', { err: err.message }));
    await postgres.dispose().catch((err: Error) => progress('could not clean up Postgres', { err: err.message }));
  }
}
