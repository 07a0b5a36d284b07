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
import { BEHAVIOURS, deadLetterOf, SCENARIOS, type DeadLetterRecord, type Transition } from '../common/index.js';

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
 * Null when a decoded record has the fields of a transition (schemas/transition.avsc) with their types, else
 * what is wrong. Records are decoded with their writer's schema, so a record written with another schema the
 * registry holds (an event, an unrelated record) decodes too: this tells it apart before anything reads it.
 */
export function notATransition(record: unknown): string | null {
  if (typeof record !== 'object' || record === null) return 'not a transition record (written with another schema?): not a record';
  const r = record as Record<string, unknown>;
  const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
  const problems = [
    typeof r.userId !== 'string' && 'userId',
    typeof r.sessionId !== 'string' && 'sessionId',
    !(SCENARIOS as readonly unknown[]).includes(r.scenario) && 'scenario',
    !strings(r.state) && 'state',
    typeof r.action !== 'string' && 'action',
    !(BEHAVIOURS as readonly unknown[]).includes(r.behaviour) && 'behaviour',
    typeof r.reward !== 'number' && 'reward',
    !strings(r.nextState) && 'nextState',
    typeof r.terminal !== 'boolean' && 'terminal',
  ].filter((p): p is string => p !== false);
  if (problems.length === 0) return null;
  return `not a transition record (written with another schema?): ${problems.join(', ')} missing or of the wrong type`;
}

/**
 * Null when `t`'s states fit this learner's history length N (HISTORY_LENGTH, common/infra-config.ts), else the
 * reason: the sessionizer keeps the last N items in every state, so a longer one was built with a larger N —
 * another HISTORY_LENGTH on the sessionizer — and would be cut to this learner's N without a word.
 */
export function historyLengthMismatch(historyLength: number, t: Pick<Transition, 'state' | 'nextState'>): string | null {
  const longest = Math.max(t.state.length, t.nextState.length);
  if (longest <= historyLength) return null;
  const which = t.state.length >= t.nextState.length ? 'state' : 'nextState';
  return `its ${which} holds ${longest} items, more than the learner's history length ${historyLength}: it was built with a history length ` +
    `of at least ${longest}; set the same HISTORY_LENGTH on the sessionizer and the learner`;
}

/**
 * Sorts one partition's records: `rejectionOf` is the trainer's judgement (null: usable, else the reason).
 * `at` dates the letters. With `historyLength` (the learner's N), a transition whose states hold more items
 * is rejected too (historyLengthMismatch).
 */
export function triage(
  source: { topic: string; partition: number },
  records: readonly ReadRecord[],
  rejectionOf: (t: Transition) => string | null,
  at: number,
  historyLength?: number,
): Intake {
  const out: Intake = { fresh: [], refill: [], letters: [], undecodable: 0, rejected: 0 };
  for (const r of records) {
    let reason: string | null;
    const notTransition = 'error' in r.decoded ? null : notATransition(r.decoded.transition);
    if ('error' in r.decoded || notTransition !== null) {
      out.undecodable++;
      reason = `transition could not be decoded: ${'error' in r.decoded ? r.decoded.error : notTransition}`;
    } else if (r.refill) {
      out.refill.push(r.decoded.transition);
      continue;
    } else {
      const t = r.decoded.transition;
      const why = (historyLength === undefined ? null : historyLengthMismatch(historyLength, t)) ?? rejectionOf(t);
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
