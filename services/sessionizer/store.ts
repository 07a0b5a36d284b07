/**
 * The sessionizer's state store: per input partition, the users' states, the partition's stream time and
 * the next events offset the state reflects, kept in memory and backed by the compacted changelog topic
 * (same partition number). A partition is restored from its changelog before its first batch after every
 * assignment; in-memory state only changes after the transaction that wrote it committed (loop.ts).
 */
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from '../common/index.js';
import { bufferedEventBytes, decodeChangelog, POSITION_KEY } from './changelog-codec.js';
import { restoreChangelog } from './restore.js';
import { NO_TIME, type UserState } from './state.js';
import type { WireCodec } from './wire.js';

export const POSITION_KEY_BUFFER = Buffer.from(POSITION_KEY);

export interface PartitionState {
  readonly partition: number;
  readonly users: Map<string, UserState>;
  streamTime: number;
  /** The next events offset to process; null before the partition's first committed batch. */
  nextOffset: string | null;
}

export interface StateStoreOptions {
  kafka: Kafka;
  admin: Admin;
  wire: WireCodec;
  topic: string;
  logger: Logger;
  groupIdPrefix: string;
  timeoutMs: number;
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
    for (const p of this.partitions.values()) n += p.users.size;
    return n;
  }

  /** The partition's state, restoring it (and every other assigned partition not restored yet) first. */
  async ensureRestored(partition: number, heartbeat: () => Promise<void>, onRestore: () => void): Promise<PartitionState> {
    const have = this.partitions.get(partition);
    if (have) return have;
    await this.restore([...new Set([partition, ...this.assignedPartitions])], heartbeat, onRestore);
    return this.partitions.get(partition)!;
  }

  /** Restores every assigned partition not restored yet (the timer needs them even when no events arrive). */
  async restoreAssigned(heartbeat: () => Promise<void>, onRestore: () => void): Promise<void> {
    await this.restore([...this.assignedPartitions], heartbeat, onRestore);
  }

  private async restore(partitions: number[], heartbeat: () => Promise<void>, onRestore: () => void): Promise<void> {
    const wanted = partitions.filter((p) => !this.partitions.has(p));
    if (wanted.length === 0) return;
    const fresh = new Map(wanted.map((p) => [p, { partition: p, users: new Map(), streamTime: NO_TIME, nextOffset: null } as PartitionState]));
    const { wire } = this.o;
    const epoch = this.epoch;
    await restoreChangelog({
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
            ps.users.delete(key);
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
            ps.users.set(key, entry.state);
          }
        }
      },
    });
    onRestore();
    if (epoch !== this.epoch) throw new Error('the assignment changed during the restore; restoring again');
    for (const [p, ps] of fresh) this.partitions.set(p, ps);
  }
}
