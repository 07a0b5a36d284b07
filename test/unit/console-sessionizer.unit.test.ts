/**
 * Reward per session and outcomes per scenario in a deployment, end to end without servers: the fold reports
 * the sessions it ends, the sessionizer's ledger counts committed transitions and ended sessions into its
 * /metrics, the console reads that text (metrics-view.ts) and turns successive readings into the session and
 * scenario panels (sessionizer-history.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BEHAVIOURS, createMetricsRegistry, DEFAULT_REWARDS, METRICS, SCENARIOS, type Behaviour, type Scenario, type Transition, type UserEvent } from '../../services/common/index.js';
import { sessionizerReading, sessionizerReadings, type Scrape, type SessionizerReading } from '../../services/console/metrics-view.js';
import { parsePrometheus } from '../../services/console/prometheus.js';
import { restarted, SessionizerHistory } from '../../services/console/sessionizer-history.js';
import { sessionsUnavailable } from '../../services/console/deployment.js';
import { meanInterval } from '../../services/demo/stats.js';
import { step } from '../../services/sessionizer/fold.js';
import { createSessionizerMetrics, SessionLedger } from '../../services/sessionizer/metrics.js';
import { DEFAULT_SETTINGS } from '../../services/sessionizer/state.js';

test('the fold reports each session it ends with its number of transitions', () => {
  const S = { ...DEFAULT_SETTINGS, graceMs: 0 };
  const base = { userId: 'u', sessionId: 's1', scenario: 'entrance' as const };
  const events: UserEvent[] = [
    { ...base, eventId: 'a', type: 'page_change', eventTime: 500, from: 'entrance', to: 'entrance', itemId: null },
    { ...base, eventId: 'b', type: 'recommendation', eventTime: 1000, requestId: 'r1', items: ['x', 'y', 'z'], propensities: [], model: 'm', modelVersion: 1 },
    { ...base, eventId: 'c', type: 'click', eventTime: 1100, requestId: 'r1', itemId: 'y', position: 1 },
    { ...base, eventId: 'd', type: 'recommendation', eventTime: 1200, requestId: 'r2', items: ['p', 'q'], propensities: [], model: 'm', modelVersion: 1 },
    { ...base, eventId: 'e', type: 'leave', eventTime: 1300 },
    // A session with no list shown, ended by the next one.
    { ...base, sessionId: 's2', eventId: 'f', type: 'page_change', eventTime: 2000, from: 'entrance', to: 'entrance', itemId: null },
    { ...base, sessionId: 's3', eventId: 'g', type: 'page_change', eventTime: 3000, from: 'entrance', to: 'entrance', itemId: null },
  ];
  let state;
  const closed = [];
  let transitions = 0;
  for (const e of events) {
    const r = step(state, e, e.eventTime, S);
    state = r.state;
    transitions += r.transitions.length;
    closed.push(...r.closed);
  }
  assert.equal(transitions, 4, 'skip x, click y, skip p, leave q');
  assert.deepEqual(closed, [{ userId: 'u', sessionId: 's1', steps: 4 }, { userId: 'u', sessionId: 's2', steps: 0 }]);
});

const tr = (userId: string, sessionId: string, stepNo: number, behaviour: Behaviour, scenario: Scenario = 'entrance'): Transition => ({
  userId, sessionId, step: stepNo, scenario, state: [], action: 'i', behaviour, reward: DEFAULT_REWARDS[behaviour], nextState: [],
  nextScenario: null, terminal: behaviour === 'leave', eventTime: 0, modelVersion: 1, propensity: null,
});

test('the ledger counts committed transitions by scenario and behaviour, and a session only when it saw all of it', async () => {
  const registry = createMetricsRegistry('sessionizer');
  const ledger = new SessionLedger(createSessionizerMetrics(registry), { ...DEFAULT_REWARDS, leave: -3 });
  const read = async () => sessionizerReading(parsePrometheus(await registry.metrics()))!;

  const empty = await read();
  assert.deepEqual([empty.counted, empty.partial, empty.empty, empty.scenarios.cart.purchase], [0, 0, 0, 0], 'every label at zero from the start');
  assert.deepEqual(empty.rewards, { click: 1, skip: 0, leave: -3, purchase: 1 });

  // Session a on partition 0, across two transactions: counted (click, skip, leave: reward −1, as the transitions carry it).
  ledger.committed(0, [tr('u1', 'a', 0, 'click'), tr('u1', 'a', 1, 'skip', 'detail')], []);
  ledger.committed(0, [tr('u1', 'a', 2, 'leave', 'detail')], [{ userId: 'u1', sessionId: 'a', steps: 3 }]);
  // Session b: this process saw only its last steps (it was open when the partition came here): partial.
  ledger.committed(0, [tr('u2', 'b', 4, 'click'), tr('u2', 'b', 5, 'leave')], [{ userId: 'u2', sessionId: 'b', steps: 6 }]);
  // Session c: no list shown.
  ledger.committed(0, [], [{ userId: 'u3', sessionId: 'c', steps: 0 }]);
  // Session d: a purchase and a click, reward 2; e on partition 1 goes when the partition does.
  ledger.committed(1, [tr('u4', 'd', 0, 'purchase', 'order'), tr('u4', 'd', 1, 'click', 'order')], [{ userId: 'u4', sessionId: 'd', steps: 2 }]);
  ledger.committed(1, [tr('u5', 'e', 0, 'click')], []);
  assert.equal(ledger.openSessions, 1);
  ledger.held([0]);
  assert.equal(ledger.openSessions, 0);
  ledger.committed(1, [tr('u5', 'e', 1, 'leave')], [{ userId: 'u5', sessionId: 'e', steps: 2 }]);

  const r = await read();
  assert.deepEqual([r.counted, r.partial, r.empty], [2, 2, 1]);
  assert.equal(r.reward, -1 + 2);
  assert.equal(r.squares, 1 + 4);
  assert.deepEqual(r.behaviours, { click: 2, skip: 1, leave: 1, purchase: 1 });
  assert.deepEqual(r.scenarios.entrance, { click: 3, skip: 0, leave: 2, purchase: 0 });
  assert.deepEqual(r.scenarios.detail, { click: 0, skip: 1, leave: 1, purchase: 0 });
  assert.deepEqual(r.scenarios.order, { click: 1, skip: 0, leave: 0, purchase: 1 });
  const text = await registry.metrics();
  assert.match(text, new RegExp(`${METRICS.sessionizer.sessionReward.name}_bucket\\{le="-1",service="sessionizer"\\} 1`));
});

const reading = (o: { counted: number; reward: number; squares: number; clicks?: number; items?: number; partial?: number; entrance?: Partial<Record<Behaviour, number>> }): SessionizerReading => {
  const zero = () => Object.fromEntries(BEHAVIOURS.map((b) => [b, 0])) as Record<Behaviour, number>;
  const scenarios = Object.fromEntries(SCENARIOS.map((s) => [s, zero()])) as Record<Scenario, Record<Behaviour, number>>;
  Object.assign(scenarios.entrance, o.entrance ?? {});
  const clicks = o.clicks ?? 0;
  return {
    counted: o.counted, reward: o.reward, squares: o.squares,
    behaviours: { click: clicks, skip: (o.items ?? clicks) - clicks, leave: 0, purchase: 0 },
    partial: o.partial ?? 0, empty: 0, scenarios, rewards: { ...DEFAULT_REWARDS },
  };
};

/** Cumulative readings of one sessionizer whose sessions earned `rewards`, `perScrape` sessions between scrapes. */
function readingsOf(rewards: number[], perScrape: number): SessionizerReading[] {
  const out: SessionizerReading[] = [];
  for (let end = perScrape; end <= rewards.length; end += perScrape) {
    const r = rewards.slice(0, end);
    out.push(reading({ counted: end, reward: r.reduce((a, x) => a + x, 0), squares: r.reduce((a, x) => a + x * x, 0), clicks: end * 2, items: end * 5 }));
  }
  return out;
}

