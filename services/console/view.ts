/**
 * The console's API body (GET /api/view, and each server-sent event of GET /api/stream): everything the page
 * draws, as plain JSON. Times are Unix seconds (what the charts' x axes take); a panel a source cannot fill
 * says so in `note` instead of showing zeros. The pure modules beside this file build it from session
 * records, transitions, registry rows and Prometheus text; the page (page/console.js) only draws it.
 */
import type { Scenario } from '../common/index.js';
import type { VersionDecision } from '../registry/index.js';

export interface ConsoleView {
  mode: 'demo' | 'deployment';
  /** When the view was built, Unix seconds. */
  at: number;
  model: string;
  sessions: SessionsPanel | Unavailable;
  scenarios: ScenariosPanel | Unavailable;
  learner: LearnerPanel;
  versions: VersionsPanel;
  pipeline: PipelinePanel;
  /** What each panel is read from, in words. */
  sources: Record<'sessions' | 'scenarios' | 'learner' | 'versions' | 'pipeline', string>;
}

/** A panel with nothing to show from this source, and why. */
export interface Unavailable {
  available: false;
  note: string;
}

export interface SessionSeries {
  /**
   * Sample times (Unix seconds); each point describes the `window` sessions that ended last before it (in a
   * deployment: at least the last `window`, back to the scrape before which fewer had ended).
   */
  t: number[];
  n: number[];
  mean: number[];
  /** 95% interval of the mean: mean ± 1.96·sd/√n. */
  low: number[];
  high: number[];
  clicks: number[];
  /** Session length, in `lengthUnit`s. */
  pages: number[];
  purchases: number[];
}

export interface SessionsPanel {
  available: true;
  /** Sessions in each rolling mean (in a deployment, at least this many: as finely as the scrapes allow). */
  window: number;
  sessions: number;
  /**
   * What session length (`pages`) counts: pages shown (the demo's simulated sessions) or items with an
   * outcome, one transition each (the sessionizer's /metrics in a deployment).
   */
  lengthUnit: 'pages' | 'items';
  /** Sessions ended but left out of the means (a deployment): partly seen by the sessionizer that ended them, or with no item shown. */
  notCounted: { partial: number; empty: number } | null;
  /** Over the last `window` sessions. */
  latest: { n: number; mean: number | null; low: number | null; high: number | null; clicks: number | null; pages: number | null; purchases: number | null };
  /** Over every session so far. */
  /** Over every session so far; fallback pages and errors are known in the demo only (null in a deployment). */
  overall: { mean: number | null; clicks: number | null; pages: number | null; fallbackPages: number | null; errors: number | null };
  series: SessionSeries;
}

export interface ScenarioRow {
  scenario: Scenario;
  /** Shown items whose outcome the sessionizer resolved (one transition each). */
  items: number;
  clicks: number;
  purchases: number;
  skips: number;
  /** Sessions that ended on a page of this scenario. */
  leaves: number;
  reward: number;
  clickRate: number | null;
  leaveRate: number | null;
  rewardPerItem: number | null;
}

export interface ScenariosPanel {
  available: true;
  rows: ScenarioRow[];
  /** Click rate per scenario in each time bucket (null: no item of that scenario in the bucket). */
  series: { t: number[]; bucketSeconds: number; clickRate: Record<Scenario, (number | null)[]> };
}

export interface Losses {
  critic: number;
  actor: number;
  probability: number;
}

export interface LearnerPanel {
  available: true;
  latest: {
    steps: number | null;
    transitions: number | null;
    replaySize: number | null;
    /** Items the learner knows (its vocabulary); null where the source does not export it. */
    itemCount: number | null;
    losses: Losses | null;
    stepsPerSecond: number | null;
    transitionsPerSecond: number | null;
  };
  series: {
    t: number[];
    critic: (number | null)[];
    actor: (number | null)[];
    probability: (number | null)[];
    stepsPerSecond: (number | null)[];
    transitionsPerSecond: (number | null)[];
    replaySize: (number | null)[];
    itemCount: (number | null)[];
  };
}

export interface VersionRow {
  version: number;
  createdAt: number;
  status: string;
  /** The release gate's outcome; null for a version written without a decision. */
  outcome: VersionDecision['outcome'] | null;
  reasons: string[];
  baselineVersion: number | null;
  baselinePinned: boolean;
  /** The gate's numbers as stored (difference, differenceLow, differenceHigh, gatePages, losses, …). */
  numbers: Record<string, number>;
  trainSteps: number;
  transitionsSeen: number;
  pinned: boolean;
  /** Serving nodes whose latest deployment is this version. */
  servedBy: string[];
  weightsPruned: boolean;
}

export interface DeploymentRow {
  servingNode: string;
  version: number;
  loadedAt: number;
  /** Whether this is the version every node should run (the pinned one, else the live one). */
  current: boolean;
}

export interface ChangeRow {
  at: number;
  actor: string;
  action: string;
  fromVersion: number | null;
  toVersion: number | null;
  reason: string;
}

export interface VersionsPanel {
  available: true;
  live: number | null;
  pinned: number | null;
  /** Newest first. */
  versions: VersionRow[];
  deployments: DeploymentRow[];
  changes: ChangeRow[];
}

export interface LagRow {
  group: string;
  topic: string;
  lag: number;
}

export interface DeadLetterRow {
  source: string;
  reason: string;
  count: number;
}

export interface PipelinePanel {
  available: true;
  freshness: {
    /** Seconds since the newest version was written (null: none yet). */
    newestVersionAge: number | null;
    /** Seconds since the version the serving nodes should run was written. */
    servedVersionAge: number | null;
    /** The newest deployment's delay from the version's creation to a node loading it, seconds. */
    publishToServe: number | null;
    /** Seconds since the most recent swap on any serving node. */
    lastSwapAge: number | null;
  };
  lag: LagRow[];
  deadLetters: DeadLetterRow[];
  notes: string[];
}
