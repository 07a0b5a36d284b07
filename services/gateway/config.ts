/** The gateway's environment variables, validated once at start into a frozen object. */
import { env, KAFKA_ENV, loadConfig, SERVICE_ENV, type ConfigOf, type Field } from '../common/index.js';

const MIN_KEY_LENGTH = 16;

/** `name=key` pairs (GATEWAY_API_KEYS): one key per producer, each at least 16 characters, no key shared. */
function apiKeys(): Field<Readonly<Record<string, string>>> {
  const pairs = env.pairs();
  const expects = `${pairs.expects} (name=key, keys of at least ${MIN_KEY_LENGTH} characters, each key once)`;
  return {
    expects,
    defaultValue: undefined,
    parse(raw) {
      const keys = pairs.parse(raw);
      const values = Object.values(keys);
      // The message names no key: loadConfig puts it in an error that may be logged.
      if (values.length === 0) throw new Error(`expected ${expects}`);
      if (values.some((k) => k.length < MIN_KEY_LENGTH)) throw new Error(`expected ${expects}: a key is too short`);
      if (new Set(values).size !== values.length) throw new Error(`expected ${expects}: two producers share a key`);
      return Object.freeze(keys);
    },
  };
}

export const GATEWAY_ENV = {
  ...KAFKA_ENV,
  ...SERVICE_ENV,
  HTTP_PORT: env.int({ min: 0, max: 65535, default: 8080 }),
  GATEWAY_API_KEYS: apiKeys(),
  /** Largest request body; a dead letter carries a malformed body whole, so it stays under Kafka's 1 MB. */
  GATEWAY_BODY_LIMIT_BYTES: env.int({ min: 1024, max: 900_000, default: 256 * 1024 }),
  GATEWAY_MAX_BATCH_EVENTS: env.int({ min: 1, max: 5_000, default: 500 }),
  /** Requests per producer key per window. */
  GATEWAY_RATE_LIMIT_MAX: env.int({ min: 1, default: 6_000 }),
  GATEWAY_RATE_LIMIT_WINDOW_MS: env.int({ min: 1, default: 60_000 }),
  /** How far event times may lie behind the gateway's clock (late events past this are refused). */
  GATEWAY_MAX_EVENT_AGE_MS: env.int({ min: 0, default: 24 * 60 * 60 * 1000 }),
  /** How far event times may lie ahead of the gateway's clock (browser clock skew). */
  GATEWAY_MAX_EVENT_FUTURE_MS: env.int({ min: 0, default: 5 * 60 * 1000 }),
  /** The producer's bounded buffer (SDK `maxBufferedEvents`); full → 503 with a retry hint. */
  GATEWAY_BUFFER_EVENTS: env.int({ min: 1, default: 20_000 }),
  GATEWAY_LINGER_MS: env.int({ min: 0, max: 1_000, default: 2 }),
  GATEWAY_KAFKA_BATCH_EVENTS: env.int({ min: 1, default: 1_000 }),
  /** Longest a request waits for room in the buffer before 503. */
  GATEWAY_BLOCK_TIMEOUT_MS: env.int({ min: 0, default: 1_000 }),
  /** Longest a request waits for Kafka's acknowledgement before 503. */
  GATEWAY_ACK_TIMEOUT_MS: env.int({ min: 1, default: 10_000 }),
};

export type GatewayConfig = ConfigOf<typeof GATEWAY_ENV>;

export function loadGatewayConfig(source?: NodeJS.ProcessEnv): GatewayConfig {
  return loadConfig(GATEWAY_ENV, source);
}
