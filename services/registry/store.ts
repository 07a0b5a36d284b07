/**
 * The model registry's queries (DESIGN.md §4): versions with lineage and the release gate's decision, what
 * each serving node runs, and the operator's promote / pin / unpin / rollback — each change of the live or
 * pinned version recorded in the audit trail (changes.ts) in the same transaction. Every function takes an
 * SqlSession, so the same code runs on the Postgres server and on PGlite; every value goes in as a
 * parameter. Functions that open a transaction need a session on one connection (withSession).
 */
import { createHash } from 'node:crypto';
import type { SqlSession } from '../common/index.js';
import { checkChangedBy, recordChange, type ChangedBy } from './changes.js';
import { WeightsPrunedError } from './retention.js';

export const VERSION_STATUSES = ['candidate', 'live', 'retired', 'rejected'] as const;
export type VersionStatus = (typeof VERSION_STATUSES)[number];

/** {"<topic>": {"<partition>": "<offset>"}} */
export type SourceOffsets = Record<string, Record<string, string>>;

/** The release gate's decision on a version (stored as jsonb in model_versions.decision, migration 004). */
export interface VersionDecision {
  /** 'challenger': served to a share of users, its own traffic to decide (decideChallenger). */
  outcome: 'promoted' | 'rejected' | 'challenger';
  /** Why, in the gate's words; empty when it had nothing to say. */
  reasons: string[];
  /** The version it was compared with (the one served then), or null when there was none. */
  baselineVersion: number | null;
  /** Whether that baseline was a pinned version rather than the live one. */
  baselinePinned: boolean;
  /** The estimates and counts the decision rests on. */
  numbers: Record<string, number>;
}

export interface VersionSummary {
  model: string;
  version: number;
  parentVersion: number | null;
  createdAt: Date;
  trainSteps: number;
  transitionsSeen: number;
  sourceOffsets: SourceOffsets;
  metrics: Record<string, number>;
  checksum: string;
  sizeBytes: number;
  status: VersionStatus;
  /** When the retention policy (retention.ts) removed its weights; null while it has them. */
  weightsPrunedAt: Date | null;
  /** The release gate's decision; null for versions written without one. */
  decision: VersionDecision | null;
}
export interface VersionWithWeights extends VersionSummary {
  weights: Uint8Array;
}

export interface NewVersion {
  model: string;
  trainSteps: number;
  transitionsSeen: number;
  sourceOffsets: SourceOffsets;
  metrics: Record<string, number>;
  weights: Uint8Array;
  /** 'live' retires the previous live version; 'rejected' keeps a record of a snapshot that failed validation. */
  status: 'live' | 'candidate' | 'rejected';
  /** The release gate's decision; its reasons become the audit trail's reason for a live version. */
  decision?: VersionDecision;
}

