/**
 * What a demo run leaves behind: the chart (HTML with an inline SVG, and the SVG alone), a summary JSON
 * file with every session, and the one-line verdict printed on stdout:
 *   {"demo":"done","sessions":…,"reward_first_decile":…,"reward_last_decile":…,"versions":…, …intervals}
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { scrubSecretsIn } from '../common/index.js';
import type { SessionRecord } from '../simulator/index.js';
import { rewardChartHtml, rewardChartSvg, type ChartInput } from './chart.js';
import type { DemoSettings } from './options.js';
import { round, summariseRewards, type DecileSummary } from './stats.js';

export interface DemoRun {
  mode: 'embedded' | 'kafka';
  startedAt: number;
  endedAt: number;
  sessions: SessionRecord[];
  /** Versions published (live) and rejected by the release gate, with when and the gate's first reason. */
  versions: { version: number; at: number; live: boolean; reason: string | null }[];
  /** Transitions that reached the learner. */
  transitions: number;
  steps: number | null;
  /** Integrity counters (dead letters, reward mismatches, …): all should be 0 but the named totals. */
  checks: Record<string, number>;
}

export function summariseRun(run: DemoRun): DecileSummary {
  const ordered = [...run.sessions].sort((a, b) => a.startedAt - b.startedAt);
  return summariseRewards(ordered.map((s) => s.reward));
}

const interval = (low: number, high: number) => [round(low), round(high)];

export function verdictLine(run: DemoRun, summary: DecileSummary, chart: string): Record<string, unknown> {
  return {
    demo: 'done',
    sessions: summary.sessions,
    reward_first_decile: round(summary.first.mean),
    reward_last_decile: round(summary.last.mean),
    versions: run.versions.filter((v) => v.live).length,
    reward_first_decile_ci95: interval(summary.first.low, summary.first.high),
    reward_last_decile_ci95: interval(summary.last.low, summary.last.high),
    decile_sessions: summary.first.n,
    improvement: round(summary.difference.difference),
    improvement_ci95: interval(summary.difference.low, summary.difference.high),
    versions_rejected: run.versions.filter((v) => !v.live).length,
    transitions: run.transitions,
    mode: run.mode,
    chart,
  };
}

export function chartInput(run: DemoRun, settings: DemoSettings, summary: DecileSummary): ChartInput {
  const ordered = [...run.sessions].sort((a, b) => a.startedAt - b.startedAt);
  const s = settings;
  return {
    title: `DeepChain demo (${run.mode}): reward per session as the agents learn`,
    sessions: ordered.map((r) => ({ t: (r.startedAt - run.startedAt) / 1000, reward: r.reward })),
    versions: run.versions.map((v) => ({ t: (v.at - run.startedAt) / 1000, version: v.version, live: v.live, reason: v.reason })),
    summary,
    notes: [
      `${summary.sessions} sessions in ${((run.endedAt - run.startedAt) / 60_000).toFixed(1)} min; ${run.versions.filter((v) => v.live).length} versions published, ${run.versions.filter((v) => !v.live).length} rejected; ${run.transitions} transitions reached the learner${run.steps === null ? '' : `, ${run.steps} training steps`}`,
      `first decile (${summary.first.n} sessions): ${fmt(summary.first.mean)} [${fmt(summary.first.low)}, ${fmt(summary.first.high)}] 95%`,
      `last decile (${summary.last.n} sessions): ${fmt(summary.last.mean)} [${fmt(summary.last.low)}, ${fmt(summary.last.high)}] 95%`,
      `improvement: ${fmt(summary.difference.difference)} [${fmt(summary.difference.low)}, ${fmt(summary.difference.high)}] 95%`,
      `world ${s.world.seed}: ${s.world.items} items in ${s.world.clusters} clusters, ${s.world.users} users, interest diversity ${s.world.interestDiversity}, patience ${s.world.patience}; traffic and model seed ${s.seed}; ${s.k} items per page, ε = ${s.epsilon}; ${fmt(run.sessions.reduce((n, r) => n + r.purchases, 0) / Math.max(1, run.sessions.length))} items bought per session`,
      `model: E = ${s.model.embeddingSize}, H = ${s.model.hiddenSize}, N = ${s.model.historyLength}, batch ${s.model.batchSize}; rewards click 1, skip 0, leave −2`,
    ],
  };
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : String(x));

/** Writes the chart and the summary into settings.out; returns the verdict line and the chart's path. */
export async function writeReport(run: DemoRun, settings: DemoSettings): Promise<{ line: Record<string, unknown>; chartPath: string }> {
  const dir = resolve(settings.out);
  await mkdir(dir, { recursive: true });
  const summary = summariseRun(run);
  const input = chartInput(run, settings, summary);
  const chartPath = join(dir, 'reward-per-session.html');
  await writeFile(chartPath, rewardChartHtml(input));
  await writeFile(join(dir, 'reward-per-session.svg'), rewardChartSvg(input));
  const line = verdictLine(run, summary, chartPath);
  // settings may hold a database URL with its password (--database-url): it is blanked.
  await writeFile(join(dir, 'summary.json'), `${JSON.stringify({ ...line, settings: scrubSecretsIn(settings), checks: run.checks, versions: run.versions, sessions: run.sessions }, null, 1)}\n`);
  return { line, chartPath };
}
