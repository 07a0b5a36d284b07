/**
 * `npm run chaos -- learner`: a real learner process (services/learner/main.ts; a database of its own on
 * DATABASE_URL's server; the small model settings of the live-loop test, checkpoints every 5 s) reads a steady stream of
 * transitions produced to the real broker while it is killed with SIGKILL again and again, and started
 * again each time. Prints {"chaos":"learner",…}; lost, counted_twice, unread, letters_missing,
 * letters_unexpected, versions_reused, version_gaps, versions_not_continued, announced_without_row and
 * steps_went_back must be 0.
 *
 * The accounting. The learner keeps its read offsets in its checkpoint (loop.ts), not in Kafka: a restart
 * resumes from the newest checkpoint's offsets and counter `transitionsSeen`, so whatever a killed process
 * read after its last checkpoint is forgotten with it — its model state goes back to that checkpoint — and is
 * read and trained on again by the next process (`reread_after_restarts`, measured from each killed
 * process's metrics). Hence, once the last process has caught up and stopped (SIGTERM: a final checkpoint),
 * along the one line of checkpoints that survived:
 *  - every record up to the end of each partition was read: checkpoint offsets = end offsets (`unread`
 *    counts the records below the end and not reached);
 *  - every usable transition was counted exactly once: transitionsSeen = the usable transitions produced
 *    (`lost` if fewer, `counted_twice` if more) — counted means put in the replay buffer or the held-out
 *    window, which the steps after it train and validate on;
 *  - every unusable record produced on purpose (undecodable bytes; a scenario this model has no agent for)
 *    has a dead letter naming its partition and offset (`letters_missing`); a letter written twice is
 *    allowed by the loop's design (a crash between the letter and the checkpoint) and counted in
 *    `letters_written_twice`.
 * Versions: the registry rows are numbered 1..n with no gap, every number announced on `models` names the
 * same weights (checksum) as its row (`versions_reused` counts numbers with two), each restart resumed from
 * a checkpoint at least as far on as the one before (`steps_went_back`), and each restarted process's
 * versions are numbered above every one before its start (`versions_not_continued`).
 *
 * Settings: CHAOS_SECONDS (default 150) of producing at CHAOS_RATE transitions/s (default 100) with
 * CHAOS_KILLS kills (default 4); each kill waits until the process has saved a checkpoint and published a
 * version of its own, then a random 0.5–6 s more; the default run takes about three minutes.
 * RELEASE_GATE=none, so every snapshot is published live and announced (the synthetic transitions carry no
 * propensities for the gate to use).
 * Long because it drives a whole run; its phases are marked below.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kafka } from 'kafkajs';
import { pino } from 'pino';
import {
  AvroSerde, createKafka, createProducer, createSchemaRegistry, env, freePort, KAFKA_ENV, loadConfig, migratePool, provisionTopics,
  seededRandom, startServiceProcess, topicNames, type DeadLetterRecord, type ServiceProcess, type Transition,
} from '../../services/common/index.js';
import { announcementFromRecord, type ModelAnnouncement } from '../../services/registry/index.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { syntheticTransitions } from '../support/transitions.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MODEL = 'deepchain';
const progress = (msg: string, extra: object = {}) => process.stderr.write(`${JSON.stringify({ chaos: 'learner', msg, ...extra })}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface CheckpointRow {
  id: number;
  trainSteps: number;
  transitionsSeen: number;
  offsets: Record<string, string>;
}

export default async function run(): Promise<object> {
  const config = loadConfig({
    ...KAFKA_ENV,
    CHAOS_SEED: env.int({ default: Date.now() % 100_000 }),
    CHAOS_SECONDS: env.int({ min: 10, default: 150 }),
    CHAOS_RATE: env.int({ min: 1, max: 10_000, default: 100 }),
    CHAOS_KILLS: env.int({ min: 0, default: 4 }),
  });
  const random = seededRandom(config.CHAOS_SEED);
  const logger = pino({ name: 'chaos', level: 'error' }, pino.destination(2)); // stdout carries only the result line
  const prefix = `chaos-learner-${randomUUID().slice(0, 8)}.`;
  const topics = topicNames(prefix);
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'chaos-learner', logger });
  const serde = new AvroSerde(createSchemaRegistry(config.SCHEMA_REGISTRY_URL), topics);
  const admin = kafka.admin();
  await admin.connect();
  await provisionTopics(admin, prefix);
  await serde.registerAll();
  const db = await createTestDatabase();
  await migratePool(db.pool);
  const started = Date.now();

  try {
    // ---------------------------------------------------------------- the learner process
    const logDir = join(ROOT, '.infra', 'chaos-logs');
    mkdirSync(logDir, { recursive: true });
    const log = createWriteStream(join(logDir, `${prefix}log`));
    const port = await freePort();
    const learnerEnv = {
      DATABASE_URL: db.url, TOPIC_PREFIX: prefix, MODEL_NAME: MODEL, LEARNER_SCENARIOS: 'entrance,detail',
      EMBEDDING_SIZE: '8', HIDDEN_SIZE: '16', HISTORY_LENGTH: '10', BATCH_SIZE: '32', TRAIN_START: '64',
      // Checkpoints every 5 s (not live-loop's 1 s), so that a kill usually loses reads to be made again.
      REPLAY_CAPACITY: '20000', PUBLISH_EVERY_STEPS: '15', PUBLISH_EVERY_S: '2', CHECKPOINT_EVERY_STEPS: '100000',
      CHECKPOINT_EVERY_S: '5', HOLDOUT_EVERY: '5', RELEASE_GATE: 'none', HTTP_PORT: String(port),
      LOG_LEVEL: process.env.CHAOS_CHILD_LOG_LEVEL ?? 'info',
    };
    const current: { proc: ServiceProcess | null } = { proc: null };
    let stopping = false;
    let base = { transitionsSeen: 0, checkpointId: 0, maxVersion: 0, launchedAt: 0 };
    /** Restarted processes whose first version was not numbered above every version before their start. */
    let versionsNotContinued = 0;
    const resumedAtSteps: number[] = [];
    const launch = async () => {
      const latest = await latestCheckpoint(db);
      const maxVersion = Math.max(0, ...(await versionRows(db)).map((r) => r.version));
      base = { transitionsSeen: latest?.transitionsSeen ?? 0, checkpointId: latest?.id ?? 0, maxVersion, launchedAt: Date.now() };
      if (latest) resumedAtSteps.push(latest.trainSteps);
      const proc = startServiceProcess('learner', learnerEnv);
      proc.child.stdout!.pipe(log, { end: false });
      proc.child.stderr!.pipe(log, { end: false });
      proc.child.once('exit', (code, signal) => {
        if (signal !== 'SIGKILL' && signal !== 'SIGTERM' && !stopping) progress('learner exited by itself', { code, signal, tail: proc.output().slice(-1500) });
      });
      current.proc = proc;
    };
    await launch();

    // ---------------------------------------------------------------- the steady stream of transitions
    const usable = syntheticTransitions(Math.ceil((config.CHAOS_SECONDS * config.CHAOS_RATE) / 4) + 100, config.CHAOS_SEED, 300);
    const unusable: { partition: number; offset: string; what: string }[] = [];
    let produced = 0;
    let sending = true;
    const producer = createProducer(kafka);
    await producer.connect();
    const sender = (async () => {
      const perTick = Math.max(1, Math.round(config.CHAOS_RATE / 10));
      const until = Date.now() + config.CHAOS_SECONDS * 1000;
      let next = 0;
      while (Date.now() < until && next < usable.length) {
        const tick = Date.now();
        const batch = usable.slice(next, next + perTick);
        next += batch.length;
        await producer.send({
          topic: topics.transitions,
          messages: await Promise.all(batch.map(async (t) => ({ key: t.userId, value: await serde.encode('transitions', t) }))),
        });
        produced += batch.length;
        // Now and then a record the learner must refuse, sent alone so its partition and offset are known.
        if (random() < 0.05) {
          const t = batch[0]!;
          const bad = random() < 0.5
            ? { what: 'undecodable', key: t.userId, value: Buffer.from(`not avro ${next}`) }
            : { what: 'rejected', key: t.userId, value: await serde.encode('transitions', { ...t, scenario: 'cart' } satisfies Transition) };
          const [meta] = await producer.send({ topic: topics.transitions, messages: [{ key: bad.key, value: bad.value }] });
          unusable.push({ partition: meta!.partition, offset: meta!.baseOffset!, what: bad.what });
        }
        await sleep(Math.max(0, 100 - (Date.now() - tick)));
      }
      sending = false;
      progress('sent', { transitions: produced, unusable: unusable.length, seconds: (Date.now() - started) / 1000 });
    })();

    // ---------------------------------------------------------------- the killer
    let kills = 0;
    let reread = 0;
    const killer = (async () => {
      while (kills < config.CHAOS_KILLS && sending) {
        // Wait until this process has saved a checkpoint and published a version of its own, then a random moment more.
        const own = await waitFor(async () => {
          const c = await latestCheckpoint(db);
          const mine = (await versionRows(db)).filter((r) => r.createdAt >= base.launchedAt);
          return c && c.id > base.checkpointId && mine.length > 0 ? mine : undefined;
        }, 180_000);
        if (!own) throw new Error(`the learner saved no checkpoint or version within 180 s\n${current.proc!.output().slice(-3000)}`);
        if (Math.min(...own.map((r) => r.version)) <= base.maxVersion) versionsNotContinued++;
        await sleep(500 + random() * 5_500);
        if (!sending) break;
        const seenAtKill = base.transitionsSeen + (await freshCount(port));
        await current.proc!.kill9();
        kills++;
        const resumeFrom = await latestCheckpoint(db);
        reread += Math.max(0, seenAtKill - (resumeFrom?.transitionsSeen ?? 0));
        progress('killed', { kills, seenAtKill, checkpointSeen: resumeFrom?.transitionsSeen, checkpointSteps: resumeFrom?.trainSteps });
        await launch();
      }
    })();
    await Promise.all([sender, killer]);
    await producer.disconnect();
    const versionsBeforeLastStart = await versionRows(db);

    // ---------------------------------------------------------------- catch up, then a graceful stop
    const ends = await admin.fetchTopicOffsets(topics.transitions);
    const caughtUp = await waitFor(async () => {
      const c = await latestCheckpoint(db);
      const behind = c ? ends.reduce((n, e) => n + Number(BigInt(e.high) - BigInt(c.offsets[String(e.partition)] ?? e.low)), 0) : Infinity;
      return behind === 0 ? c : undefined;
    }, Number(process.env.CHAOS_WAIT_MS ?? 240_000));
    if (!caughtUp) progress('the learner did not catch up in time; accounting from its last checkpoint');
    // Versions published after the last restart (every 2 s while training): wait for one.
    await waitFor(async () => ((await versionRows(db)).length > versionsBeforeLastStart.length ? true : undefined), 60_000);
    stopping = true;
    await current.proc!.stop(30_000);
    const final = (await latestCheckpoint(db))!;

    // ---------------------------------------------------------------- the accounting
    const unread = ends.reduce((n, e) => n + Math.max(0, Number(BigInt(e.high) - BigInt(final.offsets[String(e.partition)] ?? e.low))), 0);
    const letters = await readTopic<DeadLetterRecord>(kafka, serde, topics.deadLetters, `${prefix}letters`);
    const letterCount = new Map<string, number>();
    for (const l of letters) if (l.sourceTopic === topics.transitions) letterCount.set(`${l.sourcePartition}/${l.sourceOffset}`, (letterCount.get(`${l.sourcePartition}/${l.sourceOffset}`) ?? 0) + 1);
    const lettersMissing = unusable.filter((u) => !letterCount.has(`${u.partition}/${u.offset}`)).length;
    const lettersTwice = [...letterCount.values()].reduce((n, c) => n + c - 1, 0);
    const unexpectedLetters = [...letterCount.keys()].filter((k) => !unusable.some((u) => `${u.partition}/${u.offset}` === k)).length;

    const rows = await versionRows(db);
    const numbers = rows.map((r) => r.version).sort((a, b) => a - b);
    const versionGaps = numbers.filter((v, i) => v !== i + 1).length;
    const announcements = (await readTopic<ModelAnnouncement>(kafka, serde, topics.models, `${prefix}models`)).map(announcementFromRecord);
    const checksums = new Map<number, Set<string>>();
    for (const r of rows) checksums.set(r.version, new Set([r.checksum]));
    let announcedWithoutRow = 0;
    for (const a of announcements) {
      const set = checksums.get(a.version);
      if (!set) announcedWithoutRow++;
      else set.add(a.checksum);
    }
    const versionsReused = [...checksums.values()].filter((s) => s.size > 1).length + (rows.length - new Set(numbers).size);
    const maxBefore = Math.max(0, ...versionsBeforeLastStart.map((r) => r.version));
    const stepsWentBack = resumedAtSteps.filter((s, i) => i > 0 && s < resumedAtSteps[i - 1]!).length;

    log.end();
    return {
      chaos: 'learner',
      kills,
      transitions: produced,
      transitions_seen: final.transitionsSeen,
      lost: Math.max(0, produced - final.transitionsSeen) + unread,
      counted_twice: Math.max(0, final.transitionsSeen - produced),
      unread,
      reread_after_restarts: reread,
      unusable: unusable.length,
      letters_missing: lettersMissing,
      letters_written_twice: lettersTwice,
      letters_unexpected: unexpectedLetters,
      versions: rows.length,
      versions_reused: versionsReused,
      version_gaps: versionGaps,
      versions_after_last_restart: rows.filter((r) => r.version > maxBefore).length,
      versions_not_continued: versionsNotContinued + (rows.some((r) => r.version > maxBefore) ? 0 : 1),
      announced: announcements.length,
      announced_without_row: announcedWithoutRow,
      resumed_at_steps: resumedAtSteps,
      steps_went_back: stepsWentBack,
      final_steps: final.trainSteps,
      caught_up: caughtUp !== undefined,
      seed: config.CHAOS_SEED,
      seconds: Math.round((Date.now() - started) / 1000),
    };
  } finally {
    await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
    await admin.disconnect();
    await db.drop().catch(() => undefined);
  }
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(250);
  }
  return undefined;
}

