/**
 * deploy/prometheus and deploy/grafana: `promtool check config`, `promtool check rules` and
 * `promtool test rules` pass, and every metric name the alert rules, their tests and the dashboard read is
 * one the services export: the catalogue METRICS (services/common/metrics.ts) and the default process
 * metrics of createMetricsRegistry, read at run time. promtool is Debian's `prometheus` package; without it
 * these checks are skipped, except under CI, where they fail.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { createMetricsRegistry, METRIC_PREFIX, METRICS } from '../../services/common/index.js';
import { createGatewayMetrics } from '../../services/gateway/metrics.js';
import { createSessionizerMetrics } from '../../services/sessionizer/metrics.js';
import { exportedSeries, metricNamesIn } from '../support/promql.js';

const PROMETHEUS = 'deploy/prometheus';
const GRAFANA = 'deploy/grafana';

/** Series Prometheus itself writes for every scrape target (not exported by a service). */
const SCRAPE_SERIES = ['up'];

async function exportedNames(): Promise<Set<string>> {
  const names = new Set<string>(SCRAPE_SERIES);
  for (const service of Object.values(METRICS)) {
    for (const m of Object.values(service)) for (const s of exportedSeries(m.name, m.type)) names.add(s);
  }
  for (const m of await createMetricsRegistry('catalogue').getMetricsAsJSON()) {
    for (const s of exportedSeries(m.name, String(m.type))) names.add(s);
  }
  return names;
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const rules = (parseYaml(readFileSync(`${PROMETHEUS}/alerts.yml`, 'utf8')) as { groups: { name: string; rules: Rule[] }[] })
  .groups.flatMap((g) => g.rules);

const dashboards = readdirSync(`${GRAFANA}/dashboards`).filter((f) => f.endsWith('.json'))
  .map((f) => ({ file: f, json: JSON.parse(readFileSync(`${GRAFANA}/dashboards/${f}`, 'utf8')) as any }));

function dashboardExprs(d: any): string[] {
  const panels = (d.panels ?? []).flatMap((p: any) => [p, ...(p.panels ?? [])]);
  return panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr).filter((e: unknown) => typeof e === 'string'));
}

function unknownNames(exprs: string[], known: Set<string>): string[] {
  return [...new Set(exprs.flatMap((e) => metricNamesIn(e)))].filter((n) => !known.has(n)).sort();
}

const CI = ['true', '1'].includes(process.env.CI ?? '');
const havePromtool = spawnSync('promtool', ['--version']).status === 0;

/** True when promtool can run; otherwise fails under CI and skips elsewhere. */
function promtool(t: TestContext): boolean {
  if (havePromtool) return true;
  assert.ok(!CI, "promtool is not installed: CI must install Debian's prometheus package (.ci/run does)");
  t.skip("promtool is not installed (apt-get install prometheus); CI fails here instead of skipping");
  return false;
}

