/**
 * The catalogue of the product's errors: a closed set of codes, each marked retriable or not. Code that
 * retries (retry.ts) reads only that mark, never a message.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: { retriable: false, message: 'invalid configuration' },
  SCHEMA_INVALID: { retriable: false, message: 'record does not match its schema' },
  DECODE_FAILED: { retriable: false, message: 'record could not be decoded' },
  REGISTRY_UNAVAILABLE: { retriable: true, message: 'schema registry unavailable' },
  REGISTRY_INCOMPATIBLE: { retriable: false, message: 'schema change refused by the registry' },
  KAFKA_UNAVAILABLE: { retriable: true, message: 'Kafka unavailable' },
  DATABASE_UNAVAILABLE: { retriable: true, message: 'database unavailable' },
  MIGRATION_CHANGED: { retriable: false, message: 'an applied migration was edited' },
  WEIGHTS_INVALID: { retriable: false, message: 'model weights rejected' },
  BUFFER_FULL: { retriable: true, message: 'producer buffer full' },
  PRODUCER_CLOSED: { retriable: false, message: 'producer closed' },
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

export class DeepChainError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  constructor(code: ErrorCode, detail: string, options?: { cause?: unknown }) {
    super(`${ERROR_CODES[code].message}: ${detail}`, options);
    this.name = 'DeepChainError';
    this.code = code;
    this.retriable = ERROR_CODES[code].retriable;
  }
}

export function isRetriable(err: unknown): boolean {
  return err instanceof DeepChainError && err.retriable;
}
