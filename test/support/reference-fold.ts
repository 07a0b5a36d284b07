/**
 * The chaos commands' reference: what the pure fold (services/sessionizer/fold.ts) makes of the events as a
 * topic holds them, partition by partition in offset order, every session flushed at the end. The real
 * sessionizer processes must have written exactly these transitions.
 */
import type { KafkaMessage } from 'kafkajs';
import type { Transition, UserEvent } from '../../services/common/index.js';
import { flush, step } from '../../services/sessionizer/fold.js';
import type { SessionizerSettings, UserState } from '../../services/sessionizer/state.js';
import type { WireCodec } from '../../services/sessionizer/wire.js';

/** The fold's transitions, and the ids of the events it dead-letters itself; undecodable records are skipped. */
export function referenceFold(
  partitions: readonly KafkaMessage[][], wire: WireCodec, settings: SessionizerSettings,
): { transitions: Transition[]; rejectedByFold: Set<string> } {
  const transitions: Transition[] = [];
  const rejectedByFold = new Set<string>();
  for (const messages of partitions) {
    const states = new Map<string, UserState>();
    let clock = Number.MIN_SAFE_INTEGER;
    for (const m of messages) {
      let e: UserEvent;
      try {
        e = wire.decodeEvent(m.value);
      } catch {
        continue;
      }
      clock = Math.max(clock, e.eventTime);
      const r = step(states.get(e.userId), e, clock, settings, m.offset);
      states.set(e.userId, r.state);
      transitions.push(...r.transitions);
      for (const d of r.deadLetters) rejectedByFold.add(d.event.eventId);
    }
    for (const s of states.values()) {
      const r = flush(s, Number.MAX_SAFE_INTEGER, settings);
      transitions.push(...r.transitions);
      for (const d of r.deadLetters) rejectedByFold.add(d.event.eventId);
    }
  }
  return { transitions, rejectedByFold };
}

/**
 * The services' transitions against the reference, keyed by (user, session, step): `lost` (in the reference,
 * not written), `duplicated` (written more than once), `mismatched` (written otherwise, or written with no
 * reference at all). `note` hears about the first three of each kind.
 */
export function compareWithReference(
  expected: readonly Transition[], got: readonly Transition[], note: (what: string, details: object) => void = () => undefined,
): { lost: number; duplicated: number; mismatched: number } {
  const key = (t: Transition) => `${t.userId}/${t.sessionId}/${t.step}`;
  const want = new Map(expected.map((t) => [key(t), t]));
  const seen = new Map<string, Transition[]>();
  for (const t of got) seen.set(key(t), [...(seen.get(key(t)) ?? []), t]);
  let lost = 0;
  let duplicated = 0;
  let mismatched = 0;
  for (const [k, t] of want) {
    const s = seen.get(k);
    if (!s) { if (++lost <= 3) note('lost', { want: t }); continue; }
    duplicated += s.length - 1;
    if (JSON.stringify(s[0]) !== JSON.stringify(t) && ++mismatched <= 3) note('mismatch', { want: t, got: s[0] });
  }
  let extra = 0;
  for (const [k, s] of seen) {
    if (want.has(k)) continue;
    mismatched += s.length;
    if (++extra <= 3) note('output the reference does not have', { got: s[0], copies: s.length });
  }
  return { lost, duplicated, mismatched };
}
