// The console page: draws each ConsoleView (services/console/view.ts) the server sends on /api/stream.
// Plain script, no build step; charts are uPlot (served by the console from node_modules).
/* global uPlot */
'use strict';

const $ = (id) => document.getElementById(id);
const finite = (x) => typeof x === 'number' && Number.isFinite(x);
const num = (x, digits = 3) => (finite(x) ? x.toFixed(digits) : '–');
const int = (x) => (finite(x) ? Math.round(x).toLocaleString('en') : '–');
const time = (s) => (finite(s) ? new Date(s * 1000).toLocaleTimeString('en-GB') : '–');
const ago = (s) => (finite(s) ? (s < 120 ? `${s.toFixed(1)} s` : `${(s / 60).toFixed(1)} min`) : '–');

/** An element with attributes and children (strings become text: nothing from the server is parsed as HTML). */
function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
  return e;
}

function fill(tbody, rows, columns) {
  tbody.replaceChildren(...(rows.length ? rows : [h('tr', {}, h('td', { class: 'empty', colspan: columns }, 'none yet'))]));
}

function stats(container, items) {
  container.replaceChildren(...items.map(([value, label]) => h('span', { class: 'stat' }, h('b', {}, value), h('span', {}, label))));
}

// ---- charts -------------------------------------------------------------------------------------------
const COLORS = { blue: '#1f77b4', orange: '#ff7f0e', green: '#2ca02c', red: '#d62728', purple: '#9467bd', grey: '#7f7f7f' };
const charts = {};
let versionsForMarkers = [];

/** Vertical lines at each version's creation: green promoted, red dashed rejected. */
const versionMarkers = {
  hooks: {
    draw: [(u) => {
      const { left, top, width, height } = u.bbox;
      const ctx = u.ctx;
      ctx.save();
      ctx.font = `${10 * devicePixelRatio}px sans-serif`;
      ctx.lineWidth = devicePixelRatio;
      for (const v of versionsForMarkers) {
        const x = Math.round(u.valToPos(v.createdAt, 'x', true));
        if (!(x >= left && x <= left + width)) continue;
        const rejected = v.outcome === 'rejected' || v.status === 'rejected';
        ctx.strokeStyle = rejected ? 'rgba(214,39,40,0.55)' : 'rgba(44,160,44,0.7)';
        ctx.fillStyle = ctx.strokeStyle;
        ctx.setLineDash(rejected ? [4 * devicePixelRatio, 3 * devicePixelRatio] : []);
        ctx.beginPath();
        ctx.moveTo(x, top);
        ctx.lineTo(x, top + height);
        ctx.stroke();
        ctx.fillText(`v${v.version}`, x + 2 * devicePixelRatio, top + 10 * devicePixelRatio);
      }
      ctx.restore();
    }],
  },
};

/** Axis ticks as 1.5k, 20k, 1.2M. */
function compact(u, ticks) {
  return ticks.map((v) => (Math.abs(v) >= 1e6 ? `${+(v / 1e6).toFixed(1)}M` : Math.abs(v) >= 1e3 ? `${+(v / 1e3).toFixed(1)}k` : `${+v.toFixed(2)}`));
}

function line(label, stroke, extra) {
  return Object.assign({ label, stroke, width: 1.5, spanGaps: true, value: (u, v) => num(v) }, extra || {});
}

function draw(id, series, data, extra) {
  const el = $(id);
  el.dataset.points = String(data[0].length);
  if (charts[id]) {
    charts[id].setData(data);
    return;
  }
  const opts = Object.assign({ width: Math.max(320, el.clientWidth), height: 210, series: [{}].concat(series), legend: { live: true } }, extra || {});
  charts[id] = new uPlot(opts, data, el);
}

addEventListener('resize', () => {
  for (const [id, chart] of Object.entries(charts)) chart.setSize({ width: Math.max(320, $(id).clientWidth), height: 210 });
});

// ---- panels -------------------------------------------------------------------------------------------
function showAvailability(section, panel) {
  const note = section.querySelector('.note');
  const body = section.querySelector('.body');
  note.hidden = panel.available;
  note.textContent = panel.available ? '' : panel.note;
  if (body) body.hidden = !panel.available;
  return panel.available;
}

