/**
 * `npm run bench -- sessionizer-restore [--active 10000] [--idle 40000]`
 *
 * How long the sessionizer takes to restore its state from the changelog and how much memory that state
 * takes, against how many users it holds. Three changelogs of the product's declaration (services/common/
 * topics.ts, 8 partitions, compacted; `segment.ms` shortened to 1 s so the broker compacts within the run
 * instead of after 10 minutes), each restored by a fresh StateStore (services/sessionizer/store.ts) as a
 * sessionizer does after an assignment:
 *  - kept: --active + --idle users, none forgotten (what every changelog held before users were forgotten
 *    after SESSIONIZER_USER_RETENTION_MS);
 *  - forgotten: the same users, then a tombstone for each idle one, as the timer writes them, and compacted;
 *  - active_only: the --active users alone.
 * Each user's state is a full one at the defaults: a history of 50 item ids, 64 recent event ids, 8 closed
 * session ids, no open session; active users were last seen now, idle ones 30 days ago. Per run: records
 * read, seconds, users held, heap bytes per user held, and the time one timer pass takes to find the users
 * due now (the due index: PartitionState.dueUsers) against scanning every user as the timer did before (in
 * `kept`, the idle users are due: a sessionizer would forget them at its next tick).
 */
import { randomUUID } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Admin, Kafka } from 'kafkajs';
import { pino } from 'pino';
import {
  createKafka, createProducer, createSchemaRegistry, DATA_PARTITIONS, KAFKA_ENV, loadConfig, topicDeclarations, topicNames,
} from '../../services/common/index.js';
import { encodePosition, encodeUserState } from '../../services/sessionizer/changelog-codec.js';
import { dueAt } from '../../services/sessionizer/fold.js';
import { DEFAULT_SETTINGS, emptyUserState, type UserState } from '../../services/sessionizer/state.js';
import { POSITION_KEY_BUFFER, StateStore } from '../../services/sessionizer/store.js';
import { WireCodec } from '../../services/sessionizer/wire.js';
import { hostStealMs } from '../support/broker-tools.js';

const progress = (msg: string, extra: object = {}) => process.stderr.write(`${JSON.stringify({ bench: 'sessionizer-restore', msg, ...extra })}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function arg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(args[i + 1]);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got '${args[i + 1] ?? ''}'`);
  return n;
}

/** The bench's users' ids: user u lives in partition u mod 8. */
const userId = (u: number) => `user-${u}`;

/** A full state at the defaults, last seen at `at`. */
function userState(id: string, at: number): UserState {
  const ids = (kind: string, n: number) => Array.from({ length: n }, (_, i) => `${kind}${id}-${i}`.slice(-12));
  return {
    ...emptyUserState(id),
    history: ids('i', DEFAULT_SETTINGS.historyLength),
    recentIds: ids('e', DEFAULT_SETTINGS.dedupeWindow),
    closedSessions: ids('s', DEFAULT_SETTINGS.closedSessionsKept),
    maxEventTime: at,
  };
}

interface Changelog {
  readonly topic: string;
  readonly users: number;
  readonly tombstones: number;
}

/** Writes the users' states (and tombstones for the forgotten) to a new changelog topic, in batches. */
async function writeChangelog(kafka: Kafka, admin: Admin, wire: WireCodec, topic: string, active: number, idle: number, forget: boolean): Promise<Changelog> {
  const declared = topicDeclarations().find((t) => t.topic === topicNames().sessionizerState)!;
  const configEntries = [
    ...declared.configEntries!.filter((c) => c.name !== 'segment.ms' && c.name !== 'min.cleanable.dirty.ratio'),
    { name: 'segment.ms', value: '1000' },
    { name: 'min.cleanable.dirty.ratio', value: '0.01' },
  ];
  await admin.createTopics({ topics: [{ ...declared, topic, configEntries }], waitForLeaders: true });
  const producer = createProducer(kafka);
  await producer.connect();
  const now = Date.now();
  const send = async (messages: { key: string | Buffer; value: Buffer | null; partition: number }[]) => {
    for (let i = 0; i < messages.length; i += 2_000) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 2_000) });
  };
  const partitionOf = (u: number) => u % DATA_PARTITIONS;
  const total = active + idle;
  for (let start = 0; start < total; start += 10_000) {
    const batch = [];
    for (let u = start; u < Math.min(total, start + 10_000); u++) {
      const at = u < active ? now : now - 30 * 24 * 3_600_000;
      batch.push({ key: userId(u), value: encodeUserState(wire, userState(userId(u), at)), partition: partitionOf(u) });
    }
    await send(batch);
  }
  const tombstones = forget ? idle : 0;
  if (forget) {
    const batch = [];
    for (let u = active; u < total; u++) batch.push({ key: userId(u), value: null, partition: partitionOf(u) });
    await send(batch);
  }
  // A position per partition after the segment's time is up: it rolls the segment, so the cleaner can take it.
  await sleep(1_500);
  await send(Array.from({ length: DATA_PARTITIONS }, (_, p) => ({ key: POSITION_KEY_BUFFER, value: encodePosition(wire, { nextOffset: '0', streamTime: now }), partition: p })));
  await producer.disconnect();
  return { topic, users: forget ? active : total, tombstones };
}

