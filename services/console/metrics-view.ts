/**
 * The services' /metrics (names from the catalogue, services/common/metrics.ts) → what the console shows of a
 * deployment: the learner's counters, the sessionizers' session and scenario counters (sessionizer-history.ts
 * turns successive readings into panels), consumer lag per group and dead letters per reason as far as the
 * counters tell it. Each scrape is recognised by the metrics it holds, so the operator's names for the URLs
 * are only labels. Pure.
 */
import { BEHAVIOURS, METRICS, SCENARIOS, type Behaviour, type Scenario } from '../common/index.js';
import type { LearnerSample } from './learner-history.js';
import { has, sumBy, total, type Sample } from './prometheus.js';
import type { DeadLetterRow, LagRow } from './view.js';

export interface Scrape {
  /** The operator's name for the URL (CONSOLE_METRICS_URLS). */
  name: string;
  url: string;
  /** Null when the URL did not answer with metrics; `error` says why. */
  samples: Sample[] | null;
  error?: string;
}

export type Role = 'learner' | 'sessionizer' | 'serving' | 'gateway' | 'unknown';

export function roleOf(samples: readonly Sample[]): Role {
  if (has(samples, METRICS.learner.steps.name)) return 'learner';
  if (has(samples, METRICS.sessionizer.transitions.name) || has(samples, METRICS.sessionizer.events.name)) return 'sessionizer';
  if (has(samples, METRICS.serving.modelVersion.name)) return 'serving';
  if (has(samples, METRICS.gateway.requests.name) || has(samples, METRICS.gateway.events.name)) return 'gateway';
  return 'unknown';
}

const ofRole = (scrapes: readonly Scrape[], role: Role) =>
  scrapes.filter((s): s is Scrape & { samples: Sample[] } => s.samples !== null && roleOf(s.samples) === role);

/** The learner's counters from its scrape (the first one, when several answer); null when none answered. */
export function learnerSample(scrapes: readonly Scrape[], at: number): LearnerSample | null {
  const l = ofRole(scrapes, 'learner')[0];
  if (!l) return null;
  const M = METRICS.learner;
  const outcomes = sumBy(l.samples, M.transitions.name, 'outcome');
  const losses = sumBy(l.samples, M.loss.name, 'network');
  return {
    at,
    steps: total(l.samples, M.steps.name),
    // Read for training or for the held-out window (refills after a restart are not new traffic).
    transitions: (outcomes.accepted ?? 0) + (outcomes.held_out ?? 0),
    replaySize: total(l.samples, M.replaySize.name),
    itemCount: null,
    losses: losses.critic === undefined ? null : { critic: losses.critic, actor: losses.actor ?? NaN, probability: losses.probability ?? NaN },
  };
}

/** One sessionizer's outcome counters at one scrape (services/sessionizer/metrics.ts), all since its process started. */
export interface SessionizerReading {
  /** Sessions ended with every transition seen (`counted`), their Σ reward, Σ reward² and transitions by behaviour. */
  counted: number;
  reward: number;
  squares: number;
  behaviours: Record<Behaviour, number>;
  /** Sessions ended but not in the means: partly seen by this process, or with no transition. */
  partial: number;
  empty: number;
  /** Every transition by scenario and behaviour. */
  scenarios: Record<Scenario, Record<Behaviour, number>>;
  /** The reward each behaviour earns (the sessionizer's settings). */
  rewards: Record<Behaviour, number>;
}

const byBehaviour = (f: (b: Behaviour) => number): Record<Behaviour, number> =>
  Object.fromEntries(BEHAVIOURS.map((b) => [b, f(b)])) as Record<Behaviour, number>;

