/**
 * The reports' text (pure): metrics.json bodies and report.md, with the sentences about where DeepChain
 * stands computed from the numbers. The rule: a difference counts only when the two 95% t-intervals over
 * seeds do not overlap (conservative); otherwise the report says the two are not distinguishable.
 */
import type { Scenario } from '../common/index.js';
import type { OfflineResult } from './offline.js';
import type { OnlineResult } from './online.js';
import type { OnlineSensitivityResult, SensitivityResult } from './sensitivity.js';
import type { Interval } from './stats.js';

export type Standing = 'ahead' | 'behind' | 'tied';

export function compareIntervals(a: Interval, b: Interval): Standing {
  if (a.low > b.high) return 'ahead';
  if (a.high < b.low) return 'behind';
  return 'tied';
}

export const fmtInterval = (i: Interval, digits = 4) => `${i.mean.toFixed(digits)} ± ${i.halfWidth.toFixed(digits)}`;

const SCENARIO_TITLE: Record<string, string> = { entrance: 'entrance (list) page', detail: 'item detail page (derived)', all: 'all views' };

export interface Comparison {
  readonly model: string;
  readonly scenario: Scenario | 'all';
  readonly metric: 'ndcg' | 'map';
  readonly deepchain: Interval;
  readonly other: Interval;
  readonly standing: Standing;
}

export function offlineComparisons(result: OfflineResult, reference = 'DeepChain'): Comparison[] {
  const dc = result.models.find((m) => m.name === reference);
  if (!dc) return [];
  const out: Comparison[] = [];
  for (const m of result.models) {
    if (m.name === reference) continue;
    for (const scenario of result.scenarios) {
      for (const metric of ['ndcg', 'map'] as const) {
        const a = dc.summary[scenario]?.[metric];
        const b = m.summary[scenario]?.[metric];
        if (a && b) out.push({ model: m.name, scenario, metric, deepchain: a, other: b, standing: compareIntervals(a, b) });
      }
    }
  }
  return out;
}

/** One sentence per other model, from the comparisons. */
export function standingSentences(comparisons: readonly Comparison[], k: number, reference = 'DeepChain'): string[] {
  const byModel = new Map<string, Comparison[]>();
  for (const c of comparisons) byModel.set(c.model, [...(byModel.get(c.model) ?? []), c]);
  const metricName = (m: 'ndcg' | 'map') => (m === 'ndcg' ? `NDCG@${k}` : 'MAP');
  const out: string[] = [];
  for (const [model, cs] of byModel) {
    const ahead = cs.filter((c) => c.standing === 'ahead');
    const behind = cs.filter((c) => c.standing === 'behind');
    const verdict =
      ahead.length === cs.length ? `${reference} is **ahead of ${model}** on every scenario and metric`
        : behind.length === cs.length ? `${reference} is **behind ${model}** on every scenario and metric`
          : ahead.length === 0 && behind.length === 0 ? `${reference} and ${model} are **not distinguishable** (every pair of intervals overlaps)`
            : `${reference} is **ahead of ${model}** on ${ahead.length}, **behind** on ${behind.length} and level on ${cs.length - ahead.length - behind.length} of ${cs.length} scenario/metric pairs`;
    const details = cs.map((c) => `${c.scenario} ${metricName(c.metric)} ${fmtInterval(c.deepchain)} vs ${fmtInterval(c.other)}`).join('; ');
    out.push(`- ${verdict} (${details}).`);
  }
  return out;
}

export function offlineMetricsJson(result: OfflineResult): unknown {
  return {
    kind: 'deepchain.eval.offline',
    version: 1,
    backend: result.backend,
    data: result.data,
    config: result.config,
    k: result.config.k,
    scenarios: result.scenarios,
    models: Object.fromEntries(result.models.map((m) => [m.name, { summary: m.summary, perSeed: m.perSeed }])),
    comparisons: offlineComparisons(result).map((c) => ({ model: c.model, scenario: c.scenario, metric: c.metric, standing: c.standing, deepchain: c.deepchain.mean, other: c.other.mean })),
    attention: result.attention,
  };
}

