/**
 * `npm run bench -- registry-size [--items 2000] [--versions N] [--keep N] [--no-baseline] [--prune-only]`
 *
 * How big the registry grows in one hour of publishing: N versions (default one hour at the learner's
 * PUBLISH_EVERY_S, 5 s → 720) written back to back, as the publisher writes them (services/learner/
 * publisher.ts: insertVersion as live with a gate decision, then applyRetention with REGISTRY_KEEP_WEIGHTS,
 * default 20), into a fresh database of the real Postgres. Each version carries weights of the size a
 * learner publishes: a model made with the learner's defaults (services/learner/config.ts) and a vocabulary
 * of `--items` ids, its item embeddings filled with unit vectors, serialized as trainer.publishableWeights()
 * does ({ only: 'actors' }: the actors, the item embeddings and the vocabulary). The same bytes are written
 * for every version (the registry stores each copy; Postgres compresses each value on its own).
 *
 * Runs, each in its own database, report pg_total_relation_size of model_versions (heap, TOAST and
 * indexes) and of all the registry's tables at the end:
 *  - retention: as the publisher does (`autovacuum` is reported: where it is off, the publisher runs a
 *    plain VACUUM of model_versions after each prune, services/registry/retention.ts reclaimPrunedSpace);
 *  - prune_only (with --prune-only): pruning without that VACUUM on a server without autovacuum, what the
 *    publisher did before reclaimPrunedSpace (pruned weights stay on disk as dead TOAST rows);
 *  - without_retention (unless --no-baseline): no pruning at all.
 */
import { migratePool, withSession } from '../../services/common/index.js';
import { loadLearnerConfig } from '../../services/learner/config.js';
import { createDeepChain, ItemVocabulary, seededRandom } from '../../services/model/index.js';
import { applyRetention, insertVersion, pruneWeights, type VersionDecision } from '../../services/registry/index.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const MODEL = 'deepchain';
const REGISTRY_TABLES = ['models', 'model_versions', 'model_version_changes', 'deployments', 'learner_checkpoints'];

function arg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(args[i + 1]);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got '${args[i + 1] ?? ''}'`);
  return n;
}

/** What a learner with its default settings publishes for a catalogue of `items` items. */
function publishableWeights(items: number): Uint8Array {
  const c = loadLearnerConfig({});
  const vocabulary = new ItemVocabulary(Array.from({ length: items }, (_, i) => `item-${i}`));
  const model = createDeepChain({
    seed: c.SEED, scenarios: c.scenarios, embeddingSize: c.EMBEDDING_SIZE, hiddenSize: c.HIDDEN_SIZE,
    historyLength: c.HISTORY_LENGTH, gamma: c.GAMMA, tau: c.TAU, target: c.TARGET, cloning: c.CLONING, rewards: c.rewards,
  }, vocabulary);
  // Item2vec's vectors in the trainer; here random ones, which compress as little as trained ones do.
  const random = seededRandom(c.SEED);
  const vectors = new Float32Array(vocabulary.size * c.EMBEDDING_SIZE).map(() => random() * 2 - 1);
  model.setItemEmbeddings(vectors);
  const bytes = model.serialize({ only: 'actors' });
  model.dispose();
  return bytes;
}

function decisionOf(n: number): VersionDecision {
  return {
    outcome: 'promoted',
    reasons: [`off-policy estimate ${(1 + n / 1e4).toFixed(4)} is within PUBLISH_TOLERANCE of the live version's`],
    baselineVersion: n > 1 ? n - 1 : null, baselinePinned: false,
    numbers: { candidateValue: 1 + n / 1e4, liveValue: 1 + (n - 1) / 1e4, heldOut: 5000, criticLoss: 0.5 },
  };
}

async function sizes(db: TestDatabase): Promise<{ model_versions_bytes: number; registry_bytes: number }> {
  const { rows } = await db.pool.query<{ name: string; bytes: string }>(
    'SELECT t AS name, pg_total_relation_size(t::regclass) AS bytes FROM unnest($1::text[]) AS t',
    [REGISTRY_TABLES],
  );
  return {
    model_versions_bytes: Number(rows.find((r) => r.name === 'model_versions')!.bytes),
    registry_bytes: rows.reduce((sum, r) => sum + Number(r.bytes), 0),
  };
}

function quantile(sorted: number[], q: number): number {
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 10) / 10;
}

type Mode = 'retention' | 'prune_only' | 'without_retention';

async function run(mode: Mode, weights: Uint8Array, versions: number, keep: number) {
  const db = await createTestDatabase();
  try {
    await migratePool(db.pool);
    const publishMs: number[] = [];
    const started = performance.now();
    for (let n = 1; n <= versions; n++) {
      const t0 = performance.now();
      await withSession(db.pool, (s) => insertVersion(s, {
        model: MODEL, trainSteps: n * 500, transitionsSeen: n * 32_000, status: 'live',
        sourceOffsets: { transitions: { '0': String(n * 16_000), '1': String(n * 16_000) } },
        metrics: { criticLoss: 0.5, actorLoss: -0.1, offPolicyValue: 1 + n / 1e4 }, weights, decision: decisionOf(n),
      }));
      if (mode === 'retention') await withSession(db.pool, (s) => applyRetention(s, MODEL, keep));
      if (mode === 'prune_only') await withSession(db.pool, (s) => pruneWeights(s, MODEL, keep));
      publishMs.push(performance.now() - t0);
      if (n % 100 === 0) process.stderr.write(`[bench] ${mode}: ${n}/${versions} versions\n`);
    }
    const seconds = (performance.now() - started) / 1000;
    const atEnd = await sizes(db);
    const kept = await db.pool.query<{ n: string; stored: string | null }>(
      `SELECT count(*) AS n, max(pg_column_size(weights)) AS stored FROM model_versions WHERE weights IS NOT NULL`,
    );
    publishMs.sort((a, b) => a - b);
    return {
      ...atEnd,
      versions_with_weights: Number(kept.rows[0]!.n),
      stored_weights_bytes: Number(kept.rows[0]!.stored),
      seconds: Math.round(seconds * 10) / 10,
      publish_ms_p50: quantile(publishMs, 0.5),
      publish_ms_p99: quantile(publishMs, 0.99),
    };
  } finally {
    await db.drop();
  }
}

export default async function registrySize(args: string[]): Promise<object> {
  const learner = loadLearnerConfig({});
  const items = arg(args, 'items', 2000);
  const versions = arg(args, 'versions', Math.round(3600 / learner.PUBLISH_EVERY_S));
  const keep = arg(args, 'keep', learner.REGISTRY_KEEP_WEIGHTS);
  const weights = publishableWeights(items);
  process.stderr.write(`[bench] ${items} items: ${weights.byteLength} bytes of weights per version\n`);

  const probe = await createTestDatabase();
  const autovacuum = (await probe.pool.query<{ autovacuum: string }>('SHOW autovacuum')).rows[0]!.autovacuum;
  const server = (await probe.pool.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]!.v;
  await probe.drop();

  const retention = await run('retention', weights, versions, keep);
  const pruneOnly = args.includes('--prune-only') ? await run('prune_only', weights, versions, keep) : null;
  const without = args.includes('--no-baseline') ? null : await run('without_retention', weights, versions, keep);
  return {
    bench: 'registry-size',
    versions,
    publish_every_s: learner.PUBLISH_EVERY_S,
    catalogue_items: items,
    weights_bytes_per_version: weights.byteLength,
    keep,
    postgres: server,
    autovacuum,
    retention,
    ...(pruneOnly ? { prune_only: pruneOnly } : {}),
    ...(without ? { without_retention: without } : {}),
  };
}
