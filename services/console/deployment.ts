/**
 * The console against a real deployment: the registry in Postgres (the same queries as `deepchain models`)
 * and the services' /metrics URLs. What that can show: versions, the gate's numbers, deployments, pins and
 * the audit trail; the learner's counters; freshness; consumer lag per group; dead letters as finely as the
 * counters label them. What it cannot: reward per session, clicks, leaves and session length — no service
 * exports them, so those panels say so (the demo's console shows them from its simulated sessions).
 */
import type pg from 'pg';
import { withSession } from '../common/index.js';
import { currentDeployments, listChanges, listModels, listVersions } from '../registry/index.js';
import { LearnerHistory } from './learner-history.js';
import { deadLetterRows, lagRows, learnerSample, scrapeNotes, type Scrape } from './metrics-view.js';
import { parsePrometheus } from './prometheus.js';
import { freshness, versionsPanel } from './registry-view.js';
import type { ConsoleView, Unavailable } from './view.js';

export const DEPLOYMENT_SOURCES: ConsoleView['sources'] = {
  sessions: 'not available in a deployment: no service exports rewards per session',
  scenarios: 'not available in a deployment: no service exports outcomes per scenario',
  learner: "the learner's /metrics (steps, transitions read, losses, replay size; it exports no item count)",
  versions: 'the registry in Postgres (model_versions with the gate\'s decision, models.pinned_version, deployments, model_version_changes)',
  pipeline: "registry timestamps; consumer lag and dead-letter counters from the sessionizer's, learner's and gateway's /metrics",
};

const NO_SESSIONS: Unavailable = {
  available: false,
  note: 'A deployment exports no reward per session, clicks, leaves or session length: the sessionizer writes rewards into transitions on Kafka, and no service counts them. The demo (npm run demo -- --console) shows these from its simulated sessions.',
};
const NO_SCENARIOS: Unavailable = { available: false, note: 'A deployment exports no outcomes per scenario (they are in the transitions topic, which the console does not read).' };

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
    const versions = versionsPanel(rows);
    return {
      mode: 'deployment',
      at: now / 1000,
      model,
      sessions: NO_SESSIONS,
      scenarios: NO_SCENARIOS,
      learner: this.history.panel(),
      versions,
      pipeline: { available: true, freshness: freshness(versions, now / 1000), lag: lagRows(scrapes), deadLetters: deadLetterRows(scrapes), notes: scrapeNotes(scrapes) },
      sources: DEPLOYMENT_SOURCES,
    };
  }
}
