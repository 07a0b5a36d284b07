/**
 * The one format of the dead-letters topic (schemas/dead-letter.avsc, DESIGN.md §3): what every service
 * writes for a record it could not decode, validate or join — the reason, the service, where the record
 * came from (topic, partition, offset) and its original key and bytes. Nothing is dropped silently.
 */

/** A dead-letters value, field for field schemas/dead-letter.avsc. */
export interface DeadLetterRecord {
  reason: string;
  /** The service that rejected it. */
  source: string;
  sourceTopic: string | null;
  sourcePartition: number | null;
  sourceOffset: string | null;
  key: Buffer | null;
  /** The original bytes, as received. */
  value: Buffer | null;
  at: number;
}

/** Where a record read from Kafka came from, with its key and bytes as read. */
export interface DeadLetterSource {
  topic: string;
  partition: number;
  /** Null when the record is not the one in hand (an event buffered earlier, re-encoded). */
  offset: string | null;
  key: Buffer | string | null | undefined;
  value: Buffer | string | null | undefined;
}

/** The dead letter of a record `service` read from Kafka and could not use, for `reason`. */
export function deadLetterOf(service: string, reason: string, from: DeadLetterSource, at: number): DeadLetterRecord {
  return {
    reason,
    source: service,
    sourceTopic: from.topic,
    sourcePartition: from.partition,
    sourceOffset: from.offset,
    key: from.key === null || from.key === undefined ? null : Buffer.from(from.key),
    value: from.value === null || from.value === undefined ? null : Buffer.from(from.value),
    at,
  };
}
