/**
 * The version a serving node answers with, and its hot swap (DESIGN.md §4): an announced version is
 * installed only after its checksum matches, its weights decode (shapes and finite numbers checked by the
 * weights format) and a warm-up pass gives finite scores. Then one assignment swaps it in: a request reads
 * the slot once and runs synchronously, so no request ever sees a half-loaded version. A bad version is
 * rejected and the last good one keeps serving.
 */
import { sha256Hex, type ModelAnnouncement } from '../registry/index.js';
import { CosineIndex, deepChainFromWeights, type DeepChainModel } from '../model/index.js';
import { ProtoActionCache } from './proto-cache.js';

export interface LoadedVersion {
  name: string;
  version: number;
  checksum: string;
  /** From the announcement: an operator's pin (a pinned live version gets no challenger beside it). */
  pinned: boolean;
  /** From the announcement: a challenger's share of users (0 for the live version). */
  share: number;
  model: DeepChainModel;
  recall: CosineIndex;
  protoActions: ProtoActionCache;
  loadedAt: number;
}

export type InstallOutcome =
  | { status: 'installed'; version: number; previous: number | null }
  | { status: 'unchanged'; version: number }
  | { status: 'rejected'; version: number; reason: string };

const WARMUP_STATES = 4;

export class ModelSlot {
  private loaded: LoadedVersion | null = null;

  /** `protoCacheSize`: users × scenarios whose proto-action is kept (proto-cache.ts). */
  constructor(
    readonly modelName: string,
    private readonly protoCacheSize = 100_000,
  ) {}

  get current(): LoadedVersion | null {
    return this.loaded;
  }

  /** Verifies and installs `weights` for the announcement; never throws for a bad version. */
  install(a: ModelAnnouncement, weights: Uint8Array): InstallOutcome {
    if (this.loaded && this.loaded.version === a.version && this.loaded.checksum === a.checksum) {
      // The same weights announced again, as after a pin or with another share: only those change.
      this.loaded = { ...this.loaded, pinned: a.pinned, share: a.share };
      return { status: 'unchanged', version: a.version };
    }
    let model: DeepChainModel | null = null;
    try {
      if (a.model !== this.modelName) throw new Error(`announcement is for model '${a.model}', this node serves '${this.modelName}'`);
      const checksum = sha256Hex(weights);
      if (checksum !== a.checksum) throw new Error(`checksum mismatch: announced ${a.checksum.slice(0, 12)}…, weights hash to ${checksum.slice(0, 12)}…`);
      model = deepChainFromWeights(weights);
      const recall = new CosineIndex(model.itemEmbeddings, model.config.embeddingSize);
      warmUp(model);
      const previous = this.loaded;
      this.loaded = {
        name: a.model, version: a.version, checksum: a.checksum, pinned: a.pinned, share: a.share, model, recall,
        protoActions: new ProtoActionCache(this.protoCacheSize), loadedAt: Date.now(),
      };
      previous?.model.dispose();
      return { status: 'installed', version: a.version, previous: previous?.version ?? null };
    } catch (err) {
      model?.dispose();
      return { status: 'rejected', version: a.version, reason: (err as Error).message };
    }
  }

  /** Empties the slot (a withdrawn challenger); returns the version it held, or null. */
  clear(): number | null {
    const previous = this.loaded;
    this.loaded = null;
    previous?.model.dispose();
    return previous?.version ?? null;
  }
}

/** Runs every actor on a few states from the vocabulary; any non-finite score rejects the version. */
function warmUp(model: DeepChainModel): void {
  const items = model.itemCount - 1;
  if (items < 1) throw new Error('the version has no item embeddings');
  const candidates = Array.from({ length: Math.min(items, 64) }, (_, i) => i + 1);
  for (const scenario of model.layout.scenarios) {
    for (let s = 0; s < WARMUP_STATES; s++) {
      const state = Array.from({ length: Math.min(items, model.config.historyLength, s * 7) }, (_, i) => 1 + ((i * 13 + s) % items));
      const scores = model.score(model.act(scenario, state), candidates);
      for (const v of scores) if (!Number.isFinite(v)) throw new Error(`warm-up produced a non-finite score in scenario '${scenario}'`);
    }
  }
}