function renderSessions(p) {
  if (!showAvailability($('sessions'), p)) return;
  const l = p.latest;
  const unit = p.lengthUnit; // 'pages' (the demo's sessions) or 'items' (the sessionizer's transitions)
  $('session-window').textContent = String(p.window);
  $('session-length-unit').textContent = unit;
  stats($('session-stats'), [
    [int(p.sessions), 'sessions'],
    [`${num(l.mean, 2)} [${num(l.low, 2)}, ${num(l.high, 2)}]`, `reward / session, last ${l.n}`],
    [num(l.clicks, 2), 'clicks / session'],
    [num(l.pages, 2), `${unit} / session`],
    [num(p.overall.mean, 2), 'reward / session, all'],
    p.notCounted
      ? [`${int(p.notCounted.partial)} / ${int(p.notCounted.empty)}`, 'not counted: partly seen / empty']
      : [int(p.overall.fallbackPages), 'fallback pages'],
  ]);
  const s = p.series;
  draw('reward-chart', [
    line('mean', COLORS.blue, { width: 2 }),
    line('low', 'rgba(31,119,180,0.35)', { width: 1 }),
    line('high', 'rgba(31,119,180,0.35)', { width: 1 }),
  ], [s.t, s.mean, s.low, s.high], { bands: [{ series: [3, 2], fill: 'rgba(31,119,180,0.12)' }], plugins: [versionMarkers] });
  draw('session-chart', [line('clicks', COLORS.green), line(unit, COLORS.orange), line('purchases', COLORS.purple)], [s.t, s.clicks, s.pages, s.purchases]);
}

const SCENARIO_COLORS = { entrance: COLORS.blue, detail: COLORS.orange, cart: COLORS.green, order: COLORS.red };

function renderScenarios(p) {
  if (!showAvailability($('scenarios'), p)) return;
  fill($('scenario-table').tBodies[0], p.rows.map((r) => h('tr', { 'data-scenario': r.scenario },
    h('td', {}, r.scenario), h('td', {}, int(r.items)), h('td', {}, int(r.clicks)), h('td', {}, int(r.purchases)), h('td', {}, int(r.skips)),
    h('td', {}, int(r.leaves)), h('td', {}, num(r.reward, 0)), h('td', {}, num(r.clickRate)), h('td', {}, num(r.leaveRate)), h('td', {}, num(r.rewardPerItem)),
  )), 10);
  $('bucket-seconds').textContent = String(p.series.bucketSeconds);
  const names = Object.keys(p.series.clickRate);
  draw('scenario-chart', names.map((n) => line(n, SCENARIO_COLORS[n] || COLORS.grey)), [p.series.t].concat(names.map((n) => p.series.clickRate[n])));
}

function renderLearner(p) {
  const l = p.latest;
  stats($('learner-stats'), [
    [int(l.steps), 'training steps'],
    [num(l.stepsPerSecond, 1), 'steps / s'],
    [int(l.transitions), 'transitions'],
    [num(l.transitionsPerSecond, 1), 'transitions / s'],
    [int(l.replaySize), 'replay size'],
    [int(l.itemCount), 'items'],
    [l.losses ? `${num(l.losses.critic)} / ${num(l.losses.actor)} / ${num(l.losses.probability)}` : '–', 'loss critic / actor / probability'],
  ]);
  const s = p.series;
  draw('loss-chart', [line('critic', COLORS.blue), line('actor', COLORS.red, { scale: 'actor' }), line('probability', COLORS.green)],
    [s.t, s.critic, s.actor, s.probability], { axes: [{}, { size: 60 }, { side: 1, size: 60, scale: 'actor', grid: { show: false } }] });
  draw('throughput-chart', [line('transitions / s', COLORS.purple, { value: (u, v) => num(v, 1) }), line('steps / s', COLORS.orange, { scale: 'steps', value: (u, v) => num(v, 1) })],
    [s.t, s.transitionsPerSecond, s.stepsPerSecond], { axes: [{}, { size: 60, values: compact }, { side: 1, size: 60, scale: 'steps', grid: { show: false }, values: compact }] });
  draw('replay-chart', [line('replay size', COLORS.grey, { value: (u, v) => int(v) }), line('items', COLORS.blue, { scale: 'items', value: (u, v) => int(v) })],
    [s.t, s.replaySize, s.itemCount], { axes: [{}, { size: 60, values: compact }, { side: 1, size: 60, scale: 'items', grid: { show: false }, values: compact }] });
}

function gateCell(v) {
  const n = v.numbers || {};
  if (finite(n.difference)) {
    const cls = finite(n.differenceLow) && n.differenceLow > 0 ? 'pos' : finite(n.differenceHigh) && n.differenceHigh < 0 ? 'neg' : '';
    return h('span', { class: cls }, `${num(n.difference, 4)} [${num(n.differenceLow, 4)}, ${num(n.differenceHigh, 4)}]`);
  }
  if (finite(n.estimate)) return h('span', { title: 'its own estimate of reward per page (nothing to compare with)' }, `own ${num(n.estimate, 4)} [${num(n.estimateLow, 4)}, ${num(n.estimateHigh, 4)}]`);
  return '–';
}