function table(result: OfflineResult, scenario: Scenario | 'all'): string[] {
  const k = result.config.k;
  const rows = [...result.models]
    .filter((m) => m.summary[scenario])
    .sort((a, b) => b.summary[scenario]!.ndcg.mean - a.summary[scenario]!.ndcg.mean);
  return [
    `| model | NDCG@${k} (mean ± 95% CI) | MAP (mean ± 95% CI) | seeds |`,
    '| --- | --- | --- | --- |',
    ...rows.map((m) => {
      const s = m.summary[scenario]!;
      const name = m.name === 'DeepChain' ? '**DeepChain**' : m.name;
      return `| ${name} | ${fmtInterval(s.ndcg)} | ${fmtInterval(s.map)} | ${s.ndcg.n} |`;
    }),
  ];
}

export function offlineReportMarkdown(result: OfflineResult, charts: { bars: string[]; attention: string | null }): string {
  const d = result.data;
  const c = result.config;
  const k = c.k;
  const comparisons = offlineComparisons(result);
  const lines: string[] = [
    '# Offline test (paper Algorithm 3)',
    '',
    `Logged views: ${d.views} (${d.trainSessions} training sessions, ${d.testSessions} test sessions; split by time 80/20 at ${d.cutoff ?? '—'}). ` +
      `Test views scored per scenario: ${result.scenarios.map((s) => `${s} ${result.models[0]?.summary[s]?.views ?? 0}`).join(', ')} ` +
      `(views with at least one click; ${Object.entries(d.testViewsByScenario).map(([s, n]) => `${s} ${n}`).join(', ')} in the test part).`,
    '',
    `Every model was trained on the training part only, with settings fixed before the run (no setting was chosen by looking at test numbers), ` +
      `over ${c.seeds.length} seeds (${c.seeds.join(', ')}); intervals are 95% Student-t intervals over the seeds. Backend: ${result.backend}. ` +
      `History length N = ${c.historyLength}, |E| = ${c.embedding.dimension}, |H| = ${c.deepchain.hiddenSize}, ${c.deepchain.steps} Algorithm 1 steps of batch ${c.deepchain.batchSize} per DeepChain variant.`,
    '',
    `${(d.coldItemShare * 100).toFixed(1)}% of the items shown in test views were never shown in the training part, and item2vec learned vectors for ${d.clickedItemsWithEmbedding} clicked items; ` +
      'an item without a vector scores 0 for the embedding models (ties keep the display order).',
    '',
    '## Where DeepChain stands',
    '',
    'A difference is claimed only where the two 95% intervals do not overlap.',
    '',
    ...(comparisons.length ? standingSentences(comparisons, k) : ['- DeepChain was not among the models of this run.']),
    '',
  ];
  for (const s of [...result.scenarios, 'all' as const]) {
    lines.push(`## ${SCENARIO_TITLE[s] ?? s}`, '', ...table(result, s), '');
  }
  lines.push('## Charts', '');
  for (const b of charts.bars) lines.push(`![${b}](${b})`, '');
  if (result.attention && charts.attention) {
    lines.push(
      '## Attention weights (paper Fig. 8)',
      '',
      `Mean item-level attention weight of the last ${result.attention.last} history items (left = oldest of them, right = the most recent), ` +
        `over test views whose history holds at least ${result.attention.last} items, for the first seed's DeepChain.`,
      '',
      `![attention](${charts.attention})`,
      '',
      '| network | scenario | states | weights (oldest → newest) | share on the newest |',
      '| --- | --- | --- | --- | --- |',
      ...result.attention.rows.map((r) => {
        const sum = r.weights.reduce((a, b) => a + b, 0);
        return `| ${r.network} | ${r.scenario} | ${r.states} | ${r.weights.map((w) => w.toFixed(3)).join(', ')} | ${sum > 0 ? ((r.weights[r.weights.length - 1]! / sum) * 100).toFixed(1) : '—'}% |`;
      }),
      '',
    );
  }
  lines.push(
    '## Caveats',
    '',
    '- The detail-page scenario of the trivago data is derived (its shown items are borrowed from the neighbouring result list): read its numbers as an approximation (data README).',
    '- The logged order carries trivago\'s own ranker and a strong position bias (median clicked position 3); the learned models see only the click history, not the position.',
    '- Baselines are simplified where noted in services/eval/README.md (DDPG with three layers, MA-RDPG\'s message from the click history only).',
    '',
  );
  return lines.join('\n');
}

