/**
 * The registry's audit trail (migration 004): every change of a model's live or pinned version — a publish
 * the gate promoted, an operator's promote, rollback, pin or unpin, a learner's recovery from divergence —
 * with who made it, when and why. Written in the same transaction as the change it records.
 */
import { userInfo } from 'node:os';
import type { SqlSession } from '../common/index.js';

export const CHANGE_ACTIONS = ['publish', 'promote', 'rollback', 'pin', 'unpin', 'divergence'] as const;
export type ChangeAction = (typeof CHANGE_ACTIONS)[number];

export interface NewChange {
  model: string;
  /** 'learner', or 'cli:<user>' (cliActor()). */
  actor: string;
  action: ChangeAction;
  fromVersion: number | null;
  toVersion: number | null;
  reason: string;
}

/** Who makes an operator's change and why: what the audit trail records beside it. */
export interface ChangedBy {
  /** 'cli:<user>' (cliActor()), or the component acting ('demo', a test). */
  actor: string;
  reason: string;
}

/** Refuses a change whose actor or reason is blank: the trail must say who and why. */
export function checkChangedBy(by: ChangedBy): ChangedBy {
  const actor = by.actor.trim();
  const reason = by.reason.trim();
  if (!actor) throw new Error('a registry change needs an actor (who makes it) for the audit trail');
  if (!reason) throw new Error(`a registry change by ${actor} needs a reason for the audit trail (--reason TEXT)`);
  return { actor, reason };
}

export interface Change extends NewChange {
  id: number;
  at: Date;
}

/** Who runs this CLI, as the audit trail names an operator. */
export function cliActor(): string {
  let name = process.env.USER ?? '';
  try {
    name = userInfo().username || name;
  } catch {
    // No passwd entry (containers): the environment's name, if any.
  }
  return `cli:${name || 'unknown'}`;
}

/** Registers the model if it is new: a learner may diverge before its first publish registers it. */
export async function recordChange(db: SqlSession, c: NewChange): Promise<void> {
  await db.query('INSERT INTO models (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [c.model]);
  await db.query(
    `INSERT INTO model_version_changes (model, actor, action, from_version, to_version, reason)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [c.model, c.actor, c.action, c.fromVersion, c.toVersion, c.reason],
  );
}

/** The newest changes of a model first. */
export async function listChanges(db: SqlSession, model: string, limit = 50): Promise<Change[]> {
  const { rows } = await db.query<Record<string, unknown>>(
    `SELECT id, model, at, actor, action, from_version, to_version, reason
       FROM model_version_changes WHERE model = $1 ORDER BY id DESC LIMIT $2`,
    [model, limit],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    model: r.model as string,
    at: new Date(r.at as string | Date),
    actor: r.actor as string,
    action: r.action as ChangeAction,
    fromVersion: r.from_version == null ? null : Number(r.from_version),
    toVersion: r.to_version == null ? null : Number(r.to_version),
    reason: r.reason as string,
  }));
}