/** A sessionizer scrape's outcome counters; null when it has none (a sessionizer older than these metrics). */
export function sessionizerReading(samples: readonly Sample[]): SessionizerReading | null {
  const M = METRICS.sessionizer;
  if (!has(samples, M.sessions.name) || !has(samples, M.behaviours.name) || !has(samples, M.behaviourReward.name)) return null;
  const sessions = sumBy(samples, M.sessions.name, 'outcome');
  const ofSession = sumBy(samples, M.sessionBehaviours.name, 'behaviour');
  const rewards = sumBy(samples, M.behaviourReward.name, 'behaviour');
  const scenarios = Object.fromEntries(SCENARIOS.map((s) => [s, byBehaviour(() => 0)])) as Record<Scenario, Record<Behaviour, number>>;
  for (const x of samples) {
    if (x.name !== M.behaviours.name) continue;
    const row = scenarios[x.labels.scenario as Scenario];
    const b = x.labels.behaviour as Behaviour;
    if (row && b in row) row[b] += x.value;
  }
  return {
    counted: total(samples, `${M.sessionReward.name}_count`) ?? 0,
    reward: total(samples, `${M.sessionReward.name}_sum`) ?? 0,
    squares: total(samples, M.sessionRewardSquares.name) ?? 0,
    behaviours: byBehaviour((b) => ofSession[b] ?? 0),
    partial: sessions.partial ?? 0,
    empty: sessions.empty ?? 0,
    scenarios,
    rewards: byBehaviour((b) => rewards[b] ?? 0),
  };
}

/** Each answering sessionizer's reading, by the operator's name for its URL (readings need a stable name across scrapes). */
export function sessionizerReadings(scrapes: readonly Scrape[]): { name: string; reading: SessionizerReading | null }[] {
  return ofRole(scrapes, 'sessionizer').map((s) => ({ name: s.name, reading: sessionizerReading(s.samples) }));
}

/** Consumer lag per group: the sessionizer's (on `events`) and the learner's (on `transitions`), each summed over partitions and instances. */
export function lagRows(scrapes: readonly Scrape[]): LagRow[] {
  const rows: LagRow[] = [];
  const sessionizers = ofRole(scrapes, 'sessionizer');
  if (sessionizers.length) rows.push({ group: 'sessionizer', topic: 'events', lag: sessionizers.reduce((n, s) => n + (total(s.samples, METRICS.sessionizer.consumerLag.name) ?? 0), 0) });
  const learners = ofRole(scrapes, 'learner');
  if (learners.length) rows.push({ group: 'learner', topic: 'transitions', lag: learners.reduce((n, s) => n + (total(s.samples, METRICS.learner.consumerLag.name) ?? 0), 0) });
  return rows;
}

/** Dead letters per reason, as finely as each service's counters label them. */
export function deadLetterRows(scrapes: readonly Scrape[]): DeadLetterRow[] {
  const rows: DeadLetterRow[] = [];
  const add = (source: string, reason: string, count: number | undefined | null) => {
    if (count) rows.push({ source, reason, count });
  };
  const sum = (role: Role, f: (s: Sample[]) => number | undefined | null) => ofRole(scrapes, role).reduce((n, s) => n + (f(s.samples) ?? 0), 0);
  add('gateway', 'event failed validation', sum('gateway', (s) => sumBy(s, METRICS.gateway.events.name, 'outcome').rejected));
  add('sessionizer', 'undecodable, too late or unjoinable event (the counter has no finer reason)', sum('sessionizer', (s) => total(s, METRICS.sessionizer.deadLetters.name)));
  add('learner', 'transition could not be decoded', sum('learner', (s) => sumBy(s, METRICS.learner.transitions.name, 'outcome').undecodable));
  add('learner', 'transition rejected (other rewards, or unusable)', sum('learner', (s) => sumBy(s, METRICS.learner.transitions.name, 'outcome').rejected));
  return rows;
}

/** What the scrapes could not give: URLs that did not answer, roles with no URL. */
export function scrapeNotes(scrapes: readonly Scrape[]): string[] {
  const notes = scrapes.filter((s) => s.samples === null).map((s) => `${s.name} (${s.url}) did not answer: ${s.error ?? 'no metrics'}`);
  const answered = scrapes.filter((s) => s.samples !== null).map((s) => roleOf(s.samples!));
  for (const role of ['learner', 'sessionizer'] as const) {
    if (!answered.includes(role)) notes.push(`no ${role} metrics: give its /metrics URL in CONSOLE_METRICS_URLS`);
  }
  return notes;
}
