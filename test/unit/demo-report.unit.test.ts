import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rewardChartHtml, rewardChartSvg } from '../../services/demo/chart.js';
import { parseDemoArgs } from '../../services/demo/options.js';
import { progressLine } from '../../services/demo/progress.js';
import { metricSums } from '../../services/demo/real.js';
import { summariseRun, verdictLine, type DemoRun } from '../../services/demo/report.js';
import { summariseRewards } from '../../services/demo/stats.js';

const REGISTRY = 'http://127.0.0.1:8081/apis/ccompat/v7';

test('options: embedded by default; --kafka and --database-url go together; bad values are refused', () => {
  const d = parseDemoArgs([], REGISTRY);
  assert.equal(d.kafka, null);
  assert.equal(d.databaseUrl, null);
  assert.equal(d.minutes, 3);
  assert.ok(Object.isFrozen(d));
  const k = parseDemoArgs(['--minutes', '0.5', '--kafka', '127.0.0.1:9092', '--database-url', 'postgresql://p@h:5432/db', '--users', '20'], REGISTRY);
  assert.deepEqual(k.kafka, ['127.0.0.1:9092']);
  assert.equal(k.minutes, 0.5);
  assert.equal(k.world.users, 20);
  assert.throws(() => parseDemoArgs(['--kafka', '127.0.0.1:9092'], REGISTRY), /go together/);
  assert.throws(() => parseDemoArgs(['--minutes', 'soon'], REGISTRY, () => undefined), /positive number/);
  assert.throws(() => parseDemoArgs(['--concurrency', '500', '--users', '10'], REGISTRY), /concurrency/);
});

const run: DemoRun = {
  mode: 'embedded', startedAt: 1000, endedAt: 61_000,
  sessions: Array.from({ length: 40 }, (_, i) => ({
    userId: `user-${i}`, sessionId: `s${i}`, startedAt: 1000 + i * 1000, endedAt: 1500 + i * 1000, reward: i < 20 ? -2 : 3,
    clicks: 0, purchases: 0, pages: 1, fallbackPages: 0, errors: 0, modelVersion: 0,
  })),
  versions: [{ version: 1, at: 20_000, live: true, reason: 'first version: nothing served to compare with' }, { version: 2, at: 40_000, live: false, reason: 'not enough held-out data' }],
  transitions: 1234, steps: 50, checks: {},
};

test('the verdict line names the deciles, their intervals and the versions', () => {
  const summary = summariseRun(run);
  const line = verdictLine(run, summary, '/tmp/chart.html');
  assert.equal(line.demo, 'done');
  assert.equal(line.sessions, 40);
  assert.equal(line.reward_first_decile, -2);
  assert.equal(line.reward_last_decile, 3);
  assert.equal(line.versions, 1);
  assert.equal(line.versions_rejected, 1);
  assert.deepEqual(line.improvement_ci95, [5, 5]);
  assert.equal(line.transitions, 1234);
  assert.doesNotThrow(() => JSON.parse(JSON.stringify(line)));
});

test('the chart draws every session, the version ticks and the decile bands, and escapes text', () => {
  const input = {
    title: 'a <b> & "c"', notes: ['n1 <x>'], summary: summariseRewards(run.sessions.map((s) => s.reward)),
    sessions: run.sessions.map((s) => ({ t: (s.startedAt - run.startedAt) / 1000, reward: s.reward })),
    versions: run.versions.map((v) => ({ t: v.at / 1000, version: v.version, live: v.live })),
  };
  const svg = rewardChartSvg(input);
  assert.equal(svg.match(/<circle /g)!.length, 40 + 1, 'one dot per session, one in the legend');
  assert.match(svg, /version 2 \(rejected\)/);
  assert.match(svg, /first decile -2/);
  assert.match(svg, /last decile 3/);
  assert.ok(svg.includes('a &lt;b&gt; &amp; &quot;c&quot;') && !svg.includes('<b>'));
  const html = rewardChartHtml(input);
  assert.ok(html.startsWith('<!doctype html>') && html.includes('<li>n1 &lt;x&gt;</li>') && html.includes(svg));
});

test('the progress line and the metrics reader', () => {
  const line = progressLine({
    elapsedMs: 83_000, sessions: 812, recentReward: 3.4123, recentWindow: 200, versionsLive: 7, versionsRejected: 1,
    servingVersion: 7, steps: 2310, losses: { critic: 0.41, actor: -1.2, probability: 0.88 }, transitions: 41_000,
  });
  assert.equal(line, '[1:23]  sessions 812  reward/session 3.41 (last 200)  versions 7 live 1 rejected  serving v7  steps 2310  loss critic 0.410 actor -1.200 prob 0.880  transitions 41000');
  const text = [
    '# HELP deepchain_learner_transitions_total Transitions read',
    'deepchain_learner_transitions_total{outcome="accepted",service="learner"} 90',
    'deepchain_learner_transitions_total{service="learner",outcome="held_out"} 10',
    'deepchain_learner_train_steps_total{service="learner"} 12',
    'deepchain_learner_train_steps_total_other 99',
  ].join('\n');
  assert.deepEqual(metricSums(text, 'deepchain_learner_transitions_total', 'outcome'), { accepted: 90, held_out: 10 });
  assert.deepEqual(metricSums(text, 'deepchain_learner_train_steps_total'), { '': 12 });
});
