/**
 * The whole loop in one process (DESIGN.md §5, the embedded default), wired from the product's own parts:
 *
 *   simulated users ──SDK EventProducer──▶ in-process log: events ──▶ sessionizer fold ──▶ log: transitions
 *        ▲                                      ▲                                              │
 *        │ inject POST /v1/recommend            │ recommendation events                        ▼
 *   serving routes + ModelSlot ◀── install ── publisher (validation) ──▶ registry in PGlite ◀── OnlineTrainer
 *
 * Everything shares one event loop: a scheduler gives training steps a share of the wall clock and the
 * users, the sessionizer and the serving node the rest. The learner only ever sees transitions (ids,
 * behaviours, rewards); the world's hidden vectors stay in the simulator.
 */
import { DATA_PARTITIONS, SCENARIOS, type Transition, type UserEvent } from '../common/index.js';
import { OnlineTrainer } from '../learner/index.js';
import { selectBackend } from '../model/index.js';
import { DEFAULT_SETTINGS, type SessionizerSettings } from '../sessionizer/index.js';
import { injectRecommendClient, Population, World, type SessionRecord } from '../simulator/index.js';
import { EmbeddedDatabase } from './database.js';
import { LearnerStage } from './learner-stage.js';
import { MemoryTopic } from './memory-log.js';
import { memoryLogProducer } from './memory-producer.js';
import { DEMO_GATE, type DemoSettings } from './options.js';
import type { ProgressWriter } from './progress.js';
import type { DemoRun } from './report.js';
import { createEmbeddedServing } from './serving-node.js';
import { SessionizerStage } from './sessionizer-stage.js';

export const MODEL_NAME = 'deepchain';
const RECENT = 200;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What the embedded demo is made of, handed to an observer (the live console, services/console) once built. */
export interface EmbeddedParts {
  db: EmbeddedDatabase;
  events: MemoryTopic<UserEvent>;
  transitions: MemoryTopic<Transition>;
  sessionizer: SessionizerStage;
  trainer: OnlineTrainer;
  learner: LearnerStage;
  /** Every simulated session, appended as each ends. */
  sessions: readonly SessionRecord[];
}

export interface EmbeddedOptions {
  runId?: string;
  /** Called once, after every part is built and before the first user arrives. */
  observe?: (parts: EmbeddedParts) => void;
}

