/**
 * The console process against a real deployment: the registry (DATABASE_URL) and the services' /metrics
 * (CONSOLE_METRICS_URLS), served as a live page on HTTP_HOST:HTTP_PORT. Only wiring: config, clients, server,
 * shutdown.
 */
import { createLogger, createMetricsRegistry, createPool } from '../common/index.js';
import { createConsoleApp } from './app.js';
import { loadConsoleConfig } from './config.js';
import { DeploymentSource } from './deployment.js';

const config = loadConsoleConfig();
const logger = createLogger('console', config.LOG_LEVEL);
const pool = createPool(config.DATABASE_URL, 2);
const source = new DeploymentSource({ pool, model: config.MODEL_NAME, metricsUrls: config.CONSOLE_METRICS_URLS });
const app = await createConsoleApp({
  view: () => source.view(),
  refreshMs: config.CONSOLE_REFRESH_MS,
  logger,
  metrics: createMetricsRegistry('console'),
});
await app.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
logger.info({ model: config.MODEL_NAME, metrics: Object.keys(config.CONSOLE_METRICS_URLS) }, 'console started');

let shuttingDown = false;
const shutdown = async (signal: string) => {
  if (shuttingDown) return;
  shuttingDown = true;
  logger.info({ signal }, 'shutting down');
  await app.close();
  await pool.end().catch(() => undefined);
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
