/** The gateway process: configuration, clients, HTTP server, graceful shutdown. Nothing imports this. */
import { createLogger, DeepChainError, scrubSecrets } from '../common/index.js';
import { loadGatewayConfig } from './config.js';
import { createGateway } from './server.js';

let config;
try {
  config = loadGatewayConfig();
} catch (err) {
  // Config errors name variables, never values; scrubbing is for anything else that gets here.
  console.error(`gateway: ${scrubSecrets(err instanceof DeepChainError ? err.message : String(err))}`);
  process.exit(1);
}
const logger = createLogger('gateway', config.LOG_LEVEL, { secrets: config.GATEWAY_API_KEYS.map((p) => p.key) });
const gateway = await createGateway(config, logger);
const address = await gateway.app.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
const { port } = gateway.app.server.address() as { port: number };
const producers = Object.fromEntries(config.GATEWAY_API_KEYS.map((p) => [p.name, [...p.eventTypes]]));
logger.info({ address, port, producers }, 'gateway listening');

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'gateway stopping: answering requests in flight, flushing the producer');
    gateway.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'gateway stopped with an error');
        process.exit(1);
      },
    );
  });
}
