/**
 * The reports' text (pure): metrics.json bodies and report.md, with the sentences about where DeepChain
 * stands computed from the numbers. Between two models scored on the same units (test views offline,
 * sessions with common random numbers online) a difference is claimed only where the paired 95% bootstrap
 * interval of the difference excludes zero (paired.ts); elsewhere (the parameter studies) only where the
 * two 95% t-intervals over seeds do not overlap.
 */
import type { Scenario } from '../common/index.js';
import { RANKING_METRICS, type RankingMetric } from './metrics.js';
import { TRAINING_SPECS } from './models.js';
import type { OfflineResult, PairedComparison } from './offline.js';
import type { OnlineResult } from './online.js';
import type { PairedInterval, Standing } from './paired.js';
import type { OnlineSensitivityResult, SensitivityResult } from './sensitivity.js';
import type { Selection } from './selection.js';
import type { Interval } from './stats.js';

export type { Standing } from './paired.js';

export function compareIntervals(a: Interval, b: Interval): Standing {
  if (a.low > b.high) return 'ahead';
  if (a.high < b.low) return 'behind';
  return 'tied';
}

export const fmtInterval = (i: Interval, digits = 4) => `${i.mean.toFixed(digits)} ± ${i.halfWidth.toFixed(digits)}`;
export const fmtPaired = (d: PairedInterval, digits = 4) => `${d.mean >= 0 ? '+' : ''}${d.mean.toFixed(digits)} [${d.low.toFixed(digits)}, ${d.high.toFixed(digits)}]`;

const SCENARIO_TITLE: Record<string, string> = { entrance: 'entrance (list) page', detail: 'item detail page (derived)', all: 'all views' };

export function metricTitle(metric: RankingMetric, k: number): string {
  return { ndcg: `NDCG@${k}`, map: 'MAP', mrr: 'MRR', hr: `HR@${k}` }[metric];
}

/** One sentence per other model, from the paired comparisons of DeepChain against it. */
export function standingSentences(comparisons: readonly PairedComparison[], k: number, reference = 'DeepChain'): string[] {
  const byModel = new Map<string, PairedComparison[]>();
  for (const c of comparisons) byModel.set(c.model, [...(byModel.get(c.model) ?? []), c]);
  const out: string[] = [];
  for (const [model, cs] of byModel) {
    const ahead = cs.filter((c) => c.standing === 'ahead').length;
    const behind = cs.filter((c) => c.standing === 'behind').length;
    const verdict =
      ahead === cs.length ? `${reference} is **ahead of ${model}** on every scenario and metric`
        : behind === cs.length ? `${reference} is **behind ${model}** on every scenario and metric`
          : ahead === 0 && behind === 0 ? `${reference} and ${model} are **tied** (every paired interval holds zero)`
            : `${reference} is **ahead of ${model}** on ${ahead}, **behind** on ${behind} and tied on ${cs.length - ahead - behind} of ${cs.length} scenario/metric pairs`;
    const details = cs.filter((c) => c.metric !== 'hr').map((c) => `${c.scenario} ${metricTitle(c.metric, k)} ${fmtPaired(c.difference)}`).join('; ');
    out.push(`- ${verdict} (DeepChain − ${model}: ${details}).`);
  }
  return out;
}

function selectionJson(s: Selection) {
  return { metric: s.metric, unit: s.unit, maxUnits: s.maxUnits, grid: s.grid, chosen: s.chosen, runs: s.runs };
}

export function offlineMetricsJson(result: OfflineResult): unknown {
  return {
    kind: 'deepchain.eval.offline',
    version: 2,
    backend: result.backend,
    data: result.data,
    config: result.config,
    grids: Object.fromEntries(result.models.map((m) => [m.name, TRAINING_SPECS[m.name]])),
    k: result.config.k,
    scenarios: result.scenarios,
    models: Object.fromEntries(result.models.map((m) => [m.name, { summary: m.summary, perSeed: m.perSeed, selection: selectionJson(m.selection), budget: m.budget }])),
    comparisons: result.comparisons.map((c) => ({
      model: c.model, scenario: c.scenario, metric: c.metric, standing: c.standing,
      difference: c.difference.mean, low: c.difference.low, high: c.difference.high, views: c.difference.units,
    })),
    attention: result.attention,
    diagnostics: result.diagnostics,
  };
}