function renderVersions(p) {
  versionsForMarkers = p.versions;
  stats($('version-stats'), [
    [String(p.versions.length), 'versions'],
    [String(p.versions.filter((v) => v.outcome === 'promoted').length), 'promoted'],
    [String(p.versions.filter((v) => v.status === 'rejected').length), 'rejected'],
    [p.live === null ? '–' : `v${p.live}`, 'live'],
    [p.pinned === null ? 'none' : `v${p.pinned}`, 'pinned'],
  ]);
  fill($('versions-table').tBodies[0], p.versions.slice(0, 60).map((v) => h('tr', { 'data-version': v.version, 'data-status': v.status },
    h('td', {}, `v${v.version}`),
    h('td', {}, time(v.createdAt)),
    h('td', {}, h('span', { class: `badge ${v.status}` }, v.status), v.pinned ? h('span', { class: 'badge pinned' }, 'pinned') : null, v.weightsPruned ? h('span', { class: 'badge' }, 'pruned') : null),
    h('td', {}, v.outcome ? h('span', { class: `badge ${v.outcome}` }, v.outcome) : '–'),
    h('td', {}, v.baselineVersion === null ? '–' : `v${v.baselineVersion}${v.baselinePinned ? ' (pinned)' : ''}`),
    h('td', { title: JSON.stringify(v.numbers) }, gateCell(v)),
    h('td', {}, int(v.numbers && v.numbers.gatePages)),
    h('td', {}, v.servedBy.join(', ') || '–'),
    h('td', { class: 'reasons' }, v.reasons.join('; ') || '–'),
  )), 9);
  const current = p.pinned === null ? p.live : p.pinned;
  fill($('deployments-table').tBodies[0], p.deployments.map((d) => h('tr', { 'data-node': d.servingNode },
    h('td', {}, d.servingNode), h('td', {}, `v${d.version}`), h('td', {}, time(d.loadedAt)),
    h('td', {}, d.current ? h('span', { class: `badge ${p.pinned === null ? 'live' : 'pinned'}` }, p.pinned === null ? 'serves the live version' : 'serves the pinned version')
      : h('span', { class: 'badge behind' }, current === null ? 'no live version' : `should run v${current}`)),
  )), 4);
  fill($('changes-table').tBodies[0], p.changes.slice(0, 20).map((c) => h('tr', {},
    h('td', {}, time(c.at)), h('td', {}, c.actor), h('td', {}, c.action),
    h('td', {}, c.fromVersion === null ? '–' : `v${c.fromVersion}`), h('td', {}, c.toVersion === null ? '–' : `v${c.toVersion}`), h('td', { class: 'reasons' }, c.reason),
  )), 6);
}

function renderPipeline(p) {
  const f = p.freshness;
  stats($('freshness-stats'), [
    [ago(f.servedVersionAge), 'age of the version served'],
    [ago(f.newestVersionAge), 'since the newest version'],
    [ago(f.lastSwapAge), 'since the last swap'],
    [finite(f.publishToServe) ? `${num(f.publishToServe, 2)} s` : '–', 'written → loaded (last swap)'],
  ]);
  fill($('lag-table').tBodies[0], p.lag.map((r) => h('tr', {}, h('td', {}, r.group), h('td', {}, r.topic), h('td', {}, int(r.lag)))), 3);
  fill($('dead-letters-table').tBodies[0], p.deadLetters.map((r) => h('tr', {}, h('td', {}, r.source), h('td', { class: 'reasons' }, r.reason), h('td', {}, int(r.count)))), 3);
  $('pipeline-notes').replaceChildren(...p.notes.map((n) => h('li', {}, n)));
}

let updates = 0;
function render(view) {
  $('mode').textContent = view.mode === 'demo' ? 'embedded demo' : 'deployment';
  $('model').textContent = view.model;
  $('updated').textContent = `updated ${time(view.at)}`;
  for (const e of document.querySelectorAll('[data-source]')) e.textContent = `from ${view.sources[e.dataset.source]}`;
  renderVersions(view.versions); // first: the reward chart marks the versions
  renderSessions(view.sessions);
  renderScenarios(view.scenarios);
  renderLearner(view.learner);
  renderPipeline(view.pipeline);
  updates++;
  document.body.dataset.updates = String(updates);
}

function problem(text) {
  $('problem').hidden = !text;
  $('problem').textContent = text || '';
}

function connect() {
  const status = $('status');
  const stream = new EventSource('/api/stream');
  stream.onopen = () => { status.textContent = 'live'; status.className = 'status live'; };
  stream.onmessage = (e) => {
    try {
      render(JSON.parse(e.data));
      problem('');
    } catch (err) {
      problem(`could not draw the view: ${err.message}`);
      throw err;
    }
  };
  stream.addEventListener('problem', (e) => problem(`the server could not build the view: ${JSON.parse(e.data).message}`));
  stream.onerror = () => { status.textContent = 'reconnecting…'; status.className = 'status down'; };
}

connect();
