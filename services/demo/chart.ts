/**
 * The demo's chart: reward per session over time as an SVG (and an HTML page that holds it inline, with
 * the numbers). Each session is a faint dot at its start time; a line is the rolling mean; the first and
 * last deciles are bands (mean and 95% interval); ticks on top mark published versions (green: live,
 * red: rejected). Pure string building, no dependencies.
 */
import { rollingMean, type DecileSummary } from './stats.js';

export interface ChartSession {
  /** Seconds since the run began. */
  t: number;
  reward: number;
}

export interface ChartVersion {
  t: number;
  version: number;
  live: boolean;
}

export interface ChartInput {
  title: string;
  sessions: readonly ChartSession[];
  versions: readonly ChartVersion[];
  summary: DecileSummary;
  /** Lines of text under the title (settings, numbers). */
  notes: readonly string[];
}

const W = 960;
const H = 460;
const M = { left: 60, right: 20, top: 40, bottom: 50 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const f = (x: number) => (Math.round(x * 10) / 10).toString();

function niceStep(range: number, ticks: number): number {
  const raw = range / Math.max(1, ticks);
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export function rewardChartSvg(input: ChartInput): string {
  const { sessions, versions, summary } = input;
  const tMax = Math.max(1, ...sessions.map((s) => s.t), ...versions.map((v) => v.t));
  const sorted = sessions.map((s) => s.reward).sort((a, b) => a - b);
  const window = Math.max(10, Math.round(sessions.length / 30));
  const rolling = rollingMean(sessions.map((s) => s.reward), window);
  const yLow = Math.min(-3, quantile(sorted, 0) - 0.5);
  const yHigh = Math.max(3, quantile(sorted, 0.98) + 1, ...rolling.map((r) => r + 1));
  const px = (t: number) => M.left + (t / tMax) * (W - M.left - M.right);
  const py = (y: number) => M.top + (1 - (Math.min(yHigh, Math.max(yLow, y)) - yLow) / (yHigh - yLow)) * (H - M.top - M.bottom);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${M.left}" y="20" font-size="15" font-weight="bold">${esc(input.title)}</text>`);
  // Grid and axes.
  const yStep = niceStep(yHigh - yLow, 8);
  for (let y = Math.ceil(yLow / yStep) * yStep; y <= yHigh; y += yStep) {
    out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${f(py(y))}" y2="${f(py(y))}" stroke="${y === 0 ? '#888' : '#eee'}"/>`);
    out.push(`<text x="${M.left - 6}" y="${f(py(y) + 4)}" text-anchor="end">${f(y)}</text>`);
  }
  const tStep = niceStep(tMax, 10);
  for (let t = 0; t <= tMax; t += tStep) {
    out.push(`<line x1="${f(px(t))}" x2="${f(px(t))}" y1="${H - M.bottom}" y2="${H - M.bottom + 5}" stroke="#444"/>`);
    out.push(`<text x="${f(px(t))}" y="${H - M.bottom + 18}" text-anchor="middle">${f(t)}</text>`);
  }
  out.push(`<line x1="${M.left}" x2="${W - M.right}" y1="${H - M.bottom}" y2="${H - M.bottom}" stroke="#444"/>`);
  out.push(`<line x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${H - M.bottom}" stroke="#444"/>`);
  out.push(`<text x="${(M.left + W - M.right) / 2}" y="${H - 12}" text-anchor="middle">seconds since the start (session start time)</text>`);
  out.push(`<text transform="translate(16 ${(M.top + H - M.bottom) / 2}) rotate(-90)" text-anchor="middle">reward per session</text>`);
  // Sessions.
  for (const s of sessions) out.push(`<circle cx="${f(px(s.t))}" cy="${f(py(s.reward))}" r="1.6" fill="#4a78c2" fill-opacity="0.22"/>`);
  // Decile bands.
  const n = summary.first.n;
  const band = (from: number, to: number, i: DecileSummary['first'], colour: string, label: string, anchor: 'start' | 'end') => {
    if (!(i.n > 0) || !Number.isFinite(i.mean)) return;
    const x1 = px(from);
    const x2 = Math.max(px(to), x1 + 2);
    out.push(`<rect x="${f(x1)}" width="${f(x2 - x1)}" y="${f(py(i.high))}" height="${f(Math.max(1, py(i.low) - py(i.high)))}" fill="${colour}" fill-opacity="0.3"/>`);
    out.push(`<line x1="${f(x1)}" x2="${f(x2)}" y1="${f(py(i.mean))}" y2="${f(py(i.mean))}" stroke="${colour}" stroke-width="2.5"/>`);
    out.push(`<text x="${f(anchor === 'start' ? x1 + 4 : x2)}" y="${f(py(i.high) - 6)}" text-anchor="${anchor}" fill="${colour}" font-weight="bold">${esc(label)}</text>`);
  };
  if (sessions.length > 0 && n > 0) {
    band(sessions[0]!.t, sessions[n - 1]!.t, summary.first, '#d9822b', `first decile ${f(summary.first.mean)}`, 'start');
    band(sessions[sessions.length - n]!.t, sessions[sessions.length - 1]!.t, summary.last, '#2b9d4a', `last decile ${f(summary.last.mean)}`, 'end');
  }
  // Rolling mean.
  if (sessions.length > 0) {
    const points = sessions.map((s, i) => `${f(px(s.t))},${f(py(rolling[i]!))}`).join(' ');
    out.push(`<polyline points="${points}" fill="none" stroke="#1f3f7a" stroke-width="2"/>`);
  }
  // Versions.
  for (const v of versions) {
    out.push(`<line x1="${f(px(v.t))}" x2="${f(px(v.t))}" y1="${M.top}" y2="${M.top + 8}" stroke="${v.live ? '#2b9d4a' : '#c0392b'}" stroke-width="2"><title>version ${v.version}${v.live ? '' : ' (rejected)'}</title></line>`);
  }
  // Legend.
  const lx = W - M.right - 300;
  out.push(`<g transform="translate(${lx} ${M.top + 14})">`);
  out.push(`<circle cx="6" cy="0" r="3" fill="#4a78c2" fill-opacity="0.5"/><text x="16" y="4">one session</text>`);
  out.push(`<line x1="0" x2="12" y1="16" y2="16" stroke="#1f3f7a" stroke-width="2"/><text x="16" y="20">rolling mean of ${window} sessions</text>`);
  out.push(`<line x1="0" x2="0" y1="26" y2="34" stroke="#2b9d4a" stroke-width="2"/><line x1="6" x2="6" y1="26" y2="34" stroke="#c0392b" stroke-width="2"/><text x="16" y="36">versions published (live / rejected)</text>`);
  out.push(`</g>`);
  out.push(`</svg>`);
  return out.join('\n');
}

export function rewardChartHtml(input: ChartInput): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${esc(input.title)}</title>`,
    '<style>body{font-family:sans-serif;margin:24px;color:#222}li{margin:2px 0}</style>',
    '</head><body>',
    `<h1>${esc(input.title)}</h1>`,
    '<ul>',
    ...input.notes.map((n) => `<li>${esc(n)}</li>`),
    '</ul>',
    rewardChartSvg(input),
    '</body></html>',
    '',
  ].join('\n');
}
