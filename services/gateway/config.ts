/** The gateway's environment variables, validated once at start into a frozen object. */
import { EVENT_TYPES, env, KAFKA_ENV, loadConfig, SERVICE_ENV, type ConfigOf, type EventType, type Field } from '../common/index.js';

const MIN_KEY_LENGTH = 16;

/**
 * What a browser reports: every event type but `recommendation`. A recommendation event carries the
 * propensities and model version training and evaluation trust, so only a key scoped for it may send one.
 */
export const BEHAVIOUR_EVENT_TYPES: readonly EventType[] = Object.freeze(EVENT_TYPES.filter((t) => t !== 'recommendation'));
/** Names a scope may use besides single event types. */
const SCOPE_GROUPS: Readonly<Record<string, readonly EventType[]>> = { behaviour: BEHAVIOUR_EVENT_TYPES };

/** One producer: its name (in logs, answers and dead letters), the event types its key may send, its key. */
export interface ProducerKey {
  readonly name: string;
  readonly eventTypes: ReadonlySet<EventType>;
  /** Not enumerable: logging, JSON or inspecting the config leaves it out. */
  readonly key: string;
}

export function producerKey(name: string, key: string, eventTypes: Iterable<EventType> = BEHAVIOUR_EVENT_TYPES): ProducerKey {
  const producer: ProducerKey = { name, eventTypes: new Set(eventTypes), key };
  Object.defineProperty(producer, 'key', { enumerable: false });
  return Object.freeze(producer);
}

const KEYS_EXPECT = `comma-separated name=key or name[types]=key entries; types: event types or 'behaviour', joined by '+'; `
  + `a key without [types] may send only behaviour events (${BEHAVIOUR_EVENT_TYPES.join(', ')}); `
  + `keys of at least ${MIN_KEY_LENGTH} characters, each key and each name once`;

/**
 * GATEWAY_API_KEYS: one entry per producer, `web=KEY` (behaviour events only) or
 * `server[recommendation+behaviour]=KEY`. Errors name an entry by its position (and its producer only when
 * the entry is well formed), never a key: loadConfig puts the message in an error that may be logged.
 */
export function parseProducerKeys(raw: string): ProducerKey[] {
  const entries = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (entries.length === 0) throw new Error(`no entry; expected ${KEYS_EXPECT}`);
  const producers: ProducerKey[] = [];
  const firstWithName = new Map<string, number>();
  const firstWithKey = new Map<string, number>();
  for (const [i, entry] of entries.entries()) {
    const at = `entry ${i + 1}`;
    const eq = entry.indexOf('=');
    if (eq < 0) throw new Error(`${at} has no '=': expected name=key or name[types]=key`);
    const head = /^([^[\]=]+)(?:\[([^[\]]*)\])?$/.exec(entry.slice(0, eq).trim());
    if (head === null) throw new Error(`${at}: the part before '=' must be a name or name[types]`);
    const key = entry.slice(eq + 1).trim();
    if (key.length < MIN_KEY_LENGTH) throw new Error(`${at}: the key is too short (at least ${MIN_KEY_LENGTH} characters)`);
    const name = head[1]!.trim();
    const eventTypes = head[2] === undefined ? BEHAVIOUR_EVENT_TYPES : parseScope(head[2], `${at} (producer '${name}')`);
    const sameName = firstWithName.get(name);
    if (sameName !== undefined) throw new Error(`entries ${sameName} and ${i + 1} have the same producer name`);
    const sameKey = firstWithKey.get(key);
    if (sameKey !== undefined) throw new Error(`entries ${sameKey} and ${i + 1} share a key`);
    firstWithName.set(name, i + 1);
    firstWithKey.set(key, i + 1);
    producers.push(producerKey(name, key, eventTypes));
  }
  return producers;
}

function parseScope(text: string, where: string): EventType[] {
  const names = text.split('+').map((s) => s.trim());
  if (names.some((n) => n === '')) throw new Error(`${where}: empty scope or empty name in [${text}]; name event types joined by '+', or leave out [..] for behaviour events`);
  const types = new Set<EventType>();
  for (const n of names) {
    const group = SCOPE_GROUPS[n];
    if (group !== undefined) for (const t of group) types.add(t);
    else if ((EVENT_TYPES as readonly string[]).includes(n)) types.add(n as EventType);
    else {
      throw new Error(`${where}: unknown event type '${n}' in its scope (expected ${EVENT_TYPES.join(', ')} or ${Object.keys(SCOPE_GROUPS).join(', ')})`);
    }
  }
  return EVENT_TYPES.filter((t) => types.has(t));
}

function apiKeys(): Field<readonly ProducerKey[]> {
  return {
    expects: KEYS_EXPECT,
    defaultValue: undefined,
    parse: (raw) => Object.freeze(parseProducerKeys(raw)),
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
