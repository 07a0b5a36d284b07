/**
 * The console's HTTP server: the ops endpoints every service has (/healthz, /readyz, /metrics), the page and
 * its script and style (page/), uPlot served from node_modules (no CDN: the page loads nothing from outside
 * this server), the view as JSON (GET /api/view) and as server-sent events every `refreshMs`
 * (GET /api/stream). `view` builds the ConsoleView; it runs at most once per half refresh, however many
 * pages are open.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { createOpsServer, type Logger } from '../common/index.js';
import type { ConsoleView } from './view.js';

export interface ConsoleAppOptions {
  view: () => Promise<ConsoleView>;
  refreshMs: number;
  logger: Logger;
  metrics: Registry;
}

const PAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), 'page');
const UPLOT_DIR = dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'));

/** Every file the page needs, by URL path: nothing else is served from disk. */
const FILES: Record<string, { path: string; type: string }> = {
  '/': { path: join(PAGE_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/console.js': { path: join(PAGE_DIR, 'console.js'), type: 'text/javascript; charset=utf-8' },
  '/console.css': { path: join(PAGE_DIR, 'console.css'), type: 'text/css; charset=utf-8' },
  '/vendor/uPlot.iife.min.js': { path: join(UPLOT_DIR, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  '/vendor/uPlot.min.css': { path: join(UPLOT_DIR, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/** Only this server's own files and data: a page that reached for a CDN would fail here as it would offline. */
const CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** The view, built at most once per `ttlMs`; concurrent callers share one build. */
export function cachedView(build: () => Promise<ConsoleView>, ttlMs: number, now: () => number = Date.now): () => Promise<ConsoleView> {
  let last: { at: number; view: Promise<ConsoleView> } | null = null;
  return () => {
    if (last && now() - last.at < ttlMs) return last.view;
    const view = build();
    last = { at: now(), view };
    view.catch(() => {
      if (last?.view === view) last = null; // a failed build is not cached
    });
    return view;
  };
}

export async function createConsoleApp(o: ConsoleAppOptions): Promise<FastifyInstance> {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const [url, f] of Object.entries(FILES)) files.set(url, { body: await readFile(f.path), type: f.type });
  const view = cachedView(o.view, Math.max(100, o.refreshMs / 2));
  const streams = new Set<ServerResponse>();

  const app = createOpsServer({ logger: o.logger, metrics: o.metrics });
  for (const [url, f] of files) {
    app.get(url, async (_req, reply) =>
      reply.header('content-type', f.type).header('content-security-policy', CSP).header('cache-control', 'no-cache').send(f.body),
    );
  }
  app.get('/api/view', async (_req, reply) => reply.header('cache-control', 'no-store').send(await view()));
  app.get('/api/stream', (_req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(`retry: ${Math.max(1000, o.refreshMs)}\n\n`);
    streams.add(res);
    let sending = false;
    const send = async () => {
      if (sending) return;
      sending = true;
      try {
        res.write(`data: ${JSON.stringify(await view())}\n\n`);
      } catch (err) {
        o.logger.warn({ err }, 'console view failed');
        res.write(`event: problem\ndata: ${JSON.stringify({ message: (err as Error).message })}\n\n`);
      } finally {
        sending = false;
      }
    };
    void send();
    const timer = setInterval(() => void send(), o.refreshMs);
    res.on('close', () => {
      clearInterval(timer);
      streams.delete(res);
    });
  });
  // Open streams would keep close() waiting: end them first.
  app.addHook('preClose', async () => {
    for (const res of streams) res.end();
  });
  return app;
}