export interface Deployment {
  servingNode: string;
  model: string;
  version: number;
  loadedAt: Date;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const SUMMARY_COLUMNS = `model, version, parent_version, created_at, train_steps, transitions_seen, source_offsets,
  metrics, checksum, size_bytes, status, weights_pruned_at, decision`;

type Row = Record<string, unknown>;
function toSummary(r: Row): VersionSummary {
  return {
    model: r.model as string,
    version: Number(r.version),
    parentVersion: r.parent_version === null ? null : Number(r.parent_version),
    createdAt: new Date(r.created_at as string | Date),
    trainSteps: Number(r.train_steps),
    transitionsSeen: Number(r.transitions_seen),
    sourceOffsets: r.source_offsets as SourceOffsets,
    metrics: r.metrics as Record<string, number>,
    checksum: r.checksum as string,
    sizeBytes: Number(r.size_bytes),
    status: r.status as VersionStatus,
    weightsPrunedAt: r.weights_pruned_at == null ? null : new Date(r.weights_pruned_at as string | Date),
    decision: r.decision == null ? null : (r.decision as VersionDecision),
  };
}

/** The audit trail's reason for a published version: the gate's reasons, or 'published' when it gave none. */
export function publishReason(decision: VersionDecision | undefined): string {
  const reasons = decision?.reasons.map((r) => r.trim()).filter(Boolean) ?? [];
  return reasons.length ? reasons.join('; ') : 'published';
}

/**
 * Writes a new version in one transaction: the next number for the model (numbers are never reused, also
 * after a crash: they come from the table, under the model row's lock), parent = the live version. A live
 * version is recorded in the audit trail as the learner's 'publish', from the version it replaces.
 */
export async function insertVersion(db: SqlSession, v: NewVersion): Promise<VersionSummary> {
  await db.exec('BEGIN');
  try {
    await db.query('INSERT INTO models (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [v.model]);
    await db.query('SELECT name FROM models WHERE name = $1 FOR UPDATE', [v.model]);
    const { rows } = await db.query<{ next: string; live: string | null }>(
      `SELECT COALESCE(MAX(version), 0) + 1 AS next,
              MAX(version) FILTER (WHERE status = 'live') AS live
         FROM model_versions WHERE model = $1`,
      [v.model],
    );
    const next = Number(rows[0]!.next);
    const parent = rows[0]!.live === null ? null : Number(rows[0]!.live);
    if (v.status === 'live') {
      await db.query(`UPDATE model_versions SET status = 'retired' WHERE model = $1 AND status = 'live'`, [v.model]);
    }
    const inserted = await db.query<Row>(
      `INSERT INTO model_versions (model, version, parent_version, train_steps, transitions_seen, source_offsets,
         metrics, checksum, size_bytes, weights, status, decision)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       RETURNING ${SUMMARY_COLUMNS}`,
      [
        v.model, next, parent, v.trainSteps, v.transitionsSeen, JSON.stringify(v.sourceOffsets),
        JSON.stringify(v.metrics), sha256Hex(v.weights), v.weights.byteLength, v.weights, v.status,
        v.decision ? JSON.stringify(v.decision) : null,
      ],
    );
    if (v.status === 'live') {
      await recordChange(db, {
        model: v.model, actor: 'learner', action: 'publish', fromVersion: parent, toVersion: next, reason: publishReason(v.decision),
      });
    }
    await db.exec('COMMIT');
    return toSummary(inserted.rows[0]!);
  } catch (err) {
    await db.exec('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

export async function listVersions(db: SqlSession, model: string, limit = 50): Promise<VersionSummary[]> {
  const { rows } = await db.query<Row>(
    `SELECT ${SUMMARY_COLUMNS} FROM model_versions WHERE model = $1 ORDER BY version DESC LIMIT $2`,
    [model, limit],
  );
  return rows.map(toSummary);
}

export async function getVersion(db: SqlSession, model: string, version: number): Promise<VersionWithWeights | null> {
  const { rows } = await db.query<Row>(
    `SELECT ${SUMMARY_COLUMNS}, weights FROM model_versions WHERE model = $1 AND version = $2`,
    [model, version],
  );
  const r = rows[0];
  if (!r) return null;
  const summary = toSummary(r);
  if (r.weights == null) throw new WeightsPrunedError(model, version, summary.weightsPrunedAt ?? new Date(0));
  return { ...summary, weights: new Uint8Array(r.weights as Uint8Array) };
}

/** A version's metadata, also once its weights are pruned. */
export async function getVersionSummary(db: SqlSession, model: string, version: number): Promise<VersionSummary | null> {
  const { rows } = await db.query<Row>(
    `SELECT ${SUMMARY_COLUMNS} FROM model_versions WHERE model = $1 AND version = $2`,
    [model, version],
  );
  return rows[0] ? toSummary(rows[0]) : null;
}

export interface ModelRow {
  name: string;
  pinnedVersion: number | null;
  liveVersion: number | null;
  versions: number;
}

export async function listModels(db: SqlSession): Promise<ModelRow[]> {
  const { rows } = await db.query<Row>(
    `SELECT m.name, m.pinned_version,
            MAX(v.version) FILTER (WHERE v.status = 'live') AS live_version,
            COUNT(v.version) AS versions
       FROM models m LEFT JOIN model_versions v ON v.model = m.name
      GROUP BY m.name, m.pinned_version ORDER BY m.name`,
  );
  return rows.map((r) => ({
    name: r.name as string,
    pinnedVersion: r.pinned_version === null ? null : Number(r.pinned_version),
    liveVersion: r.live_version === null ? null : Number(r.live_version),
    versions: Number(r.versions),
  }));
}

/** The version every serving node should run: the pinned one if any, else the live one. */
export async function effectiveVersion(db: SqlSession, model: string): Promise<{ version: number; pinned: boolean } | null> {
  const models = await listModels(db);
  const m = models.find((x) => x.name === model);
  if (!m) return null;
  if (m.pinnedVersion !== null) return { version: m.pinnedVersion, pinned: true };
  return m.liveVersion === null ? null : { version: m.liveVersion, pinned: false };
}

/**
 * The challenger whose traffic is still being measured: the newest version recorded as a 'candidate' with
 * the outcome 'challenger' (publisher.ts), when it was recorded, and the live version now; null when there is none.
 */
export async function outstandingChallenger(
  db: SqlSession, model: string,
): Promise<{ version: number; createdAt: Date; live: number | null } | null> {
  const { rows } = await db.query<{ version: string; created_at: string | Date; live: string | null }>(
    `SELECT version, created_at, (SELECT MAX(version) FROM model_versions WHERE model = $1 AND status = 'live') AS live
       FROM model_versions
      WHERE model = $1 AND status = 'candidate' AND decision ->> 'outcome' = 'challenger'
      ORDER BY version DESC LIMIT 1`,
    [model],
  );
  const r = rows[0];
  return r ? { version: Number(r.version), createdAt: new Date(r.created_at), live: r.live === null ? null : Number(r.live) } : null;
}

/**
 * Ends a challenger ('candidate' with outcome 'challenger') with the decision its traffic gave: promoted, it
 * becomes live (the live version 'retired', an audit row by the learner); else 'rejected'. Returns the version
 * it replaced when promoted, or null, writing nothing, when the version is no longer such a challenger (an
 * operator promoted it meanwhile).
 */
export async function decideChallenger(
  db: SqlSession, model: string, version: number, decision: VersionDecision,
): Promise<{ from: number | null } | null> {
  if (decision.outcome === 'challenger') throw new Error('decideChallenger: the decision must be promoted or rejected');
  return inTransaction(db, async () => {
    await lockModel(db, model);
    const v = await requireVersion(db, model, version);
    if (v.status !== 'candidate' || v.decision?.outcome !== 'challenger') return null;
    let from: number | null = null;
    if (decision.outcome === 'promoted') {
      const live = await db.query<{ version: string }>(
        `UPDATE model_versions SET status = 'retired' WHERE model = $1 AND status = 'live' RETURNING version`,
        [model],
      );
      from = live.rows[0] ? Number(live.rows[0].version) : null;
    }
    await db.query(
      'UPDATE model_versions SET status = $3, decision = $4 WHERE model = $1 AND version = $2',
      [model, version, decision.outcome === 'promoted' ? 'live' : 'rejected', JSON.stringify(decision)],
    );
    if (decision.outcome === 'promoted') {
      await recordChange(db, { model, actor: 'learner', action: 'publish', fromVersion: from, toVersion: version, reason: publishReason(decision) });
    }
    return { from };
  });
}

async function requireVersion(db: SqlSession, model: string, version: number): Promise<VersionSummary> {
  const { rows } = await db.query<Row>(
    `SELECT ${SUMMARY_COLUMNS} FROM model_versions WHERE model = $1 AND version = $2`,
    [model, version],
  );
  if (!rows[0]) throw new Error(`model '${model}' has no version ${version}: see 'deepchain models list ${model}'`);
  return toSummary(rows[0]);
}

/** Locks the model row (the lock insertVersion and pruneWeights take); refuses an unknown model. */
async function lockModel(db: SqlSession, model: string): Promise<{ pinned: number | null }> {
  const { rows } = await db.query<{ pinned_version: string | null }>(
    'SELECT pinned_version FROM models WHERE name = $1 FOR UPDATE',
    [model],
  );
  if (!rows[0]) throw new Error(`there is no model '${model}' in the registry: see 'deepchain models list'`);
  return { pinned: rows[0].pinned_version === null ? null : Number(rows[0].pinned_version) };
}

/** Runs `fn` in one transaction; rolls back when it throws. */
async function inTransaction<T>(db: SqlSession, fn: () => Promise<T>): Promise<T> {
  await db.exec('BEGIN');
  try {
    const result = await fn();
    await db.exec('COMMIT');
    return result;
  } catch (err) {
    await db.exec('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** The version an operator may serve: it exists, was not rejected by the release gate and still has its weights. */
async function requireServable(db: SqlSession, model: string, version: number, verb: string): Promise<VersionSummary> {
  const v = await requireVersion(db, model, version);
  if (v.status === 'rejected') {
    throw new Error(
      `version ${version} of '${model}' was rejected by validation and cannot be ${verb}` +
      `${v.decision?.reasons.length ? ` (${v.decision.reasons.join('; ')})` : ''}: ` +
      `choose a version that passed ('deepchain models list ${model}')`,
    );
  }
  if (v.weightsPrunedAt) throw new WeightsPrunedError(model, version, v.weightsPrunedAt);
  return v;
}

/**
 * Makes a version live on an operator's word: the live version becomes 'retired'. Refused for an unknown,
 * rejected or pruned version and for the live one. Returns the version it replaced (null when none was
 * live). A pinned version stays pinned (and served) until unpinned.
 */
export async function promote(
  db: SqlSession, model: string, version: number, by: ChangedBy,
): Promise<{ from: number | null; to: number; pinned: number | null }> {
  const { actor, reason } = checkChangedBy(by);
  return inTransaction(db, async () => {
    const { pinned } = await lockModel(db, model);
    const v = await requireServable(db, model, version, 'promoted');
    if (v.status === 'live') throw new Error(`version ${version} of '${model}' is already live: nothing to promote`);
    const live = await db.query<{ version: string }>(
      `UPDATE model_versions SET status = 'retired' WHERE model = $1 AND status = 'live' RETURNING version`,
      [model],
    );
    const from = live.rows[0] ? Number(live.rows[0].version) : null;
    await db.query(`UPDATE model_versions SET status = 'live' WHERE model = $1 AND version = $2`, [model, version]);
    await recordChange(db, { model, actor, action: 'promote', fromVersion: from, toVersion: version, reason });
    return { from, to: version, pinned };
  });
}

/**
 * Pins a version; refused for a rejected one and for one whose weights were pruned (under the lock pruning
 * takes). Returns the version pinned before (null when none).
 */
export async function pin(db: SqlSession, model: string, version: number, by: ChangedBy): Promise<{ from: number | null }> {
  const { actor, reason } = checkChangedBy(by);
  return inTransaction(db, async () => {
    const { pinned } = await lockModel(db, model);
    await requireServable(db, model, version, 'pinned');
    await db.query('UPDATE models SET pinned_version = $2 WHERE name = $1', [model, version]);
    await recordChange(db, { model, actor, action: 'pin', fromVersion: pinned, toVersion: version, reason });
    return { from: pinned };
  });
}

/**
 * Serves the live version again. Returns the version that was pinned; when none was, nothing changes and
 * nothing is recorded (from: null).
 */
export async function unpin(db: SqlSession, model: string, by: ChangedBy): Promise<{ from: number | null }> {
  const { actor, reason } = checkChangedBy(by);
  return inTransaction(db, async () => {
    const { pinned } = await lockModel(db, model);
    if (pinned === null) return { from: null };
    await db.query('UPDATE models SET pinned_version = NULL WHERE name = $1', [model]);
    await recordChange(db, { model, actor, action: 'unpin', fromVersion: pinned, toVersion: null, reason });
    return { from: pinned };
  });
}

/**
 * Takes the live version out of service: it becomes 'retired' and the newest earlier version that was
 * live or retired becomes live again. Returns the version now live.
 */
export async function rollback(db: SqlSession, model: string, by: ChangedBy): Promise<{ from: number; to: number }> {
  const { actor, reason } = checkChangedBy(by);
  return inTransaction(db, async () => {
    await lockModel(db, model);
    const live = await db.query<{ version: string }>(
      `SELECT version FROM model_versions WHERE model = $1 AND status = 'live'`,
      [model],
    );
    if (!live.rows[0]) throw new Error(`model '${model}' has no live version to roll back`);
    const from = Number(live.rows[0].version);
    const prev = await db.query<{ version: string; weights_pruned_at: string | Date | null }>(
      `SELECT version, weights_pruned_at FROM model_versions WHERE model = $1 AND version < $2 AND status = 'retired'
        ORDER BY version DESC LIMIT 1`,
      [model, from],
    );
    if (!prev.rows[0]) throw new Error(`model '${model}' has no earlier version to roll back to`);
    const to = Number(prev.rows[0].version);
    const prunedAt = prev.rows[0].weights_pruned_at;
    if (prunedAt != null) throw new WeightsPrunedError(model, to, new Date(prunedAt));
    await db.query(`UPDATE model_versions SET status = 'retired' WHERE model = $1 AND version = $2`, [model, from]);
    await db.query(`UPDATE model_versions SET status = 'live' WHERE model = $1 AND version = $2`, [model, to]);
    await recordChange(db, { model, actor, action: 'rollback', fromVersion: from, toVersion: to, reason });
    return { from, to };
  });
}

export async function recordDeployment(db: SqlSession, servingNode: string, model: string, version: number): Promise<void> {
  await db.query('INSERT INTO deployments (serving_node, model, version) VALUES ($1, $2, $3)', [servingNode, model, version]);
}

/** What each serving node runs now: its latest deployment per model. */
export async function currentDeployments(db: SqlSession): Promise<Deployment[]> {
  const { rows } = await db.query<Row>(
    `SELECT DISTINCT ON (serving_node, model) serving_node, model, version, loaded_at
       FROM deployments ORDER BY serving_node, model, loaded_at DESC`,
  );
  return rows.map((r) => ({
    servingNode: r.serving_node as string,
    model: r.model as string,
    version: Number(r.version),
    loadedAt: new Date(r.loaded_at as string | Date),
  }));
}

export interface VersionDiff {
  model: string;
  from: number;
  to: number;
  trainSteps: number;
  transitionsSeen: number;
  metrics: Record<string, { from: number | null; to: number | null; delta: number | null }>;
  sameWeights: boolean;
  /** Offsets per topic-partition that `to` has read past `from`. */
  offsets: Record<string, { from: string | null; to: string | null }>;
}

export async function diffVersions(db: SqlSession, model: string, from: number, to: number): Promise<VersionDiff> {
  const [a, b] = [await requireVersion(db, model, from), await requireVersion(db, model, to)];
  const metrics: VersionDiff['metrics'] = {};
  for (const k of new Set([...Object.keys(a.metrics), ...Object.keys(b.metrics)])) {
    const x = a.metrics[k] ?? null;
    const y = b.metrics[k] ?? null;
    metrics[k] = { from: x, to: y, delta: x === null || y === null ? null : y - x };
  }
  const offsets: VersionDiff['offsets'] = {};
  for (const [topic, parts] of Object.entries({ ...a.sourceOffsets, ...b.sourceOffsets })) {
    for (const p of Object.keys(parts)) {
      offsets[`${topic}/${p}`] = { from: a.sourceOffsets[topic]?.[p] ?? null, to: b.sourceOffsets[topic]?.[p] ?? null };
    }
  }
  return {
    model, from, to,
    trainSteps: b.trainSteps - a.trainSteps,
    transitionsSeen: b.transitionsSeen - a.transitionsSeen,
    metrics, offsets, sameWeights: a.checksum === b.checksum,
  };
}
