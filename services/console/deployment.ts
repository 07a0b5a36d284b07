/**
 * The console against a real deployment: the registry in Postgres (the same queries as `deepchain models`)
 * and the services' /metrics URLs. What that can show: versions, the gate's numbers, deployments, pins and
 * the audit trail; the learner's counters; reward per session (rolling mean with its interval), clicks,
 * purchases and session length, and outcomes per scenario, from the sessionizers' counters read at each
 * scrape (sessionizer-history.ts); freshness; consumer lag per group; dead letters as finely as the counters
 * label them. Session length there is items with an outcome (transitions), not pages: the sessionizer counts
 * transitions. Fallback pages and recommend errors are the simulator's, so a deployment has none to show.
 */
import type pg from 'pg';
import { withSession } from '../common/index.js';
import { currentDeployments, listChanges, listModels, listVersions } from '../registry/index.js';
import { LearnerHistory } from './learner-history.js';
import { deadLetterRows, lagRows, learnerSample, scrapeNotes, sessionizerReadings, type Scrape, type SessionizerReading } from './metrics-view.js';
import { parsePrometheus } from './prometheus.js';
import { freshness, versionsPanel } from './registry-view.js';
import { SessionizerHistory } from './sessionizer-history.js';
import type { ConsoleView, Unavailable } from './view.js';

export const DEPLOYMENT_SOURCES: ConsoleView['sources'] = {
  sessions: "the sessionizers' /metrics at each scrape: sessions as they end, each counted once by the sessionizer that ended it if it committed all its transitions (reward: click 1, skip 0, leave −2 by default); the window reaches back to the scrape with at least that many sessions since; length = items with an outcome",
  scenarios: "the sessionizers' /metrics: transitions committed, by scenario and behaviour (reward from the sessionizer's settings); rates per bucket from the differences between scrapes",
  learner: "the learner's /metrics (steps, transitions read, losses, replay size; it exports no item count)",
  versions: 'the registry in Postgres (model_versions with the gate\'s decision, models.pinned_version, deployments, model_version_changes)',
  pipeline: "registry timestamps; consumer lag and dead-letter counters from the sessionizer's, learner's and gateway's /metrics",
};

/** Why the session and scenario panels are empty, or null when the sessionizers' counters have been read. */
export function sessionsUnavailable(readings: readonly { name: string; reading: SessionizerReading | null }[], everRead: boolean): Unavailable | null {
  if (everRead) return null;
  if (readings.length === 0) {
    return { available: false, note: 'No sessionizer /metrics answered yet: give each sessionizer\'s /metrics URL in CONSOLE_METRICS_URLS (reward per session, clicks, leaves and session length come from its counters).' };
  }
  const old = readings.filter((r) => r.reading === null).map((r) => r.name);
  return { available: false, note: `The sessionizers' /metrics (${old.join(', ')}) have no session counters: they run a version older than these metrics.` };
}

export interface DeploymentSourceOptions {
  pool: pg.Pool;
  model: string;
  metricsUrls: Record<string, string>;
  timeoutMs?: number;
  fetch?: typeof fetch;
  clock?: () => number;
}

export class DeploymentSource {
  private readonly history = new LearnerHistory();
  private readonly sessionizers = new SessionizerHistory();

  constructor(private readonly o: DeploymentSourceOptions) {}

  async scrape(): Promise<Scrape[]> {
    const get = this.o.fetch ?? fetch;
    return Promise.all(Object.entries(this.o.metricsUrls).map(async ([name, url]): Promise<Scrape> => {
      try {
        const res = await get(url, { signal: AbortSignal.timeout(this.o.timeoutMs ?? 3_000) });
        if (!res.ok) return { name, url, samples: null, error: `HTTP ${res.status}` };
        return { name, url, samples: parsePrometheus(await res.text()) };
      } catch (err) {
        return { name, url, samples: null, error: (err as Error).message };
      }
    }));
  }

  async view(): Promise<ConsoleView> {
    const { model } = this.o;
    const [rows, scrapes] = await Promise.all([
      withSession(this.o.pool, async (s) => ({
        model,
        versions: await listVersions(s, model, 1_000),
        models: await listModels(s),
        deployments: await currentDeployments(s),
        changes: await listChanges(s, model, 50),
      })),
      this.scrape(),
    ]);
    const now = (this.o.clock ?? Date.now)();
    const sample = learnerSample(scrapes, now);
    if (sample) this.history.push(sample);
    const readings = sessionizerReadings(scrapes);
    this.sessionizers.push(now, readings.filter((r): r is { name: string; reading: SessionizerReading } => r.reading !== null));
    const unavailable = sessionsUnavailable(readings, this.sessionizers.size > 0);
    const versions = versionsPanel(rows);
    return {
      mode: 'deployment',
      at: now / 1000,
      model,
      sessions: unavailable ?? this.sessionizers.sessionsPanel(),
      scenarios: unavailable ?? this.sessionizers.scenariosPanel(),
      learner: this.history.panel(),
      versions,
      pipeline: { available: true, freshness: freshness(versions, now / 1000), lag: lagRows(scrapes), deadLetters: deadLetterRows(scrapes), notes: scrapeNotes(scrapes) },
      sources: DEPLOYMENT_SOURCES,
    };
  }
}