/** Diagnostics of DeepChain and DC-paper on the validation part (diagnostics.ts), one row per model and scenario. */
export function diagnosticsTable(diagnostics: OfflineResult['diagnostics']): string[] {
  if (diagnostics.length === 0) return [];
  const f = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '—');
  return [
    '## Diagnostics (validation part)',
    '',
    'Each model trained again on the fitting part with its chosen settings (first seed), measured on the validation part. ' +
      'Q–return: Pearson correlation of the critic\'s Q(s, a) with the discounted return observed after each logged transition. ' +
      'Log-loss: the probability net on the logged behaviours, beside the training base rates. Cosine: proto-action with the ' +
      'clicked items\' vectors and with the shown, not clicked, items\' vectors (non-zero ones). With a vector: shown and clicked items ' +
      'that have a non-zero vector in the state they are ranked in (the others score 0 and keep their display place).',
    '',
    '| model | scenario | transitions | Q–return r | log-loss (net / base rates) | cosine clicked / skipped | shown with a vector | clicked with a vector |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...diagnostics.flatMap((d) => d.rows.map((r) =>
      `| ${d.model} | ${r.scenario} | ${r.transitions} | ${f(r.criticReturnCorrelation)} | ${f(r.probabilityLogLoss)} / ${f(r.baseRateLogLoss)} | ${f(r.protoClickedCosine)} / ${f(r.protoSkippedCosine)} | ${f(r.shownWithVector * 100, 1)}% | ${f(r.clickedWithVector * 100, 1)}% |`)),
    '',
  ];
}

function table(result: OfflineResult, scenario: Scenario | 'all'): string[] {
  const k = result.config.k;
  const rows = [...result.models]
    .filter((m) => m.summary[scenario])
    .sort((a, b) => b.summary[scenario]!.ndcg.mean - a.summary[scenario]!.ndcg.mean);
  const paired = (model: string, metric: RankingMetric) => result.comparisons.find((c) => c.model === model && c.scenario === scenario && c.metric === metric);
  return [
    `| model | ${RANKING_METRICS.map((m) => metricTitle(m, k)).join(' | ')} | DeepChain − model, NDCG@${k} (paired 95%) | standing |`,
    `| --- | ${RANKING_METRICS.map(() => '---').join(' | ')} | --- | --- |`,
    ...rows.map((m) => {
      const s = m.summary[scenario]!;
      const name = m.name === 'DeepChain' ? '**DeepChain**' : m.name;
      const c = paired(m.name, 'ndcg');
      return `| ${name} | ${RANKING_METRICS.map((metric) => fmtInterval(s[metric])).join(' | ')} | ${c ? fmtPaired(c.difference) : '—'} | ${c?.standing ?? '—'} |`;
    }),
  ];
}

/** What each model trained: the grid, the choice, the training length and the time it took. */
export function trainingTable(models: readonly { name: string; selection: Selection; budget: OfflineResult['models'][number]['budget'] }[]): string[] {
  const secs = (ms: number) => `${(ms / 1000).toFixed(0)} s`;
  return [
    '| model | grid (validation best per point) | chosen | trained | validation search | final training (per seed) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...models.map(({ name, selection: s, budget: b }) => {
      const grid = s.runs.map((r) => `${Object.entries(r.params).map(([k, v]) => `${k}=${v}`).join(', ') || 'none'}: ${r.best.validation.toFixed(4)}${r.stoppedEarly ? ' (stopped early)' : ''}`).join('; ');
      const chosen = Object.entries(s.chosen.params).map(([k, v]) => `${k}=${v}`).join(', ') || '—';
      const trained = b.unit === null ? 'one fit' : `${b.units} ${b.unit}${b.batchSize ? ` × batch ${b.batchSize}` : ''} (max ${s.maxUnits})`;
      return `| ${name} | ${grid} | ${chosen} | ${trained} | ${secs(b.selectionMs)} | ${secs(b.finalMs)} |`;
    }),
  ];
}

