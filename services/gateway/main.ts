/** The gateway process: configuration, clients, HTTP server, graceful shutdown. Nothing imports this. */
import { createLogger, DeepChainError } from '../common/index.js';
import { loadGatewayConfig } from './config.js';
import { createGateway } from './server.js';

let config;
try {
  config = loadGatewayConfig();
} catch (err) {
  console.error(`gateway: ${err instanceof DeepChainError ? err.message : String(err)}`);
  process.exit(1);
}
const logger = createLogger('gateway', config.LOG_LEVEL);
const gateway = await createGateway(config, logger);
const address = await gateway.app.listen({ host: config.HTTP_HOST, port: config.HTTP_PORT });
const { port } = gateway.app.server.address() as { port: number };
logger.info({ address, port, producers: Object.keys(config.GATEWAY_API_KEYS) }, 'gateway listening');

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
