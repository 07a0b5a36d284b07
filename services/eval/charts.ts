/**
 * The report's charts as SVG strings (pure; png.ts turns them into PNG files): grouped bars with 95%
 * interval whiskers, lines with interval bands, and a heatmap (Figure 8).
 */
export interface Estimate {
  readonly mean: number;
  readonly low: number;
  readonly high: number;
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const FONT = 'font-family="DejaVu Sans, Arial, sans-serif"';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function niceRange(lo: number, hi: number): [number, number] {
  if (lo >= 0) return [0, niceMax(hi)];
  const span = niceMax(Math.max(Math.abs(lo), Math.abs(hi)));
  return [hi <= 0 ? -span : -span, hi <= 0 ? 0 : span];
}

function axisTicks(lo: number, hi: number, n = 5): number[] {
  return Array.from({ length: n + 1 }, (_, i) => lo + ((hi - lo) * i) / n);
}

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

/** Bars: one group per category (e.g. scenario), one bar per series (e.g. model), whiskers = interval. */
export function groupedBarChart(opts: {
  title: string;
  yLabel: string;
  groups: readonly string[];
  series: readonly string[];
  /** values[series][group], null where missing */
  values: readonly (readonly (Estimate | null)[])[];
  highlight?: string;
}): string {
  const W = 900;
  const H = 420;
  const m = { l: 70, r: 170, t: 40, b: 50 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const all = opts.values.flat().filter((v): v is Estimate => v !== null);
  const [lo, hi] = niceRange(Math.min(0, ...all.map((v) => v.mean)), Math.max(0, ...all.map((v) => v.high)));
  // Whiskers are clipped to the plot (a wide interval over few seeds must not squash the bars).
  const y = (v: number) => m.t + ph - ((Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo)) * ph;
  const gw = pw / Math.max(1, opts.groups.length);
  const bw = (gw * 0.8) / Math.max(1, opts.series.length);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - m.r / 2}" y="24" text-anchor="middle" font-size="16" ${FONT}>${esc(opts.title)}</text>`,
  ];
  for (const t of axisTicks(lo, hi)) {
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y(t)}" y2="${y(t)}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.l - 6}" y="${y(t) + 4}" text-anchor="end" font-size="11" ${FONT}>${fmt(t)}</text>`);
  }
  parts.push(`<text x="16" y="${m.t + ph / 2}" font-size="12" ${FONT} transform="rotate(-90 16 ${m.t + ph / 2})" text-anchor="middle">${esc(opts.yLabel)}</text>`);
  opts.groups.forEach((g, gi) => {
    const gx = m.l + gi * gw + gw * 0.1;
    parts.push(`<text x="${m.l + gi * gw + gw / 2}" y="${m.t + ph + 20}" text-anchor="middle" font-size="13" ${FONT}>${esc(g)}</text>`);
    opts.series.forEach((s, si) => {
      const v = opts.values[si]?.[gi];
      if (!v) return;
      const x = gx + si * bw;
      const top = y(Math.max(0, v.mean));
      const h = Math.abs(y(v.mean) - y(0));
      const stroke = opts.highlight === s ? ' stroke="black" stroke-width="2"' : '';
      parts.push(`<rect x="${x.toFixed(1)}" y="${top.toFixed(1)}" width="${(bw * 0.9).toFixed(1)}" height="${h.toFixed(1)}" fill="${PALETTE[si % PALETTE.length]}"${stroke}/>`);
      const cx = x + bw * 0.45;
      parts.push(`<line x1="${cx.toFixed(1)}" x2="${cx.toFixed(1)}" y1="${y(v.low).toFixed(1)}" y2="${y(v.high).toFixed(1)}" stroke="black"/>`);
      for (const e of [v.low, v.high]) parts.push(`<line x1="${(cx - 3).toFixed(1)}" x2="${(cx + 3).toFixed(1)}" y1="${y(e).toFixed(1)}" y2="${y(e).toFixed(1)}" stroke="black"/>`);
    });
  });
  parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y(0)}" y2="${y(0)}" stroke="black"/>`);
  opts.series.forEach((s, si) => {
    const ly = m.t + 10 + si * 20;
    parts.push(`<rect x="${W - m.r + 15}" y="${ly - 10}" width="12" height="12" fill="${PALETTE[si % PALETTE.length]}"/>`);
    parts.push(`<text x="${W - m.r + 32}" y="${ly}" font-size="12" ${FONT}>${esc(s)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Lines over numeric x with interval bands (Figure 7). */
export function lineChart(opts: {
  title: string;
  xLabel: string;
  yLabel: string;
  x: readonly number[];
  series: readonly { name: string; points: readonly (Estimate | null)[] }[];
}): string {
  const W = 760;
  const H = 400;
  const m = { l: 70, r: 170, t: 40, b: 55 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const all = opts.series.flatMap((s) => s.points).filter((v): v is Estimate => v !== null);
  const ymin = Math.min(...all.map((v) => v.low));
  const ymax = Math.max(...all.map((v) => v.high));
  const pad = (ymax - ymin) * 0.1 || 0.05;
  const lo = ymin - pad;
  const hi = ymax + pad;
  const xmin = Math.min(...opts.x);
  const xmax = Math.max(...opts.x);
  const x = (v: number) => m.l + (xmax === xmin ? pw / 2 : ((v - xmin) / (xmax - xmin)) * pw);
  const y = (v: number) => m.t + ph - ((v - lo) / (hi - lo)) * ph;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${(m.l + pw / 2).toFixed(0)}" y="24" text-anchor="middle" font-size="16" ${FONT}>${esc(opts.title)}</text>`,
  ];
  for (const t of axisTicks(lo, hi)) {
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.l - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end" font-size="11" ${FONT}>${t.toFixed(3)}</text>`);
  }
  for (const v of opts.x) parts.push(`<text x="${x(v).toFixed(1)}" y="${m.t + ph + 18}" text-anchor="middle" font-size="12" ${FONT}>${v}</text>`);
  parts.push(`<text x="${(m.l + pw / 2).toFixed(0)}" y="${H - 12}" text-anchor="middle" font-size="12" ${FONT}>${esc(opts.xLabel)}</text>`);
  parts.push(`<text x="16" y="${m.t + ph / 2}" font-size="12" ${FONT} transform="rotate(-90 16 ${m.t + ph / 2})" text-anchor="middle">${esc(opts.yLabel)}</text>`);
  opts.series.forEach((s, si) => {
    const color = PALETTE[si % PALETTE.length];
    const pts = s.points.map((p, i) => (p ? { x: x(opts.x[i]!), p } : null)).filter((p): p is { x: number; p: Estimate } => p !== null);
    if (pts.length > 1) {
      const band = [...pts.map((q) => `${q.x.toFixed(1)},${y(q.p.high).toFixed(1)}`), ...[...pts].reverse().map((q) => `${q.x.toFixed(1)},${y(q.p.low).toFixed(1)}`)];
      parts.push(`<polygon points="${band.join(' ')}" fill="${color}" fill-opacity="0.15"/>`);
    }
    parts.push(`<polyline points="${pts.map((q) => `${q.x.toFixed(1)},${y(q.p.mean).toFixed(1)}`).join(' ')}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const q of pts) parts.push(`<circle cx="${q.x.toFixed(1)}" cy="${y(q.p.mean).toFixed(1)}" r="3.5" fill="${color}"/>`);
    const ly = m.t + 10 + si * 20;
    parts.push(`<rect x="${W - m.r + 15}" y="${ly - 10}" width="12" height="12" fill="${color}"/>`);
    parts.push(`<text x="${W - m.r + 32}" y="${ly}" font-size="12" ${FONT}>${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Rows × columns of weights in [0, max], darker = larger (Figure 8). */
export function heatmap(opts: { title: string; rowLabels: readonly string[]; colLabels: readonly string[]; values: readonly (readonly number[])[] }): string {
  const cell = 70;
  const m = { l: 190, r: 20, t: 50, b: 40 };
  const W = m.l + cell * opts.colLabels.length + m.r;
  const H = m.t + cell * opts.rowLabels.length + m.b;
  const max = Math.max(1e-9, ...opts.values.flat());
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="26" text-anchor="middle" font-size="15" ${FONT}>${esc(opts.title)}</text>`,
  ];
  opts.values.forEach((row, ri) => {
    parts.push(`<text x="${m.l - 8}" y="${m.t + ri * cell + cell / 2 + 4}" text-anchor="end" font-size="12" ${FONT}>${esc(opts.rowLabels[ri] ?? '')}</text>`);
    row.forEach((v, ci) => {
      const shade = Math.round(255 - (v / max) * 200);
      parts.push(`<rect x="${m.l + ci * cell}" y="${m.t + ri * cell}" width="${cell - 2}" height="${cell - 2}" fill="rgb(${shade},${shade},255)"/>`);
      parts.push(`<text x="${m.l + ci * cell + cell / 2}" y="${m.t + ri * cell + cell / 2 + 4}" text-anchor="middle" font-size="11" ${FONT}>${v.toFixed(3)}</text>`);
    });
  });
  opts.colLabels.forEach((c, ci) => parts.push(`<text x="${m.l + ci * cell + cell / 2}" y="${H - 16}" text-anchor="middle" font-size="12" ${FONT}>${esc(c)}</text>`));
  parts.push('</svg>');
  return parts.join('\n');
}
