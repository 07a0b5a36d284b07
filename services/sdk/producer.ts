/**
 * The event producer a Node frontend (and the gateway) uses: events are checked and Avro-encoded when
 * handed over, held in a bounded buffer (batcher.ts), and written in batches by Kafka's idempotent
 * producer to the `events` topic, keyed by user id. `send` resolves only when Kafka acknowledged the
 * event (acks = all).
 */
import type { Kafka, Producer } from 'kafkajs';
import {
  AvroSerde, createKafka, createLogger, createProducer, createSchemaRegistry, DeepChainError, eventToRecord, topicNames,
  type Logger, type UserEvent,
} from '../common/index.js';
import { Batcher, type OnFull } from './batcher.js';

export interface EventProducerOptions {
  /** A Kafka client to make the producer from; or `brokers` to make one. */
  kafka?: Kafka;
  brokers?: readonly string[];
  clientId?: string;
  schemaRegistryUrl: string;
  /** Prefix of the product's topic names (topics.ts); '' in production. */
  topicPrefix?: string;
  /** Most events held at once, waiting for a batch or waiting for Kafka's acknowledgement. Default 10,000. */
  maxBufferedEvents?: number;
  /** Most events in one produce request. Default 500. */
  batchSize?: number;
  /** Longest an event waits for companions before a smaller batch goes. Default 5 ms. */
  lingerMs?: number;
  /** What `send` does when the buffer is full (batcher.ts). Default 'block'. */
  onFull?: OnFull;
  /** With onFull 'block': longest `send` waits for room before BUFFER_FULL. Default 5,000 ms. */
  blockTimeoutMs?: number;
  /**
   * Longest `send` waits in all (connecting, room, acknowledgement) before it fails with KAFKA_UNAVAILABLE
   * (retriable). The batch may still be written later: retry with the same event ids, so the duplicates
   * are dropped downstream (the sessionizer de-duplicates by eventId). Default 30,000 ms.
   */
  ackTimeoutMs?: number;
  logger?: Logger;
}

export interface EventProducer {
  /** Connects and registers the event schema; `send` calls it when needed. */
  connect(): Promise<void>;
  /** Resolves when Kafka acknowledged the event. */
  send(event: UserEvent): Promise<void>;
  /** Resolves when Kafka acknowledged every event; the events are admitted to the buffer together. */
  sendAll(events: readonly UserEvent[]): Promise<void>;
  /** Sends what is buffered without lingering; resolves when everything sent before it is settled. */
  flush(): Promise<void>;
  /** Refuses new events, flushes everything held, then disconnects. */
  close(): Promise<void>;
  /** Events held now (waiting or in flight). */
  readonly buffered: number;
  readonly connected: boolean;
}

interface Encoded {
  key: string;
  value: Buffer;
}

const MAX_ID_LENGTH = 256;

/** The checks the schema cannot express; the gateway applies stricter ones to browser input. */
function checkIds(event: UserEvent): void {
  for (const field of ['eventId', 'userId', 'sessionId'] as const) {
    const value = event[field];
    if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH) {
      throw new DeepChainError('SCHEMA_INVALID', `event ${event.eventId}: ${field} must be a non-empty string of at most ${MAX_ID_LENGTH} characters`);
    }
  }
}

export function createEventProducer(options: EventProducerOptions): EventProducer {
  const logger = options.logger ?? createLogger('deepchain-sdk', 'warn');
  if (!options.kafka && !options.brokers?.length) throw new RangeError('createEventProducer: give `kafka` or `brokers`');
  const kafka = options.kafka ?? createKafka({ brokers: options.brokers!, clientId: options.clientId ?? 'deepchain-sdk', logger });
  const topic = topicNames(options.topicPrefix ?? '').events;
  const serde = new AvroSerde(createSchemaRegistry(options.schemaRegistryUrl), topicNames(options.topicPrefix ?? ''));
  const producer: Producer = createProducer(kafka);
  const ackTimeoutMs = options.ackTimeoutMs ?? 30_000;
  let connected = false;
  let connecting: Promise<void> | undefined;
  producer.on(producer.events.CONNECT, () => { connected = true; });
  producer.on(producer.events.DISCONNECT, () => { connected = false; });

  const batcher = new Batcher<Encoded>({
    capacity: options.maxBufferedEvents ?? 10_000,
    batchSize: options.batchSize ?? 500,
    lingerMs: options.lingerMs ?? 5,
    maxInFlight: 1, // kafkajs' idempotent producer keeps sequence numbers right with one request in flight
    onFull: options.onFull ?? 'block',
    blockTimeoutMs: options.blockTimeoutMs ?? 5_000,
    sink: async (messages) => {
      try {
        await producer.send({ topic, acks: -1, messages });
      } catch (err) {
        throw new DeepChainError('KAFKA_UNAVAILABLE', `producing ${messages.length} events to ${topic}: ${(err as Error).message}`, { cause: err });
      }
    },
  });

  function connect(): Promise<void> {
    connecting ??= (async () => {
      await serde.registerAll(['events']);
      try {
        await producer.connect();
      } catch (err) {
        throw new DeepChainError('KAFKA_UNAVAILABLE', `connecting: ${(err as Error).message}`, { cause: err });
      }
    })().catch((err: unknown) => {
      connecting = undefined; // the next call tries again
      throw err;
    });
    return connecting;
  }

  async function encodeAndAdmit(events: readonly UserEvent[]): Promise<void> {
    if (!connected) await connect();
    for (const event of events) checkIds(event);
    const encoded = await Promise.all(
      events.map(async (event) => ({ key: event.userId, value: await serde.encode('events', eventToRecord(event)) })),
    );
    await batcher.add(encoded);
  }

  function withDeadline(work: Promise<void>, count: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeepChainError(
        'KAFKA_UNAVAILABLE',
        `${count} events not acknowledged within ${ackTimeoutMs} ms; they may still be written, retry with the same event ids`,
      )), ackTimeoutMs);
    });
    work.catch(() => undefined); // when the deadline wins, the late outcome is not an unhandled rejection
    return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
  }

  return {
    connect,
    send: (event) => withDeadline(encodeAndAdmit([event]), 1),
    sendAll: (events) => (events.length === 0 ? Promise.resolve() : withDeadline(encodeAndAdmit(events), events.length)),
    flush: () => batcher.flush(),
    async close() {
      await batcher.close();
      await producer.disconnect().catch((err: unknown) => logger.warn({ err }, 'disconnecting the producer failed'));
    },
    get buffered() {
      return batcher.size;
    },
    get connected() {
      return connected;
    },
  };
}