export async function runEmbedded(s: DemoSettings, progress: ProgressWriter, options: EmbeddedOptions = {}): Promise<DemoRun> {
  const runId = options.runId ?? `demo${Date.now().toString(36)}`;
  const backend = await selectBackend({ prefer: 'wasm' }).catch(() => selectBackend({ prefer: 'cpu' }));
  const { db, applied } = await EmbeddedDatabase.open();
  progress.note(`embedded: backend ${backend.name}; PGlite registry, migrations ${applied.join(', ')}; ${DATA_PARTITIONS} partitions per topic`);

  const events = new MemoryTopic<UserEvent>('events', DATA_PARTITIONS);
  const transitions = new MemoryTopic<Transition>('transitions', DATA_PARTITIONS);
  const settings: SessionizerSettings = Object.freeze({
    ...DEFAULT_SETTINGS,
    historyLength: s.model.historyLength,
    graceMs: 1_000,
    sessionTimeoutMs: 60_000,
    waitWindowMs: 60_000,
  });
  const sessionizer = new SessionizerStage(events.subscribe('sessionizer'), transitions, settings);
  const serving = await createEmbeddedServing({
    model: MODEL_NAME, events, transitions, historyLength: s.model.historyLength,
    options: { recallSize: s.recallSize, recallSeeds: 5, exploration: { policy: 'epsilon-greedy', epsilon: s.epsilon } },
  });
  const trainer = new OnlineTrainer({
    model: {
      scenarios: [...SCENARIOS],
      embeddingSize: s.model.embeddingSize,
      hiddenSize: s.model.hiddenSize,
      historyLength: s.model.historyLength,
      attentionSize: 16,
      headHidden: [32, 16],
      learningRates: { actor: s.model.actorLearningRate },
    },
    replayCapacity: 200_000,
    batchSize: s.model.batchSize,
    trainStart: 500,
    holdoutEvery: 20,
    holdoutSize: 3000,
    embeddingRefreshSteps: 50,
    seed: s.seed,
  });
  const learner = new LearnerStage({
    model: MODEL_NAME, trainer, transitions: transitions.subscribe('learner'), db, slot: serving.slot, servingNode: 'embedded',
    rules: { everySteps: 200, everyMs: 10_000, maxLoss: 1e4, gate: DEMO_GATE },
  });
  // An audit of the transitions, apart from the learner: reward per session as the sessionizer scored it.
  const audit = transitions.subscribe('audit');
  const transitionReward = new Map<string, number>();

  const world = new World(s.world);
  const population = new Population(world, injectRecommendClient(serving.app), memoryLogProducer(events), {
    concurrency: s.concurrency, k: s.k, walk: s.walk, thinkMs: s.thinkMs, runId, seed: s.seed,
  });

  const sessions: SessionRecord[] = [];
  options.observe?.({ db, events, transitions, sessionizer, trainer, learner, sessions });
  const startedAt = Date.now();
  const deadline = startedAt + s.minutes * 60_000;
  const pump = () => {
    sessionizer.pump();
    serving.pump();
    learner.ingest();
    for (const r of audit.poll()) transitionReward.set(r.value.sessionId, (transitionReward.get(r.value.sessionId) ?? 0) + r.value.reward);
    events.trim();
    transitions.trim();
  };
  const show = (force = false) => {
    const recent = sessions.slice(-RECENT);
    const l = learner.losses;
    progress.update({
      elapsedMs: Date.now() - startedAt,
      sessions: sessions.length,
      recentReward: recent.length ? recent.reduce((a, r) => a + r.reward, 0) / recent.length : null,
      recentWindow: Math.min(RECENT, recent.length),
      versionsLive: learner.published.filter((v) => v.status !== 'rejected').length,
      versionsRejected: learner.published.filter((v) => v.status === 'rejected').length,
      servingVersion: serving.slot.current?.version ?? null,
      steps: learner.steps,
      losses: l ? { critic: l.criticLoss, actor: l.actorLoss, probability: l.probabilityLoss } : null,
      transitions: trainer.transitionsSeen,
    }, force);
  };
  const ticker = setInterval(show, 1000);

  let usersDone = false;
  const users = population.run(() => Date.now() >= deadline, (r) => sessions.push(r)).finally(() => { usersDone = true; });
  // The scheduler: a slice of training steps, then a pause in which users, sessionizer and serving run.
  const trainSliceMs = 50;
  const restMs = Math.max(5, Math.round((trainSliceMs * (1 - s.trainShare)) / Math.max(0.05, s.trainShare)));
  try {
    while (!usersDone) {
      pump();
      const t0 = Date.now();
      let trained = false;
      while (Date.now() - t0 < trainSliceMs && learner.trainStep()) trained = true;
      await learner.maybePublish();
      await sleep(trained ? restMs : 20);
    }
    await users;
    // The sessionizer applies an event once the watermark (stream time − grace) passes it: wait for the last ones.
    await sleep(settings.graceMs + 50);
    pump();
  } finally {
    clearInterval(ticker);
  }
  show(true);
  progress.done();

  let mismatches = 0;
  for (const r of sessions) if (Math.abs((transitionReward.get(r.sessionId) ?? NaN) - r.reward) > 1e-9) mismatches++;
  const run: DemoRun = {
    mode: 'embedded',
    startedAt,
    endedAt: Date.now(),
    sessions,
    versions: learner.published.map((v) => ({ version: v.version, at: v.at, live: v.status !== 'rejected', reason: v.verdict.reasons[0] ?? null })),
    transitions: trainer.transitionsSeen,
    steps: learner.steps,
    checks: {
      dead_letters: sessionizer.deadLetterTotal,
      duplicates: sessionizer.duplicates,
      transitions_rejected_by_learner: learner.rejected,
      sessions_reward_mismatch: mismatches,
      fallback_pages: sessions.reduce((n, r) => n + r.fallbackPages, 0),
      recommend_errors: sessions.reduce((n, r) => n + r.errors, 0),
    },
  };
  if (sessionizer.deadLetters.length > 0) progress.note(`dead letters, e.g.: ${sessionizer.deadLetters.slice(0, 3).map((d) => d.reason).join(' | ')}`);
  learner.dispose();
  await serving.app.close();
  await db.close();
  return run;
}
