/**
 * What the learner makes of the records it reads from the transitions topic, free of Kafka (DESIGN.md §3,
 * §7): each record is used, or — undecodable, or a transition this model cannot use — dead-lettered with
 * its reason and its source topic, partition and offset, in the format every service writes
 * (common/dead-letters.ts), and counted. None is only counted.
 *
 * A refill after a restart re-reads records below the checkpoint's offsets. The loop writes a batch's dead
 * letters before its offsets move past them, so those records were dead-lettered before that checkpoint:
 * they are counted again but not dead-lettered twice, and refilled transitions are judged by the trainer
 * itself (`ingest`).
 */
import { deadLetterOf, type DeadLetterRecord, type Transition } from '../common/index.js';

export const DEAD_LETTER_SOURCE = 'learner';

export interface ReadRecord {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** The decoded transition, or why the record could not be decoded. */
  decoded: { transition: Transition } | { error: string };
  /** Below the checkpoint's offset of its partition: read again to refill the replay buffer. */
  refill: boolean;
}

export interface Intake {
  /** New transitions the trainer can use, in offset order. */
  fresh: Transition[];
  refill: Transition[];
  letters: DeadLetterRecord[];
  undecodable: number;
  rejected: number;
}

/**
 * Sorts one partition's records: `rejectionOf` is the trainer's judgement (null: usable, else the reason).
 * `at` dates the letters.
 */
export function triage(
  source: { topic: string; partition: number },
  records: readonly ReadRecord[],
  rejectionOf: (t: Transition) => string | null,
  at: number,
): Intake {
  const out: Intake = { fresh: [], refill: [], letters: [], undecodable: 0, rejected: 0 };
  for (const r of records) {
    let reason: string | null;
    if ('error' in r.decoded) {
      out.undecodable++;
      reason = `transition could not be decoded: ${r.decoded.error}`;
    } else if (r.refill) {
      out.refill.push(r.decoded.transition);
      continue;
    } else {
      const why = rejectionOf(r.decoded.transition);
      if (why === null) {
        out.fresh.push(r.decoded.transition);
        continue;
      }
      out.rejected++;
      reason = `transition rejected: ${why}`;
    }
    if (!r.refill) {
      out.letters.push(deadLetterOf(DEAD_LETTER_SOURCE, reason, { ...source, offset: r.offset, key: r.key, value: r.value }, at));
    }
  }
  return out;
}
