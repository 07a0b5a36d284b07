/**
 * The sessionizer's hot-path Avro codec: the Confluent wire format (magic byte 0, schema id, Avro body)
 * encoded and decoded synchronously with avsc Types, so a batch of thousands of records costs no
 * per-record registry call or await. Schemas are registered once at start (registerValueSchema from the
 * shared library: `<topic>-value`, BACKWARD); writer schemas met in input records are fetched once per id
 * (`prepare`) and resolved into the reader schema from schemas/.
 */
import avro from 'avsc';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import {
  DeepChainError, eventFromRecord, eventToRecord, readSchema, registerValueSchema,
  type DeadLetterRecord, type EventRecord, type TopicKey, type TopicNames, type Transition, type UserEvent,
} from '../common/index.js';

/** Which schema file each topic the sessionizer writes uses; the changelog's schema is the sessionizer's own. */
const SCHEMA_FILE: Partial<Record<TopicKey, string>> = {
  events: 'event',
  transitions: 'transition',
  deadLetters: 'dead-letter',
  sessionizerState: 'sessionizer-state',
};

export type { DeadLetterRecord } from '../common/index.js';

const HEADER = 5;

function frame(id: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER + body.length);
  out[0] = 0;
  out.writeInt32BE(id, 1);
  body.copy(out, HEADER);
  return out;
}

export class WireCodec {
  private readonly types = new Map<TopicKey, avro.Type>();
  private readonly ids = new Map<TopicKey, number>();
  /** The bytes each decoded event came from: re-encoding a buffered event for the changelog reuses them. */
  private readonly rawEvents = new WeakMap<UserEvent, Buffer>();
  /** Writer schema id → resolver into the events reader type; null for ids that are not usable. */
  private readonly eventReaders = new Map<number, avro.Resolver | 'same' | null>();

  constructor(
    private readonly registry: SchemaRegistry,
    private readonly topics: TopicNames,
  ) {
    for (const [key, file] of Object.entries(SCHEMA_FILE) as [TopicKey, string][]) {
      this.types.set(key, avro.Type.forSchema(JSON.parse(readSchema(file))));
    }
  }

  /** Registers the schemas of the topics the sessionizer reads and writes; the registry's reason on refusal. */
  async register(): Promise<void> {
    for (const [key, file] of Object.entries(SCHEMA_FILE) as [TopicKey, string][]) {
      const id = await registerValueSchema(this.registry, this.topics[key], readSchema(file));
      this.ids.set(key, id);
      if (key === 'events') this.eventReaders.set(id, 'same');
    }
  }

  schemaId(key: TopicKey): number {
    const id = this.ids.get(key);
    if (id === undefined) throw new Error(`no schema registered for topic '${key}': call register first`);
    return id;
  }

  encode(key: TopicKey, value: unknown): Buffer {
    return frame(this.schemaId(key), this.types.get(key)!.toBuffer(value));
  }

  decode<T>(key: TopicKey, buffer: Buffer): T {
    if (buffer.length < HEADER || buffer[0] !== 0 || buffer.readInt32BE(1) !== this.schemaId(key)) {
      throw new DeepChainError('DECODE_FAILED', `${this.topics[key]}: not framed with schema id ${this.schemaId(key)}`);
    }
    return this.types.get(key)!.fromBuffer(buffer.subarray(HEADER)) as T;
  }

  encodeTransition(t: Transition): Buffer {
    return this.encode('transitions', t);
  }

  /** An event in the events topic's wire format: its original bytes when it was decoded here. */
  encodeEvent(e: UserEvent): Buffer {
    return this.rawEvents.get(e) ?? this.encode('events', eventToRecord(e));
  }

  encodeDeadLetter(d: DeadLetterRecord): Buffer {
    return this.encode('deadLetters', d);
  }

  /**
   * Fetches the writer schemas of these event records that are not known yet (once per id). A schema the
   * registry does not have is remembered as unusable (its records are dead-lettered); a registry that does
   * not answer throws a retriable error.
   */
  async prepare(values: Iterable<Buffer | null>): Promise<void> {
    const missing = new Set<number>();
    for (const v of values) {
      if (v && v.length >= HEADER && v[0] === 0) {
        const id = v.readInt32BE(1);
        if (!this.eventReaders.has(id)) missing.add(id);
      }
    }
    const reader = this.types.get('events')!;
    for (const id of missing) {
      try {
        const writer = (await this.registry.getSchema(id)) as unknown as avro.Type;
        this.eventReaders.set(id, reader.createResolver(writer));
      } catch (err) {
        const status = (err as { status?: number }).status;
        if (status === undefined || status >= 500) {
          throw new DeepChainError('REGISTRY_UNAVAILABLE', `schema id ${id}: ${(err as Error).message}`, { cause: err });
        }
        this.eventReaders.set(id, null);
      }
    }
  }

  /** Decodes an event record (after `prepare`); throws DECODE_FAILED with the reason. */
  decodeEvent(buffer: Buffer | null): UserEvent {
    if (!buffer) throw new DeepChainError('DECODE_FAILED', 'record has no value');
    if (buffer.length < HEADER || buffer[0] !== 0) throw new DeepChainError('DECODE_FAILED', 'not in the Confluent wire format (magic byte 0)');
    const id = buffer.readInt32BE(1);
    const resolver = this.eventReaders.get(id);
    if (resolver === undefined || resolver === null) {
      throw new DeepChainError('DECODE_FAILED', `schema id ${id} is not an event schema the registry knows`);
    }
    let record: EventRecord;
    try {
      const body = buffer.subarray(HEADER);
      record = (resolver === 'same' ? this.types.get('events')!.fromBuffer(body) : this.types.get('events')!.fromBuffer(body, resolver)) as EventRecord;
    } catch (err) {
      throw new DeepChainError('DECODE_FAILED', `schema id ${id}: ${(err as Error).message}`, { cause: err });
    }
    try {
      const event = eventFromRecord(record);
      this.rawEvents.set(event, buffer);
      return event;
    } catch (err) {
      throw new DeepChainError('DECODE_FAILED', (err as Error).message, { cause: err });
    }
  }
}
