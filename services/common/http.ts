/**
 * The operations endpoints every service exposes: `/healthz` (the process runs), `/readyz` (its
 * dependencies answer; 503 with the failing checks otherwise) and Prometheus `/metrics`.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from './log.js';

export type ReadinessCheck = () => Promise<void>;

export interface OpsServerOptions {
  logger: Logger;
  metrics: Registry;
  readiness?: Record<string, ReadinessCheck>;
  /** Largest request body accepted, in bytes (fastify's default: 1 MiB). */
  bodyLimit?: number;
}

export function createOpsServer(options: OpsServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // Per-request log lines would dominate the logs of a busy ingest or serving node; metrics count requests.
    logController: new LogController({ disableRequestLogging: true }),
    ...(options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit }),
  });
  const checks = options.readiness ?? {};
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const results = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        try {
          await check();
          return [name, 'ok'] as const;
        } catch (err) {
          return [name, (err as Error).message] as const;
        }
      }),
    );
    const failing = results.filter(([, r]) => r !== 'ok');
    return reply.code(failing.length === 0 ? 200 : 503).send({
      status: failing.length === 0 ? 'ready' : 'not ready',
      checks: Object.fromEntries(results),
    });
  });
  app.get('/metrics', async (_req, reply) =>
    reply.header('content-type', options.metrics.contentType).send(await options.metrics.metrics()),
  );
  return app;
}
