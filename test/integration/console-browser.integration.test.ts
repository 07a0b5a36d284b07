/**
 * The live console (services/console) in a real headless Chromium (Debian's `chromium` package, driven by
 * playwright-core): against a short embedded demo (`npm run demo -- --console`) the page shows the versions
 * table and a reward chart with data and picks up a new version without a reload; against a deployment
 * (the console process on a Postgres registry and /metrics URLs) it shows the registry's rows, the
 * learner's counters, and reward per session and outcomes per scenario from a sessionizer's counters. Any script error, failed request or request
 * leaving this machine fails the test. CONSOLE_SCREENSHOT=FILE saves the demo page (the README's picture);
 * CONSOLE_DEMO_MINUTES sets the demo's length.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { METRICS, migratePool, withSession } from '../../services/common/index.js';
import { insertVersion, pin, recordDeployment, type VersionDecision } from '../../services/registry/index.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { eventually, freePort, startService, type ServiceProcess } from '../support/processes.js';

const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/lib/chromium/chromium'].find((p) => p && existsSync(p));
// CI installs Debian's chromium (.ci/run): there a missing browser is a failure, elsewhere a skip.
const skip = CHROMIUM || process.env.CI ? false : 'Debian\'s chromium is not installed (apt-get install -y chromium)';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

let browser: Browser;
const cleanups: (() => Promise<unknown>)[] = [];

before(async () => {
  if (skip) return;
  assert.ok(CHROMIUM, 'no chromium at /usr/bin/chromium: apt-get install -y chromium');
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
});
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await browser?.close();
});

/** A page that records what would mean it is broken: script errors, console errors, failed or outside requests. */
async function openPage(url: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1500, height: 1100 } });
  const problems: string[] = [];
  const origin = new URL(url).origin;
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('request', (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith('data:')) problems.push(`request outside the console: ${r.url()}`); });
  page.on('requestfailed', (r) => { if (!r.url().endsWith('/api/stream')) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`); });
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
  await page.goto(url);
  return { page, problems };
}

const versionRows = (page: Page) => page.locator('#versions-table tbody tr[data-version]').count();
const points = async (page: Page, id: string) => Number(await page.locator(`#${id}`).getAttribute('data-points'));
const updates = async (page: Page) => Number((await page.locator('body').getAttribute('data-updates')) ?? 0);

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  return eventually(async () => (await probe()) || undefined, timeoutMs, what);
}

test('against the embedded demo: versions, a reward chart with data, and live updates', { skip, timeout: 420_000 }, async () => {
  const out = await mkdtemp(join(tmpdir(), 'console-demo-'));
  cleanups.push(() => rm(out, { recursive: true, force: true }));
  const minutes = process.env.CONSOLE_DEMO_MINUTES ?? '1.5';
  const demo: ChildProcess = spawn(process.execPath, [
    '--import', 'tsx', 'services/demo/main.ts', '--console', '0', '--minutes', minutes, '--items', '400', '--users', '400', '--out', out,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  demo.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  demo.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
  cleanups.push(async () => { if (demo.exitCode === null) demo.kill('SIGKILL'); });

  const url = await until('the demo to print the console URL', 60_000, async () => {
    assert.equal(demo.exitCode, null, `the demo exited early:\n${stderr}`);
    return /console: (http:\/\/\S+)/.exec(stderr)?.[1];
  });
  const urlAt = Date.now();
  const { page, problems } = await openPage(url);
  assert.equal(await page.title(), 'DeepChain console');
  assert.equal(await page.evaluate('typeof uPlot'), 'function', 'uPlot loads from the console itself');

  // A first version and a reward chart with points on it.
  await until(`a version row and reward points (stderr:\n${stderr.slice(-1500)})`, 150_000, async () =>
    (await versionRows(page)) >= 1 && (await points(page, 'reward-chart')) > 1);
  assert.equal(await page.locator('#mode').textContent(), 'embedded demo');
  const canvas = await page.locator('#reward-chart canvas').boundingBox();
  assert.ok(canvas && canvas.width > 200 && canvas.height > 100, 'the reward chart is drawn');
  assert.ok((await points(page, 'loss-chart')) > 0, 'the learner chart has samples');
  assert.equal(await page.locator('#scenario-table tbody tr[data-scenario]').count(), 4);
  assert.match((await page.locator('#deployments-table tbody').textContent()) ?? '', /embedded/);
  const rowText = (await page.locator('#versions-table tbody tr').last().textContent()) ?? '';
  assert.match(rowText, /v1/);
  assert.match(rowText, /promoted/, 'the first version is promoted (nothing to compare with)');

  // A new version appears on the open page, with no reload.
  const seen = await versionRows(page);
  const seenUpdates = await updates(page);
  await until(`a version after the first ${seen} (stderr:\n${stderr.slice(-1500)})`, 150_000, async () => (await versionRows(page)) > seen);
  assert.ok((await updates(page)) > seenUpdates);
  const newest = page.locator('#versions-table tbody tr').first();
  assert.match((await newest.textContent()) ?? '', /promoted|rejected/);

  if (process.env.CONSOLE_SCREENSHOT) {
    // Near the end of the run: the users browse for `minutes` after the URL is printed.
    await new Promise((r) => setTimeout(r, Math.max(0, urlAt + Number(minutes) * 60_000 - 3_000 - Date.now())));
    await page.screenshot({ path: process.env.CONSOLE_SCREENSHOT, fullPage: true });
  }
  assert.deepEqual(problems, []);
  await page.close();

  // The console lives as long as the demo, which still ends with its verdict line.
  assert.equal(await exited, 0, stderr.slice(-3000));
  assert.equal(JSON.parse(stdout.trim()).demo, 'done');
  await assert.rejects(fetch(url), 'the console stops with the demo');
});

const decision = (d: Partial<VersionDecision>): VersionDecision => ({
  outcome: 'promoted', reasons: [], baselineVersion: null, baselinePinned: false, numbers: {}, ...d,
});

function metricsServer(body: () => string): Promise<Server> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end(body()));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

test('against a deployment: the Postgres registry and the services\' /metrics', { skip, timeout: 180_000 }, async () => {
  const db: TestDatabase = await createTestDatabase();
  cleanups.push(() => db.drop());
  await migratePool(db.pool);
  const M = METRICS;
  let steps = 1200;
  const learner = await metricsServer(() => [
    `# TYPE ${M.learner.steps.name} counter`, `${M.learner.steps.name}{service="learner"} ${(steps += 50)}`,
    `${M.learner.transitions.name}{service="learner",outcome="accepted"} 90000`, `${M.learner.transitions.name}{service="learner",outcome="held_out"} 5000`,
    `${M.learner.transitions.name}{service="learner",outcome="rejected"} 7`,
    `${M.learner.loss.name}{service="learner",network="critic"} 0.25`, `${M.learner.loss.name}{service="learner",network="actor"} -1.5`,
    `${M.learner.loss.name}{service="learner",network="probability"} 0.5`, `${M.learner.replaySize.name}{service="learner"} 80000`,
    `${M.learner.consumerLag.name}{service="learner",partition="0"} 3`, `${M.learner.consumerLag.name}{service="learner",partition="1"} 4`,
  ].join('\n'));
  // Each scrape, 40 more sessions end: 30 earning 1 and 10 earning −2 (mean 0.25), 140 items (3.5 a session);
  // on the entrance page 20 clicks, 80 skips and 6 leaves (click rate 20/106), on detail pages 10, 20 and 4.
  let scrape = 0;
  const sessionizer = await metricsServer(() => {
    const k = ++scrape;
    const S = M.sessionizer;
    const behaviours = (scenario: string, click: number, skip: number, leave: number) => [
      `${S.behaviours.name}{service="sessionizer",scenario="${scenario}",behaviour="click"} ${click * k}`,
      `${S.behaviours.name}{service="sessionizer",scenario="${scenario}",behaviour="skip"} ${skip * k}`,
      `${S.behaviours.name}{service="sessionizer",scenario="${scenario}",behaviour="leave"} ${leave * k}`,
      `${S.behaviours.name}{service="sessionizer",scenario="${scenario}",behaviour="purchase"} 0`,
    ];
    return [
      `${S.transitions.name}{service="sessionizer"} 95007`, `${S.deadLetters.name}{service="sessionizer"} 2`,
      `${S.consumerLag.name}{service="sessionizer",partition="0"} 11`,
      ...behaviours('entrance', 20, 80, 6), ...behaviours('detail', 10, 20, 4),
      `${S.behaviourReward.name}{service="sessionizer",behaviour="click"} 1`, `${S.behaviourReward.name}{service="sessionizer",behaviour="skip"} 0`,
      `${S.behaviourReward.name}{service="sessionizer",behaviour="leave"} -2`, `${S.behaviourReward.name}{service="sessionizer",behaviour="purchase"} 1`,
      `${S.sessions.name}{service="sessionizer",outcome="counted"} ${40 * k}`, `${S.sessions.name}{service="sessionizer",outcome="partial"} 3`,
      `${S.sessions.name}{service="sessionizer",outcome="empty"} 1`,
      `${S.sessionReward.name}_count{service="sessionizer"} ${40 * k}`, `${S.sessionReward.name}_sum{service="sessionizer"} ${10 * k}`,
      `${S.sessionRewardSquares.name}{service="sessionizer"} ${70 * k}`,
      `${S.sessionBehaviours.name}{service="sessionizer",behaviour="click"} ${30 * k}`, `${S.sessionBehaviours.name}{service="sessionizer",behaviour="skip"} ${100 * k}`,
      `${S.sessionBehaviours.name}{service="sessionizer",behaviour="leave"} ${10 * k}`, `${S.sessionBehaviours.name}{service="sessionizer",behaviour="purchase"} 0`,
    ].join('\n');
  });
  cleanups.push(async () => { learner.close(); sessionizer.close(); });
  const metricsUrl = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}/metrics`;

  await withSession(db.pool, async (s) => {
    const base = { model: 'deepchain', sourceOffsets: {}, metrics: {}, weights: new Uint8Array([1, 2, 3]) };
    await insertVersion(s, { ...base, trainSteps: 500, transitionsSeen: 10_000, status: 'live', decision: decision({ reasons: ['first version: nothing served to compare with'] }) });
    await insertVersion(s, {
      ...base, trainSteps: 1000, transitionsSeen: 20_000, status: 'rejected',
      decision: decision({ outcome: 'rejected', baselineVersion: 1, reasons: ['lower bound below the margin 0'], numbers: { difference: -0.0123, differenceLow: -0.03, differenceHigh: 0.004, gatePages: 4321 } }),
    });
    await insertVersion(s, {
      ...base, trainSteps: 1500, transitionsSeen: 30_000, status: 'live',
      decision: decision({ baselineVersion: 1, reasons: ['lower bound clears the margin 0'], numbers: { difference: 0.05, differenceLow: 0.01, differenceHigh: 0.09, gatePages: 5000 } }),
    });
    await recordDeployment(s, 'serving-a', 'deepchain', 3);
    await recordDeployment(s, 'serving-b', 'deepchain', 1);
    await pin(s, 'deepchain', 3, { actor: 'test', reason: 'hold v3 while checking' });
  });

  const port = await freePort();
  const consoleProc: ServiceProcess = startService('console', {
    DATABASE_URL: db.url, HTTP_PORT: String(port), CONSOLE_REFRESH_MS: '500', LOG_LEVEL: 'warn',
    CONSOLE_METRICS_URLS: `learner=${metricsUrl(learner)},sessionizer-0=${metricsUrl(sessionizer)},serving-gone=http://127.0.0.1:9/metrics`,
  });
  cleanups.push(() => consoleProc.stop());
  const url = `http://127.0.0.1:${port}/`;
  await eventually(async () => ((await fetch(`${url}healthz`).catch(() => null))?.ok ? true : undefined), 60_000, `the console (${consoleProc.output()})`);

  const { page, problems } = await openPage(url);
  await until('the versions table', 30_000, async () => (await versionRows(page)) === 3);
  assert.equal(await page.locator('#mode').textContent(), 'deployment');
  const rows = page.locator('#versions-table tbody tr');
  assert.match((await rows.nth(0).textContent()) ?? '', /v3.*live.*pinned.*promoted.*v1.*0\.0500 \[0\.0100, 0\.0900\].*5,000.*serving-a/);
  assert.match((await rows.nth(1).textContent()) ?? '', /v2.*rejected.*rejected.*-0\.0123 \[-0\.0300, 0\.0040\].*4,321.*lower bound below the margin/);
  assert.match((await page.locator('#deployments-table tbody tr[data-node="serving-b"]').textContent()) ?? '', /should run v3/);
  assert.match((await page.locator('#changes-table tbody').textContent()) ?? '', /pin.*hold v3 while checking/);
  await until('two learner samples', 20_000, async () => (await points(page, 'loss-chart')) >= 2);
  // Reward per session and the scenarios from the sessionizer's counters.
  await until('two points on the reward chart', 20_000, async () => (await points(page, 'reward-chart')) >= 2 && (await points(page, 'scenario-chart')) >= 1);
  assert.ok(await page.locator('#sessions .note').isHidden());
  assert.ok(await page.locator('#reward-chart').isVisible());
  const sessionStats = (await page.locator('#session-stats').textContent()) ?? '';
  assert.match(sessionStats, /0\.25 \[-?0\.\d\d, 0\.\d\d\]reward \/ session, last \d+/);
  assert.match(sessionStats, /0\.75clicks \/ session/);
  assert.match(sessionStats, /3\.50items \/ session/);
  assert.match(sessionStats, /3 \/ 1not counted/);
  assert.equal(await page.locator('#session-length-unit').textContent(), 'items');
  assert.match((await page.locator('#scenario-table tbody tr[data-scenario="entrance"]').textContent()) ?? '', /^entrance.*0\.1890\.057/);
  const learnerStats = (await page.locator('#learner-stats').textContent()) ?? '';
  assert.match(learnerStats, /95,000transitions/);
  assert.match(learnerStats, /80,000replay size/);
  assert.match((await page.locator('#lag-table tbody').textContent()) ?? '', /sessionizerevents11.*learnertransitions7/);
  assert.match((await page.locator('#dead-letters-table tbody').textContent()) ?? '', /sessionizer.*2.*learner.*rejected.*7/);
  assert.match((await page.locator('#pipeline-notes').textContent()) ?? '', /serving-gone .* did not answer/);

  // A version the learner writes now shows up without a reload.
  await withSession(db.pool, (s) => insertVersion(s, {
    model: 'deepchain', sourceOffsets: {}, metrics: {}, weights: new Uint8Array([4]), trainSteps: 2000, transitionsSeen: 40_000, status: 'rejected',
    decision: decision({ outcome: 'rejected', baselineVersion: 3, baselinePinned: true, reasons: ['not enough held-out data'] }),
  }));
  await until('version 4 on the page', 20_000, async () => (await versionRows(page)) === 4);
  assert.match((await rows.nth(0).textContent()) ?? '', /v4.*rejected.*v3 \(pinned\).*not enough held-out data/);
  assert.deepEqual(problems, []);
  await page.close();
});
