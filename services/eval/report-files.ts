/** Writes a report directory: metrics.json, report.md and the PNG charts (SVG rendered by resvg). */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import { groupedBarChart, heatmap, lineChart } from './charts.js';
import type { OfflineResult } from './offline.js';
import type { OnlineResult } from './online.js';
import {
  metricTitle, offlineMetricsJson, offlineReportMarkdown, onlineMetricsJson, onlineReportMarkdown, onlineSensitivityMetricsJson,
  onlineSensitivityReportMarkdown, sensitivityMetricsJson, sensitivityReportMarkdown,
} from './report.js';
import type { OnlineSensitivityResult, SensitivityResult } from './sensitivity.js';
import type { Selection } from './selection.js';
import { RANKING_METRICS } from './metrics.js';

export function svgToPng(svg: string): Uint8Array {
  return new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, background: 'white' }).render().asPng();
}

async function writePng(dir: string, name: string, svg: string): Promise<string> {
  await writeFile(join(dir, name), svgToPng(svg));
  return name;
}

/** Short legend names of grid parameters (the chart's legend is narrow). */
const PARAM_LABEL: Record<string, string> = { actorLearningRate: 'αa', criticLearningRate: 'αc', learningRate: 'lr', tau: 'τ' };

/** One chart per trained model: validation NDCG@k against its training units, a line per grid point. */
export async function writeLearningCurves(dir: string, prefix: string, k: number, selections: readonly Selection[]): Promise<string[]> {
  const out: string[] = [];
  for (const s of selections) {
    if (s.unit === null) continue;
    const x = [...new Set(s.runs.flatMap((r) => r.curve.map((p) => p.units)))].sort((a, b) => a - b);
    const file = `${prefix}-curve-${s.model.replace(/[^A-Za-z0-9]+/g, '-').toLowerCase()}.png`;
    out.push(
      await writePng(dir, file, lineChart({
        title: `${s.model}: validation NDCG@${k} against ${s.unit}`,
        xLabel: s.unit,
        yLabel: `validation NDCG@${k}`,
        x,
        series: s.runs.map((r) => ({
          name: Object.entries(r.params).map(([key, v]) => `${PARAM_LABEL[key] ?? key}=${v}`).join(' '),
          points: x.map((u) => {
            const p = r.curve.find((c) => c.units === u);
            return p ? { mean: p.validation, low: p.validation, high: p.validation } : null;
          }),
        })),
      })),
    );
  }
  return out;
}

export async function writeOfflineReport(dir: string, result: OfflineResult): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const bars: string[] = [];
  const groups = [...result.scenarios, 'all' as const];
  for (const metric of RANKING_METRICS) {
    const title = metricTitle(metric, result.config.k);
    bars.push(
      await writePng(dir, `offline-${metric}.png`, groupedBarChart({
        title: `Offline test: ${title} per scenario (mean, 95% CI over seeds)`,
        yLabel: title,
        groups,
        series: result.models.map((m) => m.name),
        values: result.models.map((m) => groups.map((g) => m.summary[g]?.[metric] ?? null)),
        highlight: 'DeepChain',
      })),
    );
  }
  const curves = await writeLearningCurves(dir, 'offline', result.config.k, result.models.map((m) => m.selection));
  let attention: string | null = null;
  if (result.attention && result.attention.rows.length) {
    const last = result.attention.last;
    attention = await writePng(dir, 'attention.png', heatmap({
      title: `Attention on the last ${last} history items (Fig. 8)`,
      rowLabels: result.attention.rows.map((r) => `${r.network}, ${r.scenario}`),
      colLabels: Array.from({ length: last }, (_, i) => (i === last - 1 ? 'newest' : `t−${last - 1 - i}`)),
      values: result.attention.rows.map((r) => r.weights),
    }));
  }
  await writeFile(join(dir, 'metrics.json'), JSON.stringify(offlineMetricsJson(result), null, 2) + '\n');
  await writeFile(join(dir, 'report.md'), offlineReportMarkdown(result, { bars, curves, attention }));
  return ['metrics.json', 'report.md', ...bars, ...curves, ...(attention ? [attention] : [])].map((f) => join(dir, f));
}

export async function writeSensitivityReport(dir: string, result: SensitivityResult): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const scenarios = result.runs[0]?.result.scenarios ?? [];
  const charts: string[] = [];
  for (const metric of ['ndcg', 'map'] as const) {
    const name = metric === 'ndcg' ? `NDCG@${result.runs[0]?.result.config.k ?? 10}` : 'MAP';
    charts.push(
      await writePng(dir, `sensitivity-${metric}.png`, lineChart({
        title: `DeepChain offline ${name} vs history length N (Fig. 7b)`,
        xLabel: 'history length N',
        yLabel: name,
        x: result.lengths,
        series: scenarios.map((s) => ({
          name: s,
          points: result.runs.map((r) => r.result.models.find((m) => m.name === 'DeepChain')?.summary[s]?.[metric] ?? null),
        })),
      })),
    );
  }
  await writeFile(join(dir, 'metrics.json'), JSON.stringify(sensitivityMetricsJson(result), null, 2) + '\n');
  await writeFile(join(dir, 'report.md'), sensitivityReportMarkdown(result, charts));
  return ['metrics.json', 'report.md', ...charts].map((f) => join(dir, f));
}

export async function writeOnlineReport(dir: string, result: OnlineResult): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const models = result.models.filter((m) => m.summary);
  const bars: string[] = [];
  for (const [metric, label] of [['reward', 'reward per session'], ['clicks', 'clicks per session'], ['purchases', 'purchases per session'], ['pages', 'pages per session']] as const) {
    bars.push(
      await writePng(dir, `online-${metric}.png`, groupedBarChart({
        title: `Online test: ${label} (mean, 95% CI over seeds)`,
        yLabel: label,
        groups: [label],
        series: models.map((m) => m.name),
        values: models.map((m) => [m.summary![metric]]),
        highlight: 'DeepChain',
      })),
    );
  }
  const curves = await writeLearningCurves(dir, 'online', result.config.training.k, result.models.flatMap((m) => (m.selection ? [m.selection] : [])));
  await writeFile(join(dir, 'metrics.json'), JSON.stringify(onlineMetricsJson(result), null, 2) + '\n');
  await writeFile(join(dir, 'report.md'), onlineReportMarkdown(result, { bars, curves }));
  return ['metrics.json', 'report.md', ...bars, ...curves].map((f) => join(dir, f));
}

export async function writeOnlineSensitivityReport(dir: string, result: OnlineSensitivityResult): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const chart = await writePng(dir, 'sensitivity-online-reward.png', lineChart({
    title: 'DeepChain online reward per session vs history length N (Fig. 7a)',
    xLabel: 'history length N',
    yLabel: 'reward per session',
    x: result.lengths,
    series: ['DeepChain', 'logging policy'].map((name) => ({
      name,
      points: result.runs.map((r) => r.result.models.find((m) => m.name === name)?.summary?.reward ?? null),
    })),
  }));
  await writeFile(join(dir, 'metrics.json'), JSON.stringify(onlineSensitivityMetricsJson(result), null, 2) + '\n');
  await writeFile(join(dir, 'report.md'), onlineSensitivityReportMarkdown(result, [chart]));
  return ['metrics.json', 'report.md', chart].map((f) => join(dir, f));
}

/** An ablation's metrics.json (every number) and report.md. */
export async function writeAblationReport(dir: string, result: unknown, markdown: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'metrics.json'), JSON.stringify(result, null, 2));
  await writeFile(join(dir, 'report.md'), markdown);
  return [join(dir, 'metrics.json'), join(dir, 'report.md')];
}
