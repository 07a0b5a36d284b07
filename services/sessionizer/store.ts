/**
 * The sessionizer's state store: per input partition, the users' states, the partition's stream time and
 * the next events offset the state reflects, kept in memory and backed by the compacted changelog topic
 * (same partition number). A partition is restored from its changelog before its first batch after every
 * assignment; in-memory state only changes after the transaction that wrote it committed (loop.ts).
 * Users idle past the retention are forgotten with a tombstone (fold.ts expiredAt), so once the broker has
 * compacted the changelog (its segment settings: services/common/topics.ts) memory and restore time follow
 * the users active within the retention, not every user ever seen.
 */
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from '../common/index.js';
import { bufferedEventBytes, decodeChangelog, POSITION_KEY } from './changelog-codec.js';
import { restoreChangelog } from './restore.js';
import { DueIndex } from './due-index.js';
import { dueAt } from './fold.js';
import { NO_TIME, type SessionizerSettings, type UserState } from './state.js';
import type { WireCodec } from './wire.js';

export const POSITION_KEY_BUFFER = Buffer.from(POSITION_KEY);

/** One input partition's users, its stream time and the next events offset its state reflects. */
export class PartitionState {
  private readonly users = new Map<string, UserState>();
  /** The users by the stream time the timer next has work for them (fold.ts dueAt). */
  private readonly due = new DueIndex();
  streamTime = NO_TIME;
  /** The next events offset to process; null before the partition's first committed batch. */
  nextOffset: string | null = null;

  constructor(
    readonly partition: number,
    private readonly settings: SessionizerSettings,
  ) {}

  get size(): number {
    return this.users.size;
  }

  get(userId: string): UserState | undefined {
    return this.users.get(userId);
  }

  put(userId: string, state: UserState): void {
    this.users.set(userId, state);
    this.due.set(userId, dueAt(state, this.settings));
  }

  forget(userId: string): void {
    this.users.delete(userId);
    this.due.delete(userId);
  }

  /** The users the timer has work for at this stream time, earliest first. */
  dueUsers(streamTime: number): [string, UserState][] {
    return this.due.dueAt(streamTime).map((id) => [id, this.users.get(id)!]);
  }
}

export interface StateStoreOptions {
  kafka: Kafka;
  admin: Admin;
  wire: WireCodec;
  topic: string;
  logger: Logger;
  groupIdPrefix: string;
  timeoutMs: number;
  settings: SessionizerSettings;
}

/** What one restore did: records read from the changelog and how long it took. */
export interface RestoreReport {
  readonly records: number;
  readonly seconds: number;
}

export class StateStore {
  private readonly partitions = new Map<number, PartitionState>();
  private assignedPartitions = new Set<number>();
  /** Bumped by every assignment and reset: a restore that overlapped one is not installed. */
  private epoch = 0;
  everAssigned = false;

  constructor(private readonly o: StateStoreOptions) {}

  /**
   * A new assignment. Every partition is restored again, retained ones too: with eager rebalancing another
   * process may have owned one in between (kafkajs does not tell the generation), and the changelog is the
   * only safe source.
   */
  assign(partitions: readonly number[]): void {
    this.assignedPartitions = new Set(partitions);
    this.partitions.clear();
    this.epoch++;
    this.everAssigned = true;
  }

  forgetAll(): void {
    this.partitions.clear();
    this.epoch++;
  }

  restoredPartitions(): PartitionState[] {
    return [...this.partitions.values()].filter((p) => this.assignedPartitions.has(p.partition));
  }

  userCount(): number {
    let n = 0;
    for (const p of this.partitions.values()) n += p.size;
    return n;
  }

  /** The partition's state, restoring it (and every other assigned partition not restored yet) first. */
  async ensureRestored(partition: number, heartbeat: () => Promise<void>, onRestore: (report: RestoreReport) => void): Promise<PartitionState> {
    const have = this.partitions.get(partition);
    if (have) return have;
    await this.restore([...new Set([partition, ...this.assignedPartitions])], heartbeat, onRestore);
    return this.partitions.get(partition)!;
  }

  /** Restores every assigned partition not restored yet (the timer needs them even when no events arrive). */
  async restoreAssigned(heartbeat: () => Promise<void>, onRestore: (report: RestoreReport) => void): Promise<void> {
    await this.restore([...this.assignedPartitions], heartbeat, onRestore);
  }

  private async restore(partitions: number[], heartbeat: () => Promise<void>, onRestore: (report: RestoreReport) => void): Promise<void> {
    const wanted = partitions.filter((p) => !this.partitions.has(p));
    if (wanted.length === 0) return;
    const fresh = new Map(wanted.map((p) => [p, new PartitionState(p, this.o.settings)]));
    const { wire } = this.o;
    const epoch = this.epoch;
    const started = performance.now();
    const { records } = await restoreChangelog({
      kafka: this.o.kafka,
      admin: this.o.admin,
      topic: this.o.topic,
      partitions: wanted,
      groupIdPrefix: this.o.groupIdPrefix,
      logger: this.o.logger,
      heartbeat,
      timeoutMs: this.o.timeoutMs,
      onRecords: async (p, messages) => {
        const ps = fresh.get(p)!;
        for (const m of messages) {
          const key = m.key?.toString() ?? '';
          if (m.value === null) {
            ps.forget(key); // a user forgotten after the retention
            continue;
          }
          let entry;
          try {
            entry = decodeChangelog(wire, m.value);
          } catch {
            // A buffered event written with an events schema this process has not met yet.
            await wire.prepare(bufferedEventBytes(wire, m.value));
            entry = decodeChangelog(wire, m.value);
          }
          if (entry.kind === 'position') {
            ps.nextOffset = entry.position.nextOffset;
            ps.streamTime = entry.position.streamTime;
          } else {
            ps.put(key, entry.state);
          }
        }
      },
    });
    onRestore({ records, seconds: (performance.now() - started) / 1000 });
    if (epoch !== this.epoch) throw new Error('the assignment changed during the restore; restoring again');
    for (const [p, ps] of fresh) this.partitions.set(p, ps);
  }
}