export function sensitivityMetricsJson(result: SensitivityResult): unknown {
  return {
    kind: 'deepchain.eval.sensitivity',
    version: 1,
    lengths: result.lengths,
    runs: result.runs.map((r) => ({ historyLength: r.historyLength, data: r.result.data, summary: r.result.models.find((m) => m.name === 'DeepChain')?.summary ?? null })),
    config: result.runs[0]?.result.config ?? null,
  };
}

export function sensitivityReportMarkdown(result: SensitivityResult, charts: string[]): string {
  const first = result.runs[0]?.result;
  const k = first?.config.k ?? 10;
  const scenarios = first?.scenarios ?? [];
  const lines = [
    '# Parameter study: history length N (paper §4.4, Fig. 7b, offline)',
    '',
    `DeepChain's offline test at N = ${result.lengths.join(', ')}, everything else fixed, ${first?.config.seeds.length ?? 0} seeds each (95% t-intervals).`,
    '',
    `| N | ${scenarios.map((s) => `${s} NDCG@${k} | ${s} MAP`).join(' | ')} |`,
    `| --- | ${scenarios.map(() => '--- | ---').join(' | ')} |`,
  ];
  for (const r of result.runs) {
    const s = r.result.models.find((m) => m.name === 'DeepChain')?.summary;
    lines.push(`| ${r.historyLength} | ${scenarios.map((sc) => (s?.[sc] ? `${fmtInterval(s[sc]!.ndcg)} | ${fmtInterval(s[sc]!.map)}` : '— | —')).join(' | ')} |`);
  }
  lines.push('');
  for (const sc of scenarios) {
    const pts = result.runs.map((r) => r.result.models.find((m) => m.name === 'DeepChain')?.summary[sc]?.ndcg);
    const firstPt = pts[0];
    const lastPt = pts[pts.length - 1];
    if (firstPt && lastPt) {
      const st = compareIntervals(lastPt, firstPt);
      lines.push(
        `- ${sc}: NDCG@${k} goes from ${fmtInterval(firstPt)} at N = ${result.lengths[0]} to ${fmtInterval(lastPt)} at N = ${result.lengths[result.lengths.length - 1]}: ` +
          (st === 'ahead' ? 'longer histories help.' : st === 'behind' ? 'longer histories hurt.' : 'no difference beyond the intervals.'),
      );
    }
  }
  lines.push('', ...charts.map((c) => `![${c}](${c})\n`));
  return lines.join('\n');
}

export function onlineSensitivityMetricsJson(result: OnlineSensitivityResult): unknown {
  return {
    kind: 'deepchain.eval.sensitivity-online',
    version: 1,
    lengths: result.lengths,
    runs: result.runs.map((r) => ({ historyLength: r.historyLength, models: r.result.models.map((m) => ({ name: m.name, perSeed: m.perSeed, summary: m.summary })) })),
    config: result.runs[0]?.result.config ?? null,
  };
}

export function onlineSensitivityReportMarkdown(result: OnlineSensitivityResult, charts: string[]): string {
  const seeds = result.runs[0]?.result.config.seeds.length ?? 0;
  const lines = [
    '# Parameter study: history length N (paper §4.4, Fig. 7a, online)',
    '',
    `DeepChain's online test (Algorithm 2 on the simulator) at N = ${result.lengths.join(', ')}, everything else fixed, ${seeds} seeds each (95% t-intervals). The logging policy's reward is the reference.`,
    '',
    '| N | DeepChain reward / session | logging policy reward / session |',
    '| --- | --- | --- |',
  ];
  const summaryOf = (r: OnlineSensitivityResult['runs'][number], name: string) => r.result.models.find((m) => m.name === name)?.summary?.reward;
  for (const r of result.runs) {
    const dc = summaryOf(r, 'DeepChain');
    const lp = summaryOf(r, 'logging policy');
    lines.push(`| ${r.historyLength} | ${dc ? fmtInterval(dc, 3) : '—'} | ${lp ? fmtInterval(lp, 3) : '—'} |`);
  }
  const first = result.runs[0] && summaryOf(result.runs[0], 'DeepChain');
  const last = result.runs.at(-1) && summaryOf(result.runs.at(-1)!, 'DeepChain');
  if (first && last) {
    const st = compareIntervals(last, first);
    lines.push('', `- Reward per session goes from ${fmtInterval(first, 3)} at N = ${result.lengths[0]} to ${fmtInterval(last, 3)} at N = ${result.lengths.at(-1)}: ` +
      (st === 'ahead' ? 'longer histories help.' : st === 'behind' ? 'longer histories hurt.' : 'no difference beyond the intervals.'));
  }
  lines.push('', ...charts.map((c) => `![${c}](${c})\n`));
  return lines.join('\n');
}

