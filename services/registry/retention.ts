/**
 * Registry retention (DESIGN.md §4): weights are kept for the live version, the pinned one, a candidate (the
 * challenger being measured, which may go live), the newest `keep` versions and every version a serving node
 * still reports (its latest deployment); every other
 * version keeps its row (metadata, lineage, metrics, checksum) and loses its weights. The decision is a
 * pure function (versionsToPrune); pruneWeights applies it in one transaction under the model row's lock,
 * the lock promote, pin and rollback take, so an operator cannot pin a version while it is being pruned.
 */
import type { SqlSession } from '../common/index.js';
import type { VersionStatus } from './store.js';

/** The default of REGISTRY_KEEP_WEIGHTS (services/learner/config.ts). */
export const DEFAULT_KEEP_WEIGHTS = 20;

export interface RetentionVersion {
  version: number;
  status: VersionStatus;
  /** The model's pinned version. */
  pinned: boolean;
  /** False once pruned (such versions are never returned again). */
  hasWeights: boolean;
}

/**
 * The versions whose weights go, ascending: every version with weights that is not live, not a candidate, not
 * pinned, not among the `keep` newest versions (by number, whatever their status) and not reported by a
 * serving node.
 */
export function versionsToPrune(versions: readonly RetentionVersion[], reported: Iterable<number>, keep: number): number[] {
  if (!Number.isSafeInteger(keep) || keep < 0) throw new Error(`retention: keep must be a non-negative integer, got ${keep}`);
  const newest = new Set(
    versions.map((v) => v.version).sort((a, b) => b - a).slice(0, keep),
  );
  const inUse = new Set(reported);
  return versions
    .filter((v) => v.hasWeights && v.status !== 'live' && v.status !== 'candidate' && !v.pinned && !newest.has(v.version) && !inUse.has(v.version))
    .map((v) => v.version)
    .sort((a, b) => a - b);
}

/** What the policy says, for error messages and the README. */
export function retentionPolicyText(): string {
  return 'the registry keeps weights only for the live and pinned versions, a challenger being measured, the newest REGISTRY_KEEP_WEIGHTS ' +
    'versions and any version a serving node still reports';
}

/** A version whose weights the retention policy removed: it can be listed and shown, not loaded, pinned or rolled back to. */
export class WeightsPrunedError extends Error {
  constructor(readonly model: string, readonly version: number, readonly prunedAt: Date) {
    super(
      `version ${version} of '${model}' has no weights: they were pruned at ${prunedAt.toISOString()} by the ` +
      `retention policy (${retentionPolicyText()}); its metadata remains ('deepchain models show ${model} ${version}')`,
    );
    this.name = 'WeightsPrunedError';
  }
}

/**
 * Applies the policy to one model in one transaction; returns the versions pruned (ascending). Needs a
 * session on one connection (withSession).
 */
export async function pruneWeights(db: SqlSession, model: string, keep: number): Promise<number[]> {
  if (!Number.isSafeInteger(keep) || keep < 1) throw new Error(`retention: keep must be a positive integer, got ${keep}`);
  await db.exec('BEGIN');
  try {
    const m = await db.query<{ pinned_version: string | null }>(
      'SELECT pinned_version FROM models WHERE name = $1 FOR UPDATE',
      [model],
    );
    if (!m.rows[0]) {
      await db.exec('COMMIT');
      return [];
    }
    const pinned = m.rows[0].pinned_version === null ? null : Number(m.rows[0].pinned_version);
    // Versions with weights, and the newest `keep` (so the count is by number whatever has been pruned).
    const { rows } = await db.query<{ version: string; status: VersionStatus; has_weights: boolean }>(
      `SELECT version, status, weights IS NOT NULL AS has_weights FROM model_versions
        WHERE model = $1
          AND (weights IS NOT NULL
               OR version IN (SELECT version FROM model_versions WHERE model = $1 ORDER BY version DESC LIMIT $2))`,
      [model, keep],
    );
    const reported = await db.query<{ version: string }>(
      `SELECT DISTINCT ON (serving_node) version FROM deployments WHERE model = $1
        ORDER BY serving_node, loaded_at DESC`,
      [model],
    );
    const prune = versionsToPrune(
      rows.map((r) => ({
        version: Number(r.version), status: r.status, pinned: Number(r.version) === pinned, hasWeights: r.has_weights,
      })),
      reported.rows.map((r) => Number(r.version)),
      keep,
    );
    for (const version of prune) {
      await db.query(
        `UPDATE model_versions SET weights = NULL, weights_pruned_at = now()
          WHERE model = $1 AND version = $2 AND weights IS NOT NULL`,
        [model, version],
      );
    }
    await db.exec('COMMIT');
    return prune;
  } catch (err) {
    await db.exec('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * Pruning sets weights to NULL; the old values stay on disk as dead TOAST rows until a VACUUM marks their
 * space reusable. Where autovacuum runs, it does that; where it is off (this project's CI server, PGlite),
 * this does, right after a prune, so that the next versions reuse the space (measured by `npm run bench --
 * registry-size`: an hour at 100,000 items takes 211 MB instead of 7.2 GB). Cannot run inside a transaction.
 */
export async function reclaimPrunedSpace(db: SqlSession): Promise<boolean> {
  const { rows } = await db.query<{ autovacuum: string }>('SHOW autovacuum');
  if (rows[0]?.autovacuum === 'on') return false;
  await db.exec('VACUUM model_versions');
  return true;
}

/** The publisher's retention step: prune (pruneWeights), then make the space reusable (reclaimPrunedSpace) when anything was pruned. */
export async function applyRetention(db: SqlSession, model: string, keep: number): Promise<number[]> {
  const pruned = await pruneWeights(db, model, keep);
  if (pruned.length > 0) await reclaimPrunedSpace(db);
  return pruned;
}