async function latestCheckpoint(db: TestDatabase): Promise<CheckpointRow | null> {
  const { rows } = await db.pool.query(
    'SELECT id, train_steps, transitions_seen, source_offsets FROM learner_checkpoints WHERE model = $1 ORDER BY id DESC LIMIT 1', [MODEL],
  );
  const r = rows[0];
  if (!r) return null;
  const offsets = (r.source_offsets as Record<string, Record<string, string>>);
  return { id: Number(r.id), trainSteps: Number(r.train_steps), transitionsSeen: Number(r.transitions_seen), offsets: Object.values(offsets)[0] ?? {} };
}

async function versionRows(db: TestDatabase): Promise<{ version: number; checksum: string; createdAt: number }[]> {
  const { rows } = await db.pool.query('SELECT version, checksum, created_at FROM model_versions WHERE model = $1', [MODEL]);
  return rows.map((r) => ({ version: Number(r.version), checksum: r.checksum as string, createdAt: (r.created_at as Date).getTime() }));
}

/** Transitions this learner process counted since it started (its metrics: accepted into D, or held out). */
async function freshCount(port: number): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text()).catch(() => '');
  let n = 0;
  for (const m of text.matchAll(/^deepchain_learner_transitions_total\{([^}]*)\} (\d+)/gm)) {
    if (/outcome="(accepted|held_out)"/.test(m[1]!)) n += Number(m[2]);
  }
  return n;
}

/** Every record of `topic`, decoded, read from the beginning up to its end offsets now. */
async function readTopic<T>(kafka: Kafka, serde: AvroSerde, topic: string, groupId: string): Promise<T[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const want = ends.reduce((n, e) => n + Number(BigInt(e.high) - BigInt(e.low)), 0);
  const out: T[] = [];
  if (want === 0) return out;
  let seen = 0;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200, maxBytes: 64 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({ eachMessage: async ({ message }) => { seen++; if (message.value) out.push(await serde.decode<T>(message.value)); } });
  await waitFor(async () => (seen >= want ? true : undefined), 60_000);
  await consumer.disconnect();
  return out;
}
