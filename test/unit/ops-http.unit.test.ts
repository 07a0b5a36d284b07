import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger, createMetricsRegistry, createOpsServer } from '../../services/common/index.js';

test('healthz answers, readyz reports each check, metrics are Prometheus text', async () => {
  let dbUp = true;
  const app = createOpsServer({
    logger: createLogger('t', 'silent'),
    metrics: createMetricsRegistry('t'),
    readiness: { kafka: async () => undefined, database: async () => { if (!dbUp) throw new Error('connection refused'); } },
  });
  assert.equal((await app.inject('/healthz')).statusCode, 200);
  const ready = await app.inject('/readyz');
  assert.equal(ready.statusCode, 200);
  assert.deepEqual(ready.json(), { status: 'ready', checks: { kafka: 'ok', database: 'ok' } });
  dbUp = false;
  const notReady = await app.inject('/readyz');
  assert.equal(notReady.statusCode, 503);
  assert.deepEqual(notReady.json().checks, { kafka: 'ok', database: 'connection refused' });
  const metrics = await app.inject('/metrics');
  assert.match(metrics.headers['content-type'] as string, /text\/plain/);
  assert.match(metrics.body, /deepchain_process_cpu_user_seconds_total\{service="t"\}/);
  await app.close();
});
