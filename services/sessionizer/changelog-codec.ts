/**
 * The state store's changelog records (schemas/sessionizer-state.avsc) to and from runtime state: one
 * record per user (key: userId) and one per partition (key: POSITION_KEY) holding the next events offset
 * the stored state reflects and the partition's stream time.
 */
import { isScenario } from '../common/index.js';
import type { BufferedEvent, PendingList, UserState } from './state.js';
import type { WireCodec } from './wire.js';

/** A key no user id can have (user ids are non-empty strings without NUL in practice; NUL-prefixed here). */
export const POSITION_KEY = '\u0000partition';

export interface PartitionPosition {
  nextOffset: string;
  streamTime: number;
}

const USER = 'deepchain.sessionizer.UserState';
const POSITION = 'deepchain.sessionizer.PartitionPosition';

interface UserStateRecord extends Omit<UserState, 'buffer'> {
  buffer: { source: string | null; event: Buffer }[];
}
type Entry = { entry: { [USER]?: UserStateRecord; [POSITION]?: PartitionPosition } };

export function encodeUserState(wire: WireCodec, state: UserState): Buffer {
  const record: UserStateRecord = {
    ...state,
    buffer: state.buffer.map((b) => ({ source: b.source, event: wire.encodeEvent(b.event) })),
  };
  return wire.encode('sessionizerState', { entry: { [USER]: record } } satisfies Entry);
}

export function encodePosition(wire: WireCodec, position: PartitionPosition): Buffer {
  return wire.encode('sessionizerState', { entry: { [POSITION]: position } } satisfies Entry);
}

export type ChangelogValue = { kind: 'user'; state: UserState } | { kind: 'position'; position: PartitionPosition };

/**
 * Decodes a changelog value written with any changelog schema the registry knows; buffered events go through
 * the events decoder (call `wire.prepare(bufferedEventBytes(wire, value))` first for ids not met yet).
 */
export function decodeChangelog(wire: WireCodec, value: Buffer): ChangelogValue {
  const { entry } = wire.decode<Entry>('sessionizerState', value);
  if (entry[POSITION]) return { kind: 'position', position: { ...entry[POSITION], streamTime: Number(entry[POSITION].streamTime) } };
  const r = entry[USER]!;
  const buffer: BufferedEvent[] = r.buffer.map((b) => ({ source: b.source, event: wire.decodeEvent(b.event) }));
  const pending = r.session?.pending;
  if (pending && !isScenario(pending.scenario)) throw new Error(`changelog: unknown scenario '${pending.scenario}'`);
  return {
    kind: 'user',
    state: {
      ...r,
      session: r.session && {
        ...r.session,
        lastActivity: Number(r.session.lastActivity),
        pending: pending ? ({ ...pending, modelVersion: Number(pending.modelVersion), shownAt: Number(pending.shownAt) } as PendingList) : null,
      },
      buffer,
      maxEventTime: Number(r.maxEventTime),
    },
  };
}

/**
 * What `wire.prepare` needs to decode this changelog value: the value itself (its writer schema may be an
 * older changelog schema) and, once that schema is known, the buffered events inside it (written with
 * events schemas). Iterable again, so one `prepare` call fetches both in turn.
 */
export function bufferedEventBytes(wire: WireCodec, value: Buffer): Iterable<Buffer> {
  return {
    *[Symbol.iterator]() {
      yield value;
      let entry: Entry['entry'];
      try {
        ({ entry } = wire.decode<Entry>('sessionizerState', value));
      } catch {
        return; // its own schema is not known yet (or never will be: decodeChangelog then says why)
      }
      for (const b of entry[USER]?.buffer ?? []) yield b.event;
    },
  };
}