// ——— online test ———

export function onlineMetricsJson(result: OnlineResult): unknown {
  const dc = result.models.find((m) => m.name === 'DeepChain')?.summary;
  return {
    kind: 'deepchain.eval.online',
    version: 1,
    backend: result.backend,
    logged: result.logged,
    config: result.config,
    models: Object.fromEntries(result.models.map((m) => [m.name, { summary: m.summary, perSeed: m.perSeed }])),
    comparisons: dc
      ? result.models.filter((m) => m.name !== 'DeepChain' && m.summary).map((m) => ({ model: m.name, metric: 'reward', standing: compareIntervals(dc.reward, m.summary!.reward), deepchain: dc.reward.mean, other: m.summary!.reward.mean }))
      : [],
  };
}

export function onlineReportMarkdown(result: OnlineResult, charts: string[]): string {
  const c = result.config;
  const rows = result.models.filter((m) => m.summary).sort((a, b) => b.summary!.reward.mean - a.summary!.reward.mean);
  const dc = result.models.find((m) => m.name === 'DeepChain')?.summary;
  const lines = [
    '# Online test on the simulator (paper Algorithm 2)',
    '',
    `Per seed (${c.seeds.join(', ')}): a simulated world (services/simulator) with its own seed; ${c.logSessions} sessions logged under a random logging policy ` +
      `(last seed: ${result.logged.views} pages, ${result.logged.clicks} clicks) train every model; then each model serves ${c.testSessions} sessions of the same users ` +
      `with the same random streams, ${c.k} items per page ranked from the whole catalogue. Reward per session: click 1, skip 0, leave −2. ` +
      `Intervals: 95% t-intervals over seeds. Backend: ${result.backend}.`,
    '',
    '| model | reward / session | clicks / session | pages / session |',
    '| --- | --- | --- | --- |',
    ...rows.map((m) => `| ${m.name === 'DeepChain' ? '**DeepChain**' : m.name} | ${fmtInterval(m.summary!.reward, 3)} | ${fmtInterval(m.summary!.clicks, 3)} | ${fmtInterval(m.summary!.pages, 2)} |`),
    '',
    '## Where DeepChain stands',
    '',
    'A difference is claimed only where the two 95% intervals of the reward per session do not overlap.',
    '',
  ];
  if (!dc) lines.push('- DeepChain was not among the models of this run.');
  else {
    for (const m of rows) {
      if (m.name === 'DeepChain') continue;
      const st = compareIntervals(dc.reward, m.summary!.reward);
      const word = st === 'ahead' ? `is **ahead of ${m.name}**` : st === 'behind' ? `is **behind ${m.name}**` : `is **not distinguishable from ${m.name}**`;
      lines.push(`- DeepChain ${word}: reward per session ${fmtInterval(dc.reward, 3)} vs ${fmtInterval(m.summary!.reward, 3)}.`);
    }
  }
  lines.push('', '## Charts', '', ...charts.map((ch) => `![${ch}](${ch})\n`));
  lines.push(
    '## Caveats',
    '',
    '- The walk runs in process through the simulator\'s walkPage (no serving node, Kafka or SDK), with adding to the cart switched off so that only the paper\'s two scenarios occur.',
    '- Models are trained once on the random policy\'s logs and then serve without further learning (the paper\'s online test deploys trained actors).',
    '',
  );
  return lines.join('\n');
}
