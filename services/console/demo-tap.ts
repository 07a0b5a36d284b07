/**
 * The console's view of the embedded demo (services/demo/embedded.ts): runEmbedded hands its parts to
 * `observe` once built, and from them the tap builds the ConsoleView: sessions as they end, every transition
 * (through a `console` group on the `transitions` log, polled every second so the log can still trim), the
 * trainer's counters sampled every second, the registry's rows (PGlite, the same queries as on Postgres),
 * each group's lag on the in-process logs and the sessionizer's dead letters.
 */
import type { Transition } from '../common/index.js';
import type { EmbeddedParts } from '../demo/embedded.js';
import type { Consumer } from '../demo/memory-log.js';
import { currentDeployments, listChanges, listModels, listVersions } from '../registry/index.js';
import { LearnerHistory } from './learner-history.js';
import { freshness, versionsPanel } from './registry-view.js';
import { countReasons, ScenarioTally, sessionsPanel } from './sessions.js';
import type { ConsoleView, DeadLetterRow, LagRow, VersionsPanel } from './view.js';

/** The group the console reads `transitions` with; not shown among the demo's groups. */
export const CONSOLE_GROUP = 'console';
/** Sessions in each rolling mean: the demo's progress line uses the same. */
export const SESSION_WINDOW = 200;

const EMPTY_VERSIONS: VersionsPanel = { available: true, live: null, pinned: null, versions: [], deployments: [], changes: [] };

export const DEMO_SOURCES: ConsoleView['sources'] = {
  sessions: 'the simulated sessions of this demo as each ends (in process): reward is the sessionizer\'s (click 1, skip 0, leave −2)',
  scenarios: 'every transition the in-process sessionizer writes, read by a console group on the in-process transitions log',
  learner: 'the in-process trainer (OnlineTrainer), sampled every second',
  versions: 'the registry in PGlite (model_versions with the gate\'s decision, models.pinned_version, deployments, model_version_changes)',
  pipeline: 'registry timestamps; each consumer group\'s lag on the in-process logs; the in-process sessionizer\'s dead letters and the trainer\'s rejections',
};

export class DemoTap {
  private parts: EmbeddedParts | null = null;
  private transitions: Consumer<Transition> | null = null;
  private readonly tally = new ScenarioTally();
  private readonly history = new LearnerHistory();
  private lastVersions: VersionsPanel = EMPTY_VERSIONS;
  private readonly timer: NodeJS.Timeout;

  constructor(
    readonly model: string,
    private readonly clock: () => number = Date.now,
  ) {
    this.timer = setInterval(() => this.sample(), 1000);
    this.timer.unref();
  }

  /** runEmbedded's `observe`: called once the demo's parts are built, before the first user arrives. */
  readonly observe = (parts: EmbeddedParts): void => {
    this.parts = parts;
    this.transitions = parts.transitions.subscribe(CONSOLE_GROUP);
  };

  stop(): void {
    clearInterval(this.timer);
  }

  /** Reads new transitions and samples the trainer; the timer calls it every second. */
  sample(): void {
    if (this.transitions) this.tally.add(this.transitions.poll().map((r) => r.value));
    const t = this.parts?.trainer;
    if (!t) return;
    const l = t.lastLosses;
    this.history.push({
      at: this.clock(),
      steps: t.steps,
      transitions: t.transitionsSeen,
      replaySize: t.buffer.size,
      itemCount: t.vocabulary.size,
      losses: l ? { critic: l.criticLoss, actor: l.actorLoss, probability: l.probabilityLoss } : null,
    });
  }

  private async versions(): Promise<VersionsPanel> {
    const db = this.parts?.db;
    if (!db || db.closed) return this.lastVersions;
    const model = this.model;
    try {
      const rows = await db.run(async (s) => ({
        model,
        versions: await listVersions(s, model, 1_000),
        models: await listModels(s),
        deployments: await currentDeployments(s),
        changes: await listChanges(s, model, 50),
      }));
      this.lastVersions = versionsPanel(rows);
    } catch {
      // The demo closed its database while we asked: the last rows read stay on the page.
    }
    return this.lastVersions;
  }

  private lag(): LagRow[] {
    const rows: LagRow[] = [];
    if (!this.parts) return rows;
    for (const topic of [this.parts.events, this.parts.transitions]) {
      for (const group of topic.groupNames) if (group !== CONSOLE_GROUP) rows.push({ group, topic: topic.name, lag: topic.lag(group) });
    }
    return rows;
  }

  private deadLetters(): DeadLetterRow[] {
    const rows: DeadLetterRow[] = [];
    const s = this.parts?.sessionizer;
    if (s) {
      for (const { reason, count } of countReasons(s.deadLetters.map((d) => d.reason))) rows.push({ source: 'sessionizer', reason, count });
      const older = s.deadLetterTotal - s.deadLetters.length;
      if (older > 0) rows.push({ source: 'sessionizer', reason: 'older letters (the embedded sessionizer keeps the reasons of its newest 100)', count: older });
    }
    const learner = this.parts?.learner;
    if (learner && learner.rejected > 0) rows.push({ source: 'learner', reason: 'transition rejected by the trainer', count: learner.rejected });
    return rows;
  }

  async view(): Promise<ConsoleView> {
    this.sample();
    const now = this.clock();
    const versions = await this.versions();
    return {
      mode: 'demo',
      at: now / 1000,
      model: this.model,
      sessions: sessionsPanel(this.parts?.sessions ?? [], { window: SESSION_WINDOW, points: 240 }),
      scenarios: this.tally.panel(),
      learner: this.history.panel(),
      versions,
      pipeline: {
        available: true,
        freshness: freshness(versions, now / 1000),
        lag: this.lag(),
        deadLetters: this.deadLetters(),
        notes: this.parts ? [] : ['the demo is still building its parts'],
      },
      sources: DEMO_SOURCES,
    };
  }
}
