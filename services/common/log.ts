import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs on stdout. Secrets never reach a log line: known secret fields are redacted. */
export function createLogger(service: string, level = 'info'): Logger {
  return pino({
    name: service,
    level,
    redact: { paths: ['apiKey', '*.apiKey', 'password', '*.password', 'headers.authorization', 'headers["x-api-key"]'], censor: '[redacted]' },
  });
}
