/**
 * The sessionizer's hot-path Avro codec: the Confluent wire format (magic byte 0, schema id, Avro body)
 * encoded and decoded synchronously with avsc Types, so a batch of thousands of records costs no
 * per-record registry call or await. Schemas are registered once at start (registerValueSchema from the
 * shared library: `<topic>-value`, BACKWARD) and records are written with the current ones. Every record is
 * read with the writer schema its id names — fetched once per id (`prepare`) and resolved into the reader
 * schema from schemas/ — so stored events and changelog records written by older versions still decode.
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

/**
 * The bytes each decoded event came from, on the event itself under a symbol, not enumerable (so spreads,
 * JSON and deep equality do not see it, and an event made from it by spreading does not claim its bytes):
 * re-encoding a buffered event for the changelog reuses them. (It was a WeakMap: an ephemeron entry per
 * decoded event costs the garbage collector more than a property does; see the README's sessionizer notes.)
 */
const RAW = Symbol('deepchain.wire.raw');
type WithRaw = UserEvent & { [RAW]?: Buffer };

/**
 * Where records are encoded: header and body written once into a scratch buffer that grows as needed, then
 * copied out once. (avsc's `toBuffer` writes into a fixed 1 KiB buffer and, for a larger value such as a
 * user's state, writes it a second time into a zero-filled one; framing then copied it again.)
 */
let scratch = Buffer.allocUnsafe(64 * 1024);

function frame(id: number, type: avro.Type, value: unknown): Buffer {
  for (;;) {
    scratch[0] = 0;
    scratch.writeInt32BE(id, 1);
    const end = type.encode(value, scratch, HEADER);
    if (end >= 0) {
      const out = Buffer.allocUnsafe(end);
      scratch.copy(out, 0, 0, end);
      return out;
    }
    scratch = Buffer.allocUnsafe(Math.max(2 * scratch.length, scratch.length - end));
  }
}

/** How records written with one schema id are read into a topic's reader type (no resolver: the reader's own), or why not. */
type Reading = { ok: true; resolver: avro.Resolver | null } | { ok: false; reason: string };
const SAME: Reading = { ok: true, resolver: null };

export class WireCodec {
  private readonly types = new Map<TopicKey, avro.Type>();
  private readonly ids = new Map<TopicKey, number>();
  /** Writer schema id → its schema as the registry holds it; null for an id the registry does not know. */
  private readonly writers = new Map<number, avro.Type | null>();
  /** Per topic, writer schema id → how its records are read (built on first use from `writers`). */
  private readonly readings = new Map<TopicKey, Map<number, Reading>>();

  constructor(
    private readonly registry: SchemaRegistry,
    private readonly topics: TopicNames,
  ) {
    for (const [key, file] of Object.entries(SCHEMA_FILE) as [TopicKey, string][]) {
      this.types.set(key, avro.Type.forSchema(JSON.parse(readSchema(file))));
      this.readings.set(key, new Map());
    }
  }

  /** Registers the schemas of the topics the sessionizer reads and writes; the registry's reason on refusal. */
  async register(): Promise<void> {
    for (const [key, file] of Object.entries(SCHEMA_FILE) as [TopicKey, string][]) {
      const id = await registerValueSchema(this.registry, this.topics[key], readSchema(file));
      this.ids.set(key, id);
      this.writers.set(id, this.types.get(key)!);
      this.readings.get(key)!.set(id, SAME);
    }
  }

  schemaId(key: TopicKey): number {
    const id = this.ids.get(key);
    if (id === undefined) throw new Error(`no schema registered for topic '${key}': call register first`);
    return id;
  }

  encode(key: TopicKey, value: unknown): Buffer {
    return frame(this.schemaId(key), this.types.get(key)!, value);
  }

