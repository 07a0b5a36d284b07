/**
 * The learner's checkpoints in Postgres (migration 002): the whole training state as one blob plus the
 * source offsets it covers, written in one statement so a checkpoint is either all there or absent. And how
 * far each partition has been dead-lettered (migration 005), so letters are not written again after a restart.
 */
import type { SqlSession } from '../common/index.js';
import { sha256Hex, type SourceOffsets } from '../registry/index.js';

export interface Checkpoint {
  model: string;
  trainSteps: number;
  transitionsSeen: number;
  sourceOffsets: SourceOffsets;
  counters: Record<string, number>;
  state: Uint8Array;
}

/** How many checkpoints per model are kept; older ones are deleted after each save. */
export const CHECKPOINTS_KEPT = 3;

export async function saveCheckpoint(db: SqlSession, c: Checkpoint): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO learner_checkpoints (model, train_steps, transitions_seen, source_offsets, counters, checksum, state)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
    [c.model, c.trainSteps, c.transitionsSeen, JSON.stringify(c.sourceOffsets), JSON.stringify(c.counters), sha256Hex(c.state), c.state],
  );
  await db.query(
    `DELETE FROM learner_checkpoints WHERE model = $1 AND id NOT IN
       (SELECT id FROM learner_checkpoints WHERE model = $1 ORDER BY id DESC LIMIT $2)`,
    [c.model, CHECKPOINTS_KEPT],
  );
  return Number(rows[0]!.id);
}

/** The newest checkpoint whose blob still matches its checksum (a torn or corrupted one is skipped). */
export async function loadLatestCheckpoint(db: SqlSession, model: string): Promise<Checkpoint | null> {
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT model, train_steps, transitions_seen, source_offsets, counters, checksum, state
       FROM learner_checkpoints WHERE model = $1 ORDER BY id DESC LIMIT $2`,
    [model, CHECKPOINTS_KEPT],
  );
  for (const r of rows) {
    const state = new Uint8Array(r.state as Uint8Array);
    if (sha256Hex(state) !== r.checksum) continue;
    return {
      model: r.model as string,
      trainSteps: Number(r.train_steps),
      transitionsSeen: Number(r.transitions_seen),
      sourceOffsets: r.source_offsets as SourceOffsets,
      counters: r.counters as Record<string, number>,
      state,
    };
  }
  return null;
}

/** Per partition of `transitions`, the offset after the last record the learner has dead-lettered. */
export async function loadDeadLetterMarks(db: SqlSession, model: string): Promise<Map<number, bigint>> {
  const { rows } = await db.query<{ partition: number; next_offset: string }>(
    'SELECT partition, next_offset FROM learner_dead_letter_marks WHERE model = $1', [model],
  );
  return new Map(rows.map((r) => [Number(r.partition), BigInt(r.next_offset)]));
}

/** Moves a partition's mark forward (never back) once Kafka has taken the letters below `nextOffset`. */
export async function markDeadLettered(db: SqlSession, model: string, partition: number, nextOffset: bigint): Promise<void> {
  await db.query(
    `INSERT INTO learner_dead_letter_marks (model, partition, next_offset) VALUES ($1, $2, $3)
     ON CONFLICT (model, partition) DO UPDATE SET next_offset = GREATEST(learner_dead_letter_marks.next_offset, EXCLUDED.next_offset)`,
    [model, partition, nextOffset.toString()],
  );
}