test('sessions: rolling mean over at least `window` sessions between scrapes, with the demo\'s 95% interval', () => {
  const rewards = Array.from({ length: 100 }, (_, i) => Math.round(Math.sin(i) * 3) - 1);
  const h = new SessionizerHistory(20);
  readingsOf(rewards, 10).forEach((r, i) => h.push(1_000_000 + i * 5_000, [{ name: 's0', reading: r }]));
  const p = h.sessionsPanel();
  assert.equal(p.sessions, 100);
  assert.equal(p.lengthUnit, 'items');
  assert.deepEqual(p.series.n, [10, 20, 20, 20, 20, 20, 20, 20, 20, 20], 'the first scrapes average what there is');
  assert.deepEqual([p.series.t[0], p.series.t.at(-1)], [1000, 1045]);
  const last = meanInterval(rewards.slice(-20));
  assert.ok(Math.abs(p.latest.mean! - last.mean) < 1e-4 && Math.abs(p.latest.low! - last.low) < 1e-4 && Math.abs(p.latest.high! - last.high) < 1e-4);
  assert.deepEqual([p.latest.clicks, p.latest.pages, p.latest.purchases], [2, 5, 0]);
  assert.deepEqual([p.overall.mean, p.overall.clicks, p.overall.pages, p.overall.fallbackPages], [Math.round((rewards.reduce((a, x) => a + x, 0) / 100) * 1e4) / 1e4, 2, 5, null]);

  // Scrapes coarser than the window: each point is the sessions since the scrape before.
  const coarse = new SessionizerHistory(20);
  readingsOf(rewards, 50).forEach((r, i) => coarse.push(i * 5_000 + 1, [{ name: 's0', reading: r }]));
  assert.deepEqual(coarse.sessionsPanel().series.n, [50, 50]);

  const none = new SessionizerHistory(20).sessionsPanel();
  assert.deepEqual([none.sessions, none.latest.mean, none.series.t], [0, null, []]);
  assert.throws(() => new SessionizerHistory(0), /window/);
});

