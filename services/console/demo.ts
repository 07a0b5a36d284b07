/**
 * `npm run demo -- --console`: the console beside the embedded demo, in the demo's process. Serves the page
 * and returns its URL, the `observe` hook to hand runEmbedded (demo-tap.ts), and how to stop it.
 */
import { createLogger, createMetricsRegistry } from '../common/index.js';
import { createConsoleApp } from './app.js';
import { DemoTap } from './demo-tap.js';

export interface DemoConsole {
  url: string;
  tap: DemoTap;
  observe: DemoTap['observe'];
  close(): Promise<void>;
}

export async function startDemoConsole(o: { host: string; port: number; model: string; refreshMs?: number }): Promise<DemoConsole> {
  const tap = new DemoTap(o.model);
  try {
    const app = await createConsoleApp({
      view: () => tap.view(),
      refreshMs: o.refreshMs ?? 1000,
      logger: createLogger('console', 'warn'),
      metrics: createMetricsRegistry('console'),
    });
    await app.listen({ host: o.host, port: o.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : o.port;
    const host = o.host.includes(':') ? `[${o.host}]` : o.host;
    return {
      url: `http://${host}:${port}/`,
      tap,
      observe: tap.observe,
      async close() {
        await app.close();
        tap.stop();
      },
    };
  } catch (err) {
    tap.stop();
    throw err;
  }
}