  /**
   * Decodes a record of `key`'s topic written with any schema whose id was prepared (the current ones are);
   * throws DECODE_FAILED naming the topic and the id otherwise.
   */
  decode<T>(key: TopicKey, buffer: Buffer): T {
    const topic = this.topics[key];
    if (buffer.length < HEADER || buffer[0] !== 0) throw new DeepChainError('DECODE_FAILED', `${topic}: not in the Confluent wire format (magic byte 0)`);
    const id = buffer.readInt32BE(1);
    const reading = this.reading(key, id);
    if (!reading.ok) throw new DeepChainError('DECODE_FAILED', `${topic}: schema id ${id} ${reading.reason}`);
    try {
      return this.read(key, reading.resolver, buffer) as T;
    } catch (err) {
      throw new DeepChainError('DECODE_FAILED', `${topic}: schema id ${id}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Fetches the writer schemas of these wire-format values that are not known yet (once per id). An id the
   * registry does not have is remembered as unknown (its records fail to decode, and events are
   * dead-lettered); a registry that does not answer throws a retriable error. `values` is iterated again
   * after each fetch, so an iterable whose payloads depend on what is known (a changelog record and the
   * events inside it, changelog-codec.ts) is prepared in one call.
   */
  async prepare(values: Iterable<Buffer | null>): Promise<void> {
    for (;;) {
      const missing = new Set<number>();
      for (const v of values) {
        if (v && v.length >= HEADER && v[0] === 0) {
          const id = v.readInt32BE(1);
          if (!this.writers.has(id)) missing.add(id);
        }
      }
      if (missing.size === 0) return;
      for (const id of missing) await this.fetchWriter(id);
    }
  }

  private async fetchWriter(id: number): Promise<void> {
    try {
      this.writers.set(id, (await this.registry.getSchema(id)) as unknown as avro.Type);
    } catch (err) {
      // Only the registry's 404 means it does not know the id; a registry that cannot be reached (the client
      // says 400) or that fails (5xx), or a schema the client cannot load, is retried.
      if ((err as { status?: number }).status !== 404) {
        throw new DeepChainError('REGISTRY_UNAVAILABLE', `schema id ${id}: ${(err as Error).message}`, { cause: err });
      }
      this.writers.set(id, null);
    }
  }

  /** How `key`'s reader reads records written with schema `id`, or why it cannot. */
  private reading(key: TopicKey, id: number): Reading {
    const byId = this.readings.get(key)!;
    const known = byId.get(id);
    if (known !== undefined) return known;
    const writer = this.writers.get(id);
    if (writer === undefined) return { ok: false, reason: 'has not been fetched from the registry (prepare first)' };
    let reading: Reading;
    if (writer === null) {
      reading = { ok: false, reason: 'is not a schema the registry knows' };
    } else {
      try {
        reading = { ok: true, resolver: this.types.get(key)!.createResolver(writer) };
      } catch (err) {
        reading = { ok: false, reason: `cannot be read as ${this.topics[key]}: ${(err as Error).message}` };
      }
    }
    byId.set(id, reading);
    return reading;
  }

  /** The body after the header, read in place (no subarray per record); as `fromBuffer`, all of it or an error. */
  private read(key: TopicKey, resolver: avro.Resolver | null, buffer: Buffer): unknown {
    const type = this.types.get(key)!;
    const { value, offset } = resolver === null ? type.decode(buffer, HEADER) : type.decode(buffer, HEADER, resolver);
    if (offset < 0) throw new Error('truncated buffer');
    if (offset < buffer.length) throw new Error('trailing data');
    return value;
  }

  encodeTransition(t: Transition): Buffer {
    return this.encode('transitions', t);
  }

  /** An event in the events topic's wire format: its original bytes when it was decoded here. */
  encodeEvent(e: UserEvent): Buffer {
    return (e as WithRaw)[RAW] ?? this.encode('events', eventToRecord(e));
  }

  encodeDeadLetter(d: DeadLetterRecord): Buffer {
    return this.encode('deadLetters', d);
  }

  /** Decodes an event record (after `prepare`); throws DECODE_FAILED with the reason. */
  decodeEvent(buffer: Buffer | null): UserEvent {
    if (!buffer) throw new DeepChainError('DECODE_FAILED', 'record has no value');
    if (buffer.length < HEADER || buffer[0] !== 0) throw new DeepChainError('DECODE_FAILED', 'not in the Confluent wire format (magic byte 0)');
    const id = buffer.readInt32BE(1);
    const reading = this.reading('events', id);
    if (!reading.ok) {
      const reason = this.writers.get(id) ? reading.reason : 'is not an event schema the registry knows';
      throw new DeepChainError('DECODE_FAILED', `schema id ${id} ${reason}`);
    }
    let record: EventRecord;
    try {
      record = this.read('events', reading.resolver, buffer) as EventRecord;
    } catch (err) {
      throw new DeepChainError('DECODE_FAILED', `schema id ${id}: ${(err as Error).message}`, { cause: err });
    }
    try {
      const event = eventFromRecord(record);
      Object.defineProperty(event, RAW, { value: buffer });
      return event;
    } catch (err) {
      throw new DeepChainError('DECODE_FAILED', (err as Error).message, { cause: err });
    }
  }
}
