/**
 * Records the gateway refuses go to the dead-letter topic (schemas/dead-letter.avsc) with the reason and
 * the original bytes, so none disappears without a trace. The app sees only the DeadLetterSink interface.
 */
import type { Kafka, Producer } from 'kafkajs';
import {
  AvroSerde, createProducer, createSchemaRegistry, DeepChainError, topicNames, type DeadLetterRecord, type Logger,
} from '../common/index.js';

export const DEAD_LETTER_SOURCE = 'gateway';

export interface DeadLetter {
  /** Why, naming the producer and the record's index in its batch. */
  reason: string;
  /** The record's user id, when it had one. */
  key: Buffer | null;
  /** The record's JSON text, or the whole body when it was not JSON. */
  value: Buffer | null;
}

export interface DeadLetterSink {
  /** Resolves when Kafka acknowledged every letter. */
  write(letters: readonly DeadLetter[]): Promise<void>;
}

/** The Avro record for a letter (the common format; a request body has no source topic, partition or offset). */
export function deadLetterRecord(letter: DeadLetter, at: number): DeadLetterRecord {
  return {
    reason: letter.reason,
    source: DEAD_LETTER_SOURCE,
    sourceTopic: null,
    sourcePartition: null,
    sourceOffset: null,
    key: letter.key,
    value: letter.value,
    at,
  };
}

export interface KafkaDeadLetterSink extends DeadLetterSink {
  connect(): Promise<void>;
  close(): Promise<void>;
}

export function createKafkaDeadLetterSink(options: {
  kafka: Kafka;
  schemaRegistryUrl: string;
  topicPrefix: string;
  ackTimeoutMs: number;
  logger: Logger;
}): KafkaDeadLetterSink {
  const topics = topicNames(options.topicPrefix);
  const serde = new AvroSerde(createSchemaRegistry(options.schemaRegistryUrl), topics);
  const producer: Producer = createProducer(options.kafka);
  let connecting: Promise<void> | undefined;

  function connect(): Promise<void> {
    connecting ??= (async () => {
      await serde.registerAll(['deadLetters']);
      try {
        await producer.connect();
      } catch (err) {
        throw new DeepChainError('KAFKA_UNAVAILABLE', `dead letters: connecting: ${(err as Error).message}`, { cause: err });
      }
    })().catch((err: unknown) => {
      connecting = undefined;
      throw err;
    });
    return connecting;
  }

  async function send(letters: readonly DeadLetter[]): Promise<void> {
    await connect();
    const at = Date.now();
    const messages = await Promise.all(letters.map(async (l) => ({
      key: l.key,
      value: await serde.encode('deadLetters', deadLetterRecord(l, at)),
    })));
    try {
      await producer.send({ topic: topics.deadLetters, acks: -1, messages });
    } catch (err) {
      throw new DeepChainError('KAFKA_UNAVAILABLE', `dead letters: ${(err as Error).message}`, { cause: err });
    }
  }

  return {
    connect,
    write(letters) {
      if (letters.length === 0) return Promise.resolve();
      let timer: NodeJS.Timeout | undefined;
      const work = send(letters);
      work.catch(() => undefined);
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DeepChainError(
          'KAFKA_UNAVAILABLE', `dead letters not acknowledged within ${options.ackTimeoutMs} ms`,
        )), options.ackTimeoutMs);
      });
      return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
    },
    async close() {
      await producer.disconnect().catch((err: unknown) => options.logger.warn({ err }, 'disconnecting the dead-letter producer failed'));
    },
  };
}

/** An in-memory sink for tests: keeps the letters, can be told to fail like an unavailable Kafka. */
export function createMemoryDeadLetterSink(): DeadLetterSink & { letters: DeadLetter[]; failWith(err: Error | undefined): void } {
  const letters: DeadLetter[] = [];
  let failure: Error | undefined;
  return {
    letters,
    failWith: (err) => { failure = err; },
    async write(batch) {
      if (failure) throw failure;
      letters.push(...batch);
    },
  };
}
