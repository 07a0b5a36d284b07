/** The console's pure modules: Prometheus text, metrics → panels, sessions and transitions → panels, registry rows → versions and freshness. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { METRICS } from '../../services/common/index.js';
import { LearnerHistory } from '../../services/console/learner-history.js';
import { deadLetterRows, lagRows, learnerSample, roleOf, scrapeNotes, type Scrape } from '../../services/console/metrics-view.js';
import { parsePrometheus, sumBy, total } from '../../services/console/prometheus.js';
import { freshness, versionsPanel } from '../../services/console/registry-view.js';
import { countReasons, reasonKind, ScenarioTally, sessionsPanel, type SessionLike } from '../../services/console/sessions.js';
import { meanInterval } from '../../services/demo/stats.js';
import type { VersionSummary } from '../../services/registry/index.js';

test('Prometheus text: labels (escaped quotes, commas), comments, special values, sums', () => {
  const samples = parsePrometheus([
    '# HELP x_total a counter',
    '# TYPE x_total counter',
    'x_total{service="learner",outcome="accepted"} 10',
    'x_total{service="learner",outcome="held_out"} 2.5 1700000000000',
    'x_total{reason="a \\"quoted\\", comma",outcome="accepted"} 1',
    'y +Inf',
    'garbage line',
    '',
  ].join('\n'));
  assert.equal(samples.length, 4);
  assert.deepEqual(samples[2]!.labels, { reason: 'a "quoted", comma', outcome: 'accepted' });
  assert.equal(samples[3]!.value, Infinity);
  assert.equal(total(samples, 'x_total'), 13.5);
  assert.equal(total(samples, 'nothing'), null);
  assert.deepEqual(sumBy(samples, 'x_total', 'outcome'), { accepted: 11, held_out: 2.5 });
});

const M = METRICS;
const learnerText = [
  `${M.learner.steps.name}{service="learner"} 300`,
  `${M.learner.transitions.name}{outcome="accepted"} 900`, `${M.learner.transitions.name}{outcome="held_out"} 100`,
  `${M.learner.transitions.name}{outcome="refill"} 5000`, `${M.learner.transitions.name}{outcome="rejected"} 3`,
  `${M.learner.transitions.name}{outcome="undecodable"} 1`,
  `${M.learner.loss.name}{network="critic"} 0.5`, `${M.learner.loss.name}{network="actor"} -2`, `${M.learner.loss.name}{network="probability"} 0.25`,
  `${M.learner.replaySize.name} 777`, `${M.learner.consumerLag.name}{partition="0"} 5`, `${M.learner.consumerLag.name}{partition="1"} 6`,
].join('\n');
const scrapes: Scrape[] = [
  { name: 'l', url: 'http://l/metrics', samples: parsePrometheus(learnerText) },
  { name: 's0', url: 'http://s0/metrics', samples: parsePrometheus(`${M.sessionizer.transitions.name} 1\n${M.sessionizer.deadLetters.name} 4\n${M.sessionizer.consumerLag.name}{partition="0"} 7`) },
  { name: 's1', url: 'http://s1/metrics', samples: parsePrometheus(`${M.sessionizer.transitions.name} 1\n${M.sessionizer.consumerLag.name}{partition="1"} 1`) },
  { name: 'g', url: 'http://g/metrics', samples: parsePrometheus(`${M.gateway.events.name}{outcome="rejected"} 9\n${M.gateway.events.name}{outcome="accepted"} 90`) },
  { name: 'v', url: 'http://v/metrics', samples: parsePrometheus(`${M.serving.modelVersion.name}{model="deepchain"} 3`) },
  { name: 'gone', url: 'http://gone/metrics', samples: null, error: 'ECONNREFUSED' },
];

test('scrapes are recognised by their metrics; the learner sample, lag per group and dead letters come from them', () => {
  assert.deepEqual(scrapes.map((s) => (s.samples ? roleOf(s.samples) : null)), ['learner', 'sessionizer', 'sessionizer', 'gateway', 'serving', null]);
  assert.deepEqual(learnerSample(scrapes, 1000), {
    at: 1000, steps: 300, transitions: 1000, replaySize: 777, itemCount: null, losses: { critic: 0.5, actor: -2, probability: 0.25 },
  });
  assert.equal(learnerSample(scrapes.slice(1), 1000), null);
  assert.deepEqual(lagRows(scrapes), [{ group: 'sessionizer', topic: 'events', lag: 8 }, { group: 'learner', topic: 'transitions', lag: 11 }]);
  assert.deepEqual(deadLetterRows(scrapes).map((r) => [r.source, r.count]), [['gateway', 9], ['sessionizer', 4], ['learner', 1], ['learner', 3]]);
  assert.deepEqual(scrapeNotes(scrapes), ['gone (http://gone/metrics) did not answer: ECONNREFUSED']);
  assert.match(scrapeNotes([]).join('\n'), /no learner metrics[\s\S]*no sessionizer metrics/);
});

const session = (endedAt: number, reward: number, extra: Partial<SessionLike> = {}): SessionLike => ({
  endedAt, reward, clicks: 1, pages: 3, purchases: 0, fallbackPages: 0, errors: 0, ...extra,
});

test('sessions: rolling mean of the last `window` sessions with the 95% interval the demo report uses', () => {
  const rewards = Array.from({ length: 50 }, (_, i) => Math.sin(i) * 2 - 1);
  // Given out of order: the panel orders by end time.
  const records = rewards.map((r, i) => session(1_000_000 + i * 1000, r, { clicks: i % 3, pages: 2 + (i % 2), fallbackPages: i < 5 ? 1 : 0 })).reverse();
  const p = sessionsPanel(records, { window: 20, points: 10 });
  const last = meanInterval(rewards.slice(-20));
  assert.equal(p.sessions, 50);
  assert.equal(p.latest.n, 20);
  assert.ok(Math.abs(p.latest.mean! - last.mean) < 1e-4 && Math.abs(p.latest.low! - last.low) < 1e-4 && Math.abs(p.latest.high! - last.high) < 1e-4);
  assert.equal(p.overall.fallbackPages, 5);
  assert.equal(p.series.t.length, 10);
  assert.equal(p.series.t[0], 1000);
  assert.equal(p.series.t.at(-1), 1049);
  assert.deepEqual(p.series.n.slice(0, 2), [1, 6], 'early points average the few sessions there are');
  assert.ok(p.series.t.every((t, i) => i === 0 || t > p.series.t[i - 1]!));
  assert.ok(p.series.mean.every((m, i) => p.series.low[i]! <= m && m <= p.series.high[i]!));
  assert.equal(p.series.mean.at(-1), p.latest.mean);

  const empty = sessionsPanel([], { window: 20, points: 10 });
  assert.equal(empty.sessions, 0);
  assert.equal(empty.latest.mean, null);
  assert.deepEqual(empty.series.t, []);
  const one = sessionsPanel([session(5000, -2)], { window: 20, points: 10 });
  assert.deepEqual([one.series.t, one.series.low, one.series.high], [[5], [-2], [-2]]);
  assert.throws(() => sessionsPanel([], { window: 0, points: 10 }), /window/);
});

test('scenarios: outcomes per scenario in total and per bucket; the oldest buckets go first', () => {
  const tally = new ScenarioTally(10_000, 2);
  tally.add([
    { scenario: 'entrance', behaviour: 'click', reward: 1, eventTime: 1_000 },
    { scenario: 'entrance', behaviour: 'skip', reward: 0, eventTime: 2_000 },
    { scenario: 'entrance', behaviour: 'skip', reward: 0, eventTime: 12_000 },
    { scenario: 'entrance', behaviour: 'leave', reward: -2, eventTime: 13_000 },
    { scenario: 'order', behaviour: 'purchase', reward: 1, eventTime: 25_000 },
  ]);
  const p = tally.panel();
  const entrance = p.rows.find((r) => r.scenario === 'entrance')!;
  assert.deepEqual(
    { ...entrance },
    { scenario: 'entrance', items: 4, clicks: 1, purchases: 0, skips: 2, leaves: 1, reward: -1, clickRate: 0.25, leaveRate: 0.25, rewardPerItem: -0.25 },
  );
  assert.equal(p.rows.find((r) => r.scenario === 'detail')!.clickRate, null);
  assert.deepEqual(p.series.t, [15, 25], 'bucket middles, the first bucket dropped');
  assert.deepEqual(p.series.clickRate.entrance, [0, null]);
  assert.deepEqual(p.series.clickRate.order, [null, 1]);
});

test('dead-letter reasons count together without their ids', () => {
  assert.equal(reasonKind("session demo1-u5-3 is already closed"), 'session … is already closed');
  assert.equal(reasonKind("record key 'u7' is not the event's userId 'u8'"), "record key … is not the event's userId …");
  assert.deepEqual(countReasons(['session a1 is already closed', 'late: 12 ms', 'session b2 is already closed']), [
    { reason: 'session … is already closed', count: 2 }, { reason: 'late: … ms', count: 1 },
  ]);
});

test('learner history: rates over about the rate span, none across a counter reset; the oldest samples go', () => {
  const h = new LearnerHistory(4, 2_000);
  const at = (s: number, steps: number, transitions: number) => h.push({ at: s * 1000, steps, transitions, replaySize: steps, itemCount: 5, losses: null });
  at(0, 0, 0);
  assert.equal(h.panel().latest.stepsPerSecond, null);
  at(1, 10, 100);
  assert.equal(h.panel().latest.stepsPerSecond, 10);
  at(2, 30, 300);
  assert.equal(h.panel().latest.stepsPerSecond, 15, 'from the sample 2 s before');
  at(2, 99, 99); // not newer: ignored
  at(3, 5, 50); // a restart
  assert.equal(h.panel().latest.transitionsPerSecond, null);
  at(4, 25, 250);
  const p = h.panel();
  assert.equal(h.size, 4);
  assert.deepEqual(p.series.t, [1, 2, 3, 4]);
  assert.deepEqual(p.series.itemCount, [5, 5, 5, 5]);
  assert.equal(p.latest.steps, 25);
});

const version = (v: number, status: VersionSummary['status'], decision: VersionSummary['decision'], createdAt: number): VersionSummary => ({
  model: 'm', version: v, parentVersion: null, createdAt: new Date(createdAt * 1000), trainSteps: v * 100, transitionsSeen: v * 1000,
  sourceOffsets: {}, metrics: {}, checksum: 'x', sizeBytes: 1, status, weightsPrunedAt: v === 1 ? new Date(0) : null, decision,
});

test('registry rows → the versions panel (gate numbers, pins, who serves what) and freshness', () => {
  const rejected = { outcome: 'rejected' as const, reasons: ['lower bound below the margin 0'], baselineVersion: 2, baselinePinned: true, numbers: { difference: -0.1, differenceLow: -0.2, differenceHigh: 0, gatePages: 1200 } };
  const panel = versionsPanel({
    model: 'm',
    versions: [version(1, 'retired', null, 100), version(3, 'rejected', rejected, 300), version(2, 'live', { ...rejected, outcome: 'promoted', reasons: [] }, 200)],
    models: [{ name: 'm', pinnedVersion: 2, liveVersion: 2, versions: 3 }, { name: 'other', pinnedVersion: null, liveVersion: 9, versions: 9 }],
    deployments: [
      { servingNode: 'b', model: 'm', version: 1, loadedAt: new Date(150_000) },
      { servingNode: 'a', model: 'm', version: 2, loadedAt: new Date(205_000) },
      { servingNode: 'z', model: 'other', version: 9, loadedAt: new Date(999_000) },
    ],
    changes: [{ id: 1, model: 'm', at: new Date(210_000), actor: 'cli:ops', action: 'pin', fromVersion: null, toVersion: 2, reason: 'hold' }],
  });
  assert.deepEqual([panel.live, panel.pinned], [2, 2]);
  assert.deepEqual(panel.versions.map((v) => v.version), [3, 2, 1]);
  const [v3, v2, v1] = panel.versions as [typeof panel.versions[0], typeof panel.versions[0], typeof panel.versions[0]];
  assert.deepEqual([v3.outcome, v3.numbers.gatePages, v3.baselinePinned, v3.reasons, v3.servedBy, v3.pinned], ['rejected', 1200, true, ['lower bound below the margin 0'], [], false]);
  assert.deepEqual([v2.pinned, v2.servedBy, v1.outcome, v1.weightsPruned, v1.servedBy], [true, ['a'], null, true, ['b']]);
  assert.deepEqual(panel.deployments, [
    { servingNode: 'a', version: 2, loadedAt: 205, current: true },
    { servingNode: 'b', version: 1, loadedAt: 150, current: false },
  ]);
  assert.deepEqual(panel.changes, [{ at: 210, actor: 'cli:ops', action: 'pin', fromVersion: null, toVersion: 2, reason: 'hold' }]);
  assert.deepEqual(freshness(panel, 400), { newestVersionAge: 100, servedVersionAge: 200, publishToServe: 5, lastSwapAge: 195 });
  const none = versionsPanel({ model: 'm', versions: [], models: [], deployments: [], changes: [] });
  assert.deepEqual(freshness(none, 400), { newestVersionAge: null, servedVersionAge: null, publishToServe: null, lastSwapAge: null });
});
