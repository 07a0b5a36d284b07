/**
 * Avro values in the Confluent wire format (magic byte, schema id, body), with schemas from schemas/
 * registered in a Confluent-API registry under `<topic>-value` with BACKWARD compatibility.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { DeepChainError } from './errors.js';
import type { TopicKey, TopicNames } from './topics.js';

const SCHEMA_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'schemas');

/** Which schema file each topic's values use. The sessionizer changelog is its own service's concern. */
export const VALUE_SCHEMA_OF: Partial<Record<TopicKey, string>> = {
  events: 'event',
  transitions: 'transition',
  models: 'model-announcement',
  deadLetters: 'dead-letter',
};

export function readSchema(name: string): string {
  return readFileSync(join(SCHEMA_DIR, `${name}.avsc`), 'utf8');
}

export function createSchemaRegistry(url: string): SchemaRegistry {
  // Apicurio and Confluent both answer under the given base URL; only a few retries, callers retry more.
  return new SchemaRegistry({ host: url, retry: { retries: 2 } });
}

/** Registers `schema` under `<topic>-value` (BACKWARD); the registry's reason comes back if it is refused. */
export async function registerValueSchema(registry: SchemaRegistry, topic: string, schema: string): Promise<number> {
  try {
    const { id } = await registry.register({ type: SchemaType.AVRO, schema }, { subject: `${topic}-value` });
    return id;
  } catch (err) {
    const message = (err as Error).message ?? String(err);
    const status = (err as { status?: number }).status;
    if (status === 409 || /compatib/i.test(message)) {
      throw new DeepChainError('REGISTRY_INCOMPATIBLE', `subject ${topic}-value: ${message}`, { cause: err });
    }
    throw new DeepChainError('REGISTRY_UNAVAILABLE', `subject ${topic}-value: ${message}`, { cause: err });
  }
}

/**
 * Whether an error of the registry client means the registry cannot be asked now (retry) rather than that
 * it answered "no such schema" (404). The client reports a registry it cannot reach as status 400 (connection
 * refused, reset, timed out), so only 404 is an answer about the schema: a registry being restarted must
 * never turn a valid record into a dead letter.
 */
export function registryUnavailable(err: unknown): boolean {
  const status = (err as { status?: number } | null)?.status;
  return status !== undefined && status !== 404;
}

/** Encoder and decoder for the product's topics, bound to the ids registered for them. */
export class AvroSerde {
  private readonly ids = new Map<string, number>();

  constructor(
    readonly registry: SchemaRegistry,
    private readonly topics: TopicNames,
  ) {}

  /** Registers the value schema of each topic (idempotent: the same schema gets the same id). */
  async registerAll(keys: readonly TopicKey[] = Object.keys(VALUE_SCHEMA_OF) as TopicKey[]): Promise<void> {
    for (const key of keys) {
      const file = VALUE_SCHEMA_OF[key];
      if (!file) throw new Error(`topic '${key}' has no value schema in VALUE_SCHEMA_OF`);
      this.ids.set(key, await registerValueSchema(this.registry, this.topics[key], readSchema(file)));
    }
  }

  schemaId(key: TopicKey): number {
    const id = this.ids.get(key);
    if (id === undefined) throw new Error(`no schema registered for topic '${key}': call registerAll first`);
    return id;
  }

  async encode(key: TopicKey, value: unknown): Promise<Buffer> {
    try {
      return await this.registry.encode(this.schemaId(key), value);
    } catch (err) {
      throw new DeepChainError('SCHEMA_INVALID', `${this.topics[key]}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Decodes with the writer's schema (looked up by id, cached), as the registry client does. */
  async decode<T>(buffer: Buffer): Promise<T> {
    try {
      return (await this.registry.decode(buffer)) as T;
    } catch (err) {
      if (registryUnavailable(err)) throw new DeepChainError('REGISTRY_UNAVAILABLE', (err as Error).message, { cause: err });
      throw new DeepChainError('DECODE_FAILED', (err as Error).message, { cause: err });
    }
  }
}