test('sessions: two sessionizers add up; a restart (a counter going down) counts its new reading in full', () => {
  const h = new SessionizerHistory(1000);
  const push = (at: number, ...rs: [string, SessionizerReading][]) => h.push(at, rs.map(([name, r]) => ({ name, reading: r })));
  push(1000, ['a', reading({ counted: 10, reward: 10, squares: 10 })], ['b', reading({ counted: 5, reward: -10, squares: 20, partial: 1 })]);
  push(2000, ['a', reading({ counted: 12, reward: 12, squares: 12 })]); // b did not answer
  push(3000, ['a', reading({ counted: 2, reward: 4, squares: 8 })], ['b', reading({ counted: 6, reward: -12, squares: 24 })]); // a restarted
  push(3000, ['a', reading({ counted: 99, reward: 0, squares: 0 })]); // not newer: ignored
  push(4000); // nothing answered: ignored
  const p = h.sessionsPanel();
  // a: 10, +2, then restarted with 2; b: 5, then 6 with its partial counter back at 0 (a restart too: all 6 count).
  assert.equal(p.sessions, 10 + 2 + 2 + 5 + 6);
  assert.equal(p.latest.mean, (10 + 2 + 4 - 10 - 12) / 25);
  assert.deepEqual(p.notCounted, { partial: 1, empty: 0 });
  assert.equal(h.size, 3);
  assert.ok(restarted(reading({ counted: 3, reward: 1, squares: 1 }), reading({ counted: 2, reward: 9, squares: 9 })));
  assert.ok(!restarted(reading({ counted: 3, reward: 1, squares: 1 }), reading({ counted: 3, reward: -5, squares: 1 })), 'reward may go down');
});

test('scenarios: totals by scenario and behaviour, and rates per bucket from the differences between scrapes', () => {
  const h = new SessionizerHistory(200, 720, 10_000);
  const push = (at: number, entrance: Partial<Record<Behaviour, number>>) => h.push(at, [{ name: 's', reading: reading({ counted: 0, reward: 0, squares: 0, entrance }) }]);
  push(5_000, { click: 100, skip: 300, leave: 100 }); // a first reading: totals only
  push(15_000, { click: 110, skip: 330, leave: 110 });
  push(25_000, { click: 130, skip: 340, leave: 130 });
  const p = h.scenariosPanel();
  const entrance = p.rows.find((r) => r.scenario === 'entrance')!;
  assert.deepEqual(
    { ...entrance },
    { scenario: 'entrance', items: 600, clicks: 130, purchases: 0, skips: 340, leaves: 130, reward: 130 - 260, clickRate: 0.2167, leaveRate: 0.2167, rewardPerItem: -0.2167 },
  );
  assert.deepEqual(p.series.t, [15, 25]);
  assert.deepEqual(p.series.clickRate.entrance, [0.2, 0.4]);
  assert.deepEqual(p.series.clickRate.detail, [null, null]);
});

test('scrapes → readings by name, and why the panels are empty when there are none', () => {
  const M = METRICS.sessionizer;
  const old: Scrape = { name: 's-old', url: 'http://o/metrics', samples: parsePrometheus(`${M.transitions.name} 5`) };
  const current: Scrape = {
    name: 's-new', url: 'http://n/metrics', samples: parsePrometheus([
      `${M.transitions.name} 5`, `${M.sessions.name}{outcome="counted"} 1`, `${M.behaviours.name}{scenario="cart",behaviour="skip"} 5`,
      `${M.behaviourReward.name}{behaviour="leave"} -2`, `${M.sessionReward.name}_count 1`, `${M.sessionReward.name}_sum -2`,
    ].join('\n')),
  };
  const readings = sessionizerReadings([old, current, { name: 'gone', url: 'http://g/metrics', samples: null }]);
  assert.deepEqual(readings.map((r) => [r.name, r.reading?.counted ?? null]), [['s-old', null], ['s-new', 1]]);
  assert.equal(readings[1]!.reading!.scenarios.cart.skip, 5);
  assert.equal(sessionsUnavailable(readings, true), null);
  assert.match(sessionsUnavailable([], false)!.note, /No sessionizer \/metrics answered/);
  assert.match(sessionsUnavailable(readings.slice(0, 1), false)!.note, /s-old.*older than these metrics/);
});