export function offlineReportMarkdown(result: OfflineResult, charts: { bars: string[]; curves: string[]; attention: string | null }): string {
  const d = result.data;
  const c = result.config;
  const k = c.k;
  const lines: string[] = [
    '# Offline test (paper Algorithm 3)',
    '',
    `Logged views: ${d.views}. Split by time: ${d.trainSessions} training sessions (${d.trainViews} views) before ${d.cutoff ?? '—'}, ${d.testSessions} test sessions after; ` +
      `the latest ${d.validationSessions} training sessions (${d.validationViews} views, from ${d.validationCutoff ?? '—'}) are the validation part, the rest (${d.fitViews} views) the fitting part. ` +
      `Test views scored per scenario: ${result.scenarios.map((s) => `${s} ${result.models[0]?.summary[s]?.views ?? 0}`).join(', ')} ` +
      `(views with at least one click; ${Object.entries(d.testViewsByScenario).map(([s, n]) => `${s} ${n}`).join(', ')} in the test part).`,
    '',
    `Protocol: every model's hyper-parameters and training length were chosen on the validation part only (validation NDCG@${k} over all views, first seed; ` +
      `a run stops after ${c.patience} checkpoints without a new best), then each model trained on the whole training part with its choice, over ${c.seeds.length} seeds (${c.seeds.join(', ')}). ` +
      `No setting was chosen by looking at test numbers. Budget ${c.budget}× (\`--budget\`). Backend: ${result.backend}. ` +
      `History length N = ${c.sizes.historyLength}, |E| = ${c.embedding.dimension}, |H| = ${c.sizes.deepchain.hiddenSize}.`,
    '',
    `${(d.coldItemShare * 100).toFixed(1)}% of the items shown in test views were never shown in the training part, and item2vec learned vectors for ${d.clickedItemsWithEmbedding} clicked items; ` +
      'an item without a vector scores 0 for the embedding models (ties keep the display order).',
    '',
    '## Where DeepChain stands',
    '',
    `Paired over the same test views: the 95% interval of DeepChain − model per view (bootstrap over views, ${c.bootstrap.resamples} resamples, seeds pooled); ` +
      '**ahead** only when the whole interval is above zero, **behind** when below, otherwise tied.',
    '',
    ...(result.comparisons.length ? standingSentences(result.comparisons, k) : ['- DeepChain was not among the models of this run.']),
    '',
  ];
  for (const s of [...result.scenarios, 'all' as const]) {
    lines.push(`## ${SCENARIO_TITLE[s] ?? s}`, '', 'Mean ± 95% t-interval over seeds.', '', ...table(result, s), '');
  }
  lines.push('## Training (validation only)', '', ...trainingTable(result.models), '', '### Learning curves (validation)', '');
  for (const ch of charts.curves) lines.push(`![${ch}](${ch})`, '');
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
  lines.push(...diagnosticsTable(result.diagnostics));
  lines.push(
    '## Caveats',
    '',
    '- The detail-page scenario of the trivago data is derived (its shown items are borrowed from the neighbouring result list): read its numbers as an approximation (data README).',
    '- The logged order carries trivago\'s own ranker and a strong position bias (median clicked position 3); the learned models see only the click history, not the position.',
    '- Baselines are simplified where noted in services/eval/README.md (DDPG with three layers, MA-RDPG\'s message from the click history only).',
    '- Hyper-parameters were searched on the first seed\'s validation run only; the choice applies to every seed.',
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
  return {
    kind: 'deepchain.eval.online',
    version: 2,
    backend: result.backend,
    logged: result.logged,
    config: result.config,
    grids: Object.fromEntries(result.config.models.map((m) => [m, TRAINING_SPECS[m]])),
    models: Object.fromEntries(result.models.map((m) => [m.name, {
      summary: m.summary, perSeed: m.perSeed, selection: m.selection ? selectionJson(m.selection) : null, budget: m.budget,
    }])),
    comparisons: result.comparisons.map((c) => ({
      model: c.model, metric: c.metric, standing: c.standing, difference: c.difference.mean, low: c.difference.low, high: c.difference.high, sessions: c.difference.units,
    })),
  };
}

export function onlineReportMarkdown(result: OnlineResult, charts: { bars: string[]; curves: string[] }): string {
  const c = result.config;
  const rows = result.models.filter((m) => m.summary).sort((a, b) => b.summary!.reward.mean - a.summary!.reward.mean);
  const paired = (name: string) => result.comparisons.find((x) => x.model === name);
  const r = c.rewards;
  const lines = [
    '# Online test on the simulator (paper Algorithm 2)',
    '',
    `Per seed (${c.seeds.join(', ')}): a simulated world (services/simulator) of its own seed, ${JSON.stringify(c.world)} over the defaults; ` +
      `${c.logSessions} sessions logged under the exploring logging policy (ε = ${c.logEpsilon}; last seed: ${result.logged.views} pages, ${result.logged.clicks} clicks, ${result.logged.purchases} purchases) ` +
      `are every model's training data, their latest ${(c.training.validationFraction * 100).toFixed(0)}% (by time) its validation part; then each model serves ${c.testSessions} test sessions ` +
      `with the same users and random draws as every other model (common random numbers), ${c.k} items per page ranked from the whole catalogue, all four scenarios on. ` +
      `Reward per session: click ${r.click}, skip ${r.skip}, leave ${r.leave}, purchase ${r.purchase} per item. Backend: ${result.backend}.`,
    '',
    'Mean ± 95% t-interval over seeds; the last two columns pair DeepChain with the model session by session (bootstrap over test sessions, seeds pooled): ' +
      '**ahead** only when the whole interval is above zero.',
    '',
    '| model | reward / session | clicks / session | purchases / session | pages / session | DeepChain − model (paired 95%) | standing |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((m) => {
      const p = paired(m.name);
      return `| ${m.name === 'DeepChain' ? '**DeepChain**' : m.name} | ${fmtInterval(m.summary!.reward, 3)} | ${fmtInterval(m.summary!.clicks, 3)} | ${fmtInterval(m.summary!.purchases, 3)} | ${fmtInterval(m.summary!.pages, 2)} | ${p ? fmtPaired(p.difference, 3) : '—'} | ${p?.standing ?? '—'} |`;
    }),
    '',
    '## Where DeepChain stands',
    '',
  ];
  if (result.comparisons.length === 0) lines.push('- DeepChain was not among the models of this run.');
  for (const p of result.comparisons) {
    const word = p.standing === 'ahead' ? `is **ahead of ${p.model}**` : p.standing === 'behind' ? `is **behind ${p.model}**` : `is **tied with ${p.model}**`;
    lines.push(`- DeepChain ${word}: DeepChain − ${p.model} = ${fmtPaired(p.difference, 3)} reward per session over ${p.difference.units} paired sessions.`);
  }
  const trained = result.models.filter((m): m is typeof m & { selection: Selection; budget: NonNullable<typeof m.budget> } => m.selection !== null && m.budget !== null);
  lines.push('', '## Training (validation only, first seed\'s logs)', '', ...trainingTable(trained.map((m) => ({ name: m.name, selection: m.selection, budget: m.budget }))), '');
  lines.push('### Learning curves (validation)', '', ...charts.curves.map((ch) => `![${ch}](${ch})\n`));
  lines.push('## Charts', '', ...charts.bars.map((ch) => `![${ch}](${ch})\n`));
  lines.push(
    '## Caveats',
    '',
    '- The walk runs in process through the simulator\'s walkPage (no serving node, Kafka or SDK).',
    '- Models train once on the logs and then serve without further learning (the paper\'s online test deploys trained actors).',
    '- Validation is offline (Algorithm 3 re-ranking of the logged validation views, at most ' + c.maxValidationViews + ' of them): what a team could do with logs alone. ' +
      'Purchases count in the reward, but a logged view carries clicks, skips and leaves only.',
    '',
  );
  return lines.join('\n');
}
