/**
 * Registry rows (services/registry: versions with the release gate's decision, the models' pinned versions,
 * what each serving node runs, the audit trail) → the versions panel and the freshness numbers. Pure: the
 * same rows come from Postgres in a deployment and from PGlite in the demo.
 */
import type { Change, Deployment, ModelRow, VersionSummary } from '../registry/index.js';
import type { PipelinePanel, VersionsPanel } from './view.js';

export interface RegistryRows {
  model: string;
  /** Newest first (listVersions). */
  versions: readonly VersionSummary[];
  models: readonly ModelRow[];
  deployments: readonly Deployment[];
  /** Newest first (listChanges). */
  changes: readonly Change[];
}

const seconds = (d: Date) => d.getTime() / 1000;

export function versionsPanel(rows: RegistryRows): VersionsPanel {
  const model = rows.models.find((m) => m.name === rows.model);
  const pinned = model?.pinnedVersion ?? null;
  const live = model?.liveVersion ?? rows.versions.find((v) => v.status === 'live')?.version ?? null;
  const current = pinned ?? live;
  const deployments = rows.deployments.filter((d) => d.model === rows.model);
  return {
    available: true,
    live,
    pinned,
    versions: [...rows.versions].sort((a, b) => b.version - a.version).map((v) => ({
      version: v.version,
      createdAt: seconds(v.createdAt),
      status: v.status,
      outcome: v.decision?.outcome ?? null,
      reasons: v.decision?.reasons ?? [],
      baselineVersion: v.decision?.baselineVersion ?? null,
      baselinePinned: v.decision?.baselinePinned ?? false,
      numbers: v.decision?.numbers ?? {},
      trainSteps: v.trainSteps,
      transitionsSeen: v.transitionsSeen,
      pinned: v.version === pinned,
      servedBy: deployments.filter((d) => d.version === v.version).map((d) => d.servingNode).sort(),
      weightsPruned: v.weightsPrunedAt !== null,
    })),
    deployments: deployments
      .map((d) => ({ servingNode: d.servingNode, version: d.version, loadedAt: seconds(d.loadedAt), current: d.version === current }))
      .sort((a, b) => a.servingNode.localeCompare(b.servingNode)),
    changes: rows.changes.map((c) => ({
      at: seconds(c.at), actor: c.actor, action: c.action, fromVersion: c.fromVersion, toVersion: c.toVersion, reason: c.reason,
    })),
  };
}

/** How old what is served is, and how long versions took to reach the serving nodes, at `now` (Unix seconds). */
export function freshness(panel: VersionsPanel, now: number): PipelinePanel['freshness'] {
  const age = (t: number | undefined) => (t === undefined ? null : Math.max(0, Math.round((now - t) * 10) / 10));
  const created = new Map(panel.versions.map((v) => [v.version, v.createdAt]));
  const current = panel.pinned ?? panel.live;
  const newestSwap = [...panel.deployments].sort((a, b) => b.loadedAt - a.loadedAt)[0];
  const swapCreated = newestSwap ? created.get(newestSwap.version) : undefined;
  return {
    newestVersionAge: age(panel.versions[0]?.createdAt),
    servedVersionAge: age(current === null ? undefined : created.get(current)),
    publishToServe: newestSwap && swapCreated !== undefined ? Math.max(0, Math.round((newestSwap.loadedAt - swapCreated) * 1000) / 1000) : null,
    lastSwapAge: age(newestSwap?.loadedAt),
  };
}