function runPromtool(args: string[]): void {
  const r = spawnSync('promtool', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `promtool ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
}

test('metricNamesIn reads the metric names out of PromQL, not functions, labels, keywords or numbers', () => {
  assert.deepEqual(
    metricNamesIn('histogram_quantile(0.99, sum by (le, instance) (rate(a_seconds_bucket{job="x",le!="+Inf"}[5m]))) > 0.005'),
    ['a_seconds_bucket'],
  );
  assert.deepEqual(metricNamesIn('x{network=~"critic|probability"} > 1e4 or x != x'), ['x']);
  assert.deepEqual(metricNamesIn('a unless on(pod) sum by (pod) (increase(b{status="live"}[30m] offset 1h)) > 0'), ['a', 'b']);
  assert.deepEqual(metricNamesIn('time() - (c_p99_seconds > 0) and on() absent(d)'), ['c_p99_seconds', 'd']);
  assert.deepEqual(metricNamesIn('rate(e[$__rate_interval]) * 60'), ['e']);
});

test('the catalogue is what the gateway and the sessionizer register', async () => {
  const registry = createMetricsRegistry('t');
  const defaults = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
  createGatewayMetrics(registry, () => 0);
  createSessionizerMetrics(registry);
  const registered = (await registry.getMetricsAsJSON()).filter((m) => !defaults.has(m.name)).map((m) => ({ name: m.name, type: String(m.type) }));
  const catalogued = [...Object.values(METRICS.gateway), ...Object.values(METRICS.sessionizer)].map((m) => ({ name: m.name, type: m.type }));
  const byName = (l: { name: string }[]) => [...l].sort((a, b) => a.name.localeCompare(b.name));
  assert.deepEqual(byName(registered), byName(catalogued));
});

test('metric names are written only in the catalogue', () => {
  // Every other file takes its names from METRICS; a quoted literal with the prefix is a second declaration.
  const files = spawnSync('find', ['services', '-name', '*.ts', '-not', '-path', '*/node_modules/*'], { encoding: 'utf8' }).stdout.trim().split('\n');
  const literal = new RegExp(`['"\`]${METRIC_PREFIX}[a-z0-9_]+['"\`]`);
  const offenders = files.filter((f) => f !== 'services/common/metrics.ts' && literal.test(readFileSync(f, 'utf8')));
  assert.deepEqual(offenders, []);
});

test('promtool: the Prometheus configuration and the alert rules are valid', (t) => {
  if (!promtool(t)) return;
  runPromtool(['check', 'config', `${PROMETHEUS}/prometheus.yml`]);
  runPromtool(['check', 'rules', `${PROMETHEUS}/alerts.yml`]);
});

test('promtool: the alerts fire on the series they watch (alerts.test.yml)', (t) => {
  if (!promtool(t)) return;
  runPromtool(['test', 'rules', `${PROMETHEUS}/alerts.test.yml`]);
});

test("promtool: every dashboard query is valid PromQL", (t) => {
  if (!promtool(t)) return;
  const dir = mkdtempSync(join(tmpdir(), 'deepchain-dashboard-'));
  try {
    const exprs = dashboards.flatMap((d) => dashboardExprs(d.json));
    const file = join(dir, 'dashboard-queries.yml');
    // As recording rules, promtool parses each query.
    writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules: exprs.map((expr, i) => ({ record: `dashboard:query${i}`, expr })) }] }));
    runPromtool(['check', 'rules', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every metric name in the alert rules is one the services export', async () => {
  assert.ok(rules.length >= 8);
  assert.deepEqual(unknownNames(rules.map((r) => r.expr), await exportedNames()), []);
});

test('the alert rules cover what hurts, each with a severity and a summary', () => {
  const alerts = rules.filter((r) => r.alert);
  for (const r of alerts) {
    assert.ok(['critical', 'warning'].includes(r.labels?.severity ?? ''), `${r.alert}: severity`);
    assert.ok(r.annotations?.summary, `${r.alert}: summary`);
  }
  const names = alerts.map((r) => r.alert!);
  for (const watched of ['Freshness', 'LagGrowing', 'DeadLetter', 'ServingP99', 'NotTraining', 'Diverged', 'NoLiveVersion']) {
    assert.ok(names.some((n) => n.includes(watched)), `an alert on ${watched}`);
  }
});

test('the rule tests feed series the services really export', async () => {
  const cases = (parseYaml(readFileSync(`${PROMETHEUS}/alerts.test.yml`, 'utf8')) as any).tests as { input_series: { series: string }[] }[];
  const series = cases.flatMap((c) => c.input_series.map((s) => s.series));
  assert.deepEqual(unknownNames(series, await exportedNames()), []);
});

test('every metric name in the Grafana dashboards is one the services export', async () => {
  assert.ok(dashboards.length >= 1);
  for (const d of dashboards) {
    const exprs = dashboardExprs(d.json);
    assert.ok(exprs.length >= 10, `${d.file}: queries`);
    assert.deepEqual(unknownNames(exprs, await exportedNames()), [], d.file);
  }
});

test('Grafana provisioning: the dashboards use the provisioned datasource, loaded by a file provider', () => {
  const ds = (parseYaml(readFileSync(`${GRAFANA}/provisioning/datasources/prometheus.yaml`, 'utf8')) as any).datasources;
  assert.equal(ds.length, 1);
  assert.equal(ds[0].type, 'prometheus');
  const uid = ds[0].uid as string;
  const providers = (parseYaml(readFileSync(`${GRAFANA}/provisioning/dashboards/deepchain.yaml`, 'utf8')) as any).providers;
  assert.equal(providers[0].type, 'file');
  assert.ok(providers[0].options?.path);
  for (const d of dashboards) {
    assert.ok(d.json.uid && d.json.title, `${d.file}: uid and title`);
    const panels = (d.json.panels as any[]).filter((p) => p.type !== 'row');
    for (const p of panels) {
      assert.deepEqual(p.datasource, { type: 'prometheus', uid }, `${d.file}: panel '${p.title}'`);
      for (const target of p.targets) assert.equal(target.datasource.uid, uid, `${d.file}: panel '${p.title}'`);
    }
    const ids = (d.json.panels as any[]).map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, `${d.file}: panel ids are unique`);
  }
});