interface Restore {
  readonly records: number;
  readonly seconds: number;
  readonly users: number;
  readonly heapBytesPerUser: number;
  readonly timerDueMs: number;
  readonly timerScanMs: number;
  readonly dueNow: number;
}

async function restore(kafka: Kafka, admin: Admin, wire: WireCodec, topic: string): Promise<Restore> {
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const store = new StateStore({
    kafka, admin, wire, topic, logger: pino({ level: 'error' }), groupIdPrefix: `bench-restore-${randomUUID()}`, timeoutMs: 300_000, settings: DEFAULT_SETTINGS,
  });
  store.assign(Array.from({ length: DATA_PARTITIONS }, (_, p) => p));
  let report = { records: 0, seconds: 0 };
  await store.restoreAssigned(async () => undefined, (r) => { report = r; });
  gc();
  const heap = process.memoryUsage().heapUsed - heapBefore;
  const users = store.userCount();
  const now = Date.now();
  let t = performance.now();
  let due = 0;
  for (const ps of store.restoredPartitions()) due += ps.dueUsers(now).length;
  const timerDueMs = performance.now() - t;
  t = performance.now();
  let scanned = 0;
  // What the timer did before the due index: visit every user held. A partition holds users p, p + 8, … from
  // the first up to the last one kept (the active users come first), so its first missing id ends its users.
  for (const ps of store.restoredPartitions()) {
    for (let u = 0; ; u++) {
      const state = ps.get(userId(u * DATA_PARTITIONS + ps.partition));
      if (state === undefined) break;
      if (dueAt(state, DEFAULT_SETTINGS) <= now) scanned++;
    }
  }
  const timerScanMs = performance.now() - t;
  if (due !== scanned) throw new Error(`the due index found ${due} users due, a scan of every user ${scanned}`);
  return { dueNow: due, records: report.records, seconds: round(report.seconds, 3), users, heapBytesPerUser: users > 0 ? Math.round(heap / users) : 0, timerDueMs: round(timerDueMs, 3), timerScanMs: round(timerScanMs, 1) };
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

export default async function run(args: string[]): Promise<object> {
  const active = arg(args, 'active', 10_000);
  const idle = arg(args, 'idle', 40_000);
  const stealAtStart = hostStealMs();
  const config = loadConfig(KAFKA_ENV);
  const logger = pino({ name: 'bench', level: 'error' }, pino.destination(2));
  const prefix = `bench-restore-${randomUUID().slice(0, 8)}.`;
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'bench-sessionizer-restore', logger });
  const admin = kafka.admin();
  await admin.connect();
  const wire = new WireCodec(createSchemaRegistry(config.SCHEMA_REGISTRY_URL), topicNames(prefix));
  await wire.register();
  const topics: string[] = [];
  try {
    const runs: Record<string, Changelog & Restore & { compaction_wait_s?: number }> = {};
    for (const [name, users, forget] of [['kept', idle, false], ['forgotten', idle, true], ['active_only', 0, false]] as const) {
      const topic = `${prefix}${name}`;
      topics.push(topic);
      const log = await writeChangelog(kafka, admin, wire, topic, active, users, forget);
      progress('written', { run: name, users: log.users, tombstones: log.tombstones });
      // The broker compacts on its own schedule (the cleaner's backoff is 15 s): restore until the records read
      // come down to what compaction leaves (each user's state or tombstone once, a position per partition).
      const started = Date.now();
      const floor = active + users + DATA_PARTITIONS;
      let r = await restore(kafka, admin, wire, topic);
      while (r.records > floor && Date.now() - started < 300_000) {
        await sleep(5_000);
        r = await restore(kafka, admin, wire, topic);
      }
      runs[name] = { ...log, ...r, ...(forget ? { compaction_wait_s: Math.round((Date.now() - started) / 1000) } : {}) };
      progress('restored', { run: name, ...runs[name] });
    }
    const line = (r: Changelog & Restore) => ({
      users: r.users, tombstones: r.tombstones, records: r.records, restore_s: r.seconds, heap_bytes_per_user: r.heapBytesPerUser,
      due_now: r.dueNow, timer_due_ms: r.timerDueMs, timer_scan_all_ms: r.timerScanMs,
    });
    return {
      bench: 'sessionizer-restore', active, idle,
      kept: line(runs.kept!), forgotten: { ...line(runs.forgotten!), compaction_wait_s: runs.forgotten!.compaction_wait_s },
      active_only: line(runs.active_only!),
      restore_ratio_forgotten_to_active_only: round(runs.forgotten!.seconds / runs.active_only!.seconds, 2),
      restore_ratio_kept_to_active_only: round(runs.kept!.seconds / runs.active_only!.seconds, 2),
      host_steal_ms: hostStealMs() - stealAtStart,
    };
  } finally {
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  }
}
