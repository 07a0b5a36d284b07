/** The console's server (page, vendored chart library, JSON, server-sent events), the demo tap and the demo's --console flag. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AddressInfo } from 'node:net';
import { createLogger, createMetricsRegistry, type Transition, type UserEvent } from '../../services/common/index.js';
import { cachedView, createConsoleApp } from '../../services/console/app.js';
import { loadConsoleConfig } from '../../services/console/config.js';
import { CONSOLE_GROUP, DemoTap } from '../../services/console/demo-tap.js';
import type { ConsoleView } from '../../services/console/view.js';
import type { EmbeddedParts } from '../../services/demo/embedded.js';
import { MemoryTopic } from '../../services/demo/memory-log.js';
import { DEFAULT_CONSOLE_PORT, parseDemoArgs } from '../../services/demo/options.js';

const REGISTRY = 'http://127.0.0.1:8081/apis/ccompat/v7';

const fakeView = (at: number) => ({ at }) as unknown as ConsoleView;

test('cachedView builds once per ttl for every caller, and does not keep a failure', async () => {
  let now = 0;
  let builds = 0;
  let fail = false;
  const view = cachedView(async () => {
    builds++;
    if (fail) throw new Error('db down');
    return fakeView(builds);
  }, 1000, () => now);
  const [a, b] = await Promise.all([view(), view()]);
  assert.equal(builds, 1);
  assert.equal(a, b);
  now = 999;
  await view();
  assert.equal(builds, 1);
  now = 1000;
  fail = true;
  await assert.rejects(view(), /db down/);
  fail = false;
  await view();
  assert.equal(builds, 3, 'a failed build is retried at once');
});

test('the server: the page, uPlot from node_modules, the view as JSON and as server-sent events', async () => {
  const tap = new DemoTap('deepchain');
  try {
    const app = await createConsoleApp({ view: () => tap.view(), refreshMs: 200, logger: createLogger('console', 'silent'), metrics: createMetricsRegistry('console') });
    const page = await app.inject({ url: '/' });
    assert.equal(page.statusCode, 200);
    assert.match(page.headers['content-type'] as string, /text\/html/);
    assert.match(page.headers['content-security-policy'] as string, /default-src 'self'/);
    assert.match(page.body, /<script src="\/vendor\/uPlot\.iife\.min\.js"><\/script>/);
    assert.doesNotMatch(page.body, /https?:\/\//, 'the page loads nothing from elsewhere');
    const uplot = await app.inject({ url: '/vendor/uPlot.iife.min.js' });
    assert.equal(uplot.statusCode, 200);
    assert.match(uplot.body, /uPlot/);
    assert.equal((await app.inject({ url: '/vendor/uPlot.min.css' })).statusCode, 200);
    assert.equal((await app.inject({ url: '/console.js' })).statusCode, 200);
    assert.equal((await app.inject({ url: '/vendor/../app.ts' })).statusCode, 404);
    assert.equal((await app.inject({ url: '/healthz' })).statusCode, 200);

    const view = (await app.inject({ url: '/api/view' })).json() as ConsoleView;
    assert.equal(view.mode, 'demo');
    assert.equal(view.model, 'deepchain');
    assert.equal(view.sessions.available && view.sessions.sessions, 0);
    assert.deepEqual(view.versions.versions, []);
    assert.deepEqual(view.pipeline.notes, ['the demo is still building its parts']);

    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/api/stream`);
    assert.match(res.headers.get('content-type')!, /text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    while ((text.match(/^data: /gm) ?? []).length < 2) text += new TextDecoder().decode((await reader.read()).value);
    const events = text.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as ConsoleView);
    assert.equal(events[0]!.mode, 'demo');
    assert.ok(events[1]!.at >= events[0]!.at, 'a new view every refresh');
    await app.close(); // ends the open stream rather than waiting for it
    assert.equal((await reader.read().catch(() => ({ done: true }))).done, true);
  } finally {
    tap.stop();
  }
});

test('the demo tap reads every transition through its own group and shows the demo\'s groups, not its own', async () => {
  const tap = new DemoTap('deepchain');
  try {
    const events = new MemoryTopic<UserEvent>('events', 2);
    const transitions = new MemoryTopic<Transition>('transitions', 2);
    const learner = transitions.subscribe('learner');
    // Only the parts this view reads; the registry counts as closed, so no rows are asked for.
    tap.observe({ events, transitions, sessions: [], db: { closed: true } } as unknown as EmbeddedParts);
    const t = (scenario: Transition['scenario'], behaviour: Transition['behaviour'], reward: number): Transition => ({
      userId: 'u1', sessionId: 's1', step: 0, scenario, state: [], action: 'i1', behaviour, reward, nextState: [], nextScenario: null,
      terminal: behaviour === 'leave', eventTime: 1_000, modelVersion: null, propensity: null,
    });
    transitions.append('u1', t('entrance', 'click', 1));
    transitions.append('u2', t('cart', 'leave', -2));
    learner.poll();
    tap.sample();
    transitions.trim();
    assert.equal(transitions.size, 0, 'the console keeps up, so the log still trims');
    const view = await tap.view();
    assert.ok(view.scenarios.available);
    if (!view.scenarios.available) return;
    assert.deepEqual(view.scenarios.rows.map((r) => [r.scenario, r.items, r.clicks, r.leaves]), [
      ['entrance', 1, 1, 0], ['detail', 0, 0, 0], ['cart', 1, 0, 1], ['order', 0, 0, 0],
    ]);
    assert.deepEqual(view.pipeline.lag, [{ group: 'learner', topic: 'transitions', lag: 0 }], `not the ${CONSOLE_GROUP} group`);
  } finally {
    tap.stop();
  }
});

test('--console: a port (default 8095, 0 for any), embedded only', () => {
  assert.equal(parseDemoArgs([], REGISTRY).console, null);
  assert.deepEqual(parseDemoArgs(['--console'], REGISTRY).console, { host: '127.0.0.1', port: DEFAULT_CONSOLE_PORT });
  assert.deepEqual(parseDemoArgs(['--console', '0', '--minutes', '1'], REGISTRY).console, { host: '127.0.0.1', port: 0 });
  assert.deepEqual(parseDemoArgs(['--console', '--minutes', '1'], REGISTRY).console, { host: '127.0.0.1', port: DEFAULT_CONSOLE_PORT });
  assert.throws(() => parseDemoArgs(['--console', 'x'], REGISTRY, () => undefined), /port/);
  assert.throws(
    () => parseDemoArgs(['--console', '--kafka', '127.0.0.1:9092', '--database-url', 'postgresql://p@h/db'], REGISTRY, () => undefined),
    /--console runs beside the embedded demo/,
  );
});

test('the console service\'s configuration', () => {
  const c = loadConsoleConfig({ CONSOLE_METRICS_URLS: 'learner=http://l:8083/metrics,sessionizer-0=http://s:8082/metrics' });
  assert.deepEqual(c.CONSOLE_METRICS_URLS, { learner: 'http://l:8083/metrics', 'sessionizer-0': 'http://s:8082/metrics' });
  assert.equal(c.HTTP_PORT, 8095);
  assert.equal(c.MODEL_NAME, 'deepchain');
  assert.ok(Object.isFrozen(c));
  assert.throws(() => loadConsoleConfig({ CONSOLE_METRICS_URLS: 'learner=ftp://l/metrics' }), /CONSOLE_METRICS_URLS.*learner/);
  assert.throws(() => loadConsoleConfig({ CONSOLE_REFRESH_MS: '10' }), /CONSOLE_REFRESH_MS/);
});
