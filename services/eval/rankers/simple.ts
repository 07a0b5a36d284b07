/** The reference rankers: the logged display order, training-set popularity, and a seeded shuffle. */
import { seededRandom } from '../../model/index.js';
import { isRelevant, type PageView } from '../logged-session.js';
import { orderByScore, type Progress, type RankQuery, type Ranker } from '../ranker.js';

/** The order the log showed (carries the production ranker's knowledge and the position bias). */
export class LoggedOrderRanker implements Ranker {
  readonly name = 'logged';
  async train(_views: readonly PageView[], onProgress: Progress): Promise<void> {
    onProgress(1, 1);
  }
  rank(q: RankQuery): string[] {
    return q.items.map((it) => it.id);
  }
  dispose(): void {}
}

/** Items by their number of clicks in the training part (all scenarios); ties keep display order. */
export class PopularityRanker implements Ranker {
  readonly name = 'popularity';
  private counts = new Map<string, number>();
  async train(views: readonly PageView[], onProgress: Progress): Promise<void> {
    this.counts.clear();
    for (const v of views) for (const it of v.items) if (isRelevant(it.behaviour)) this.counts.set(it.id, (this.counts.get(it.id) ?? 0) + 1);
    onProgress(1, 1);
  }
  rank(q: RankQuery): string[] {
    const ids = q.items.map((it) => it.id);
    return orderByScore(ids, ids.map((id) => this.counts.get(id) ?? 0));
  }
  dispose(): void {}
}

/** A uniformly random order (Fisher–Yates with a seeded generator). */
export class RandomRanker implements Ranker {
  readonly name = 'random';
  private readonly random: () => number;
  constructor(seed: number) {
    this.random = seededRandom(seed);
  }
  async train(_views: readonly PageView[], onProgress: Progress): Promise<void> {
    onProgress(1, 1);
  }
  rank(q: RankQuery): string[] {
    const ids = q.items.map((it) => it.id);
    for (let i = ids.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [ids[i], ids[j]] = [ids[j]!, ids[i]!];
    }
    return ids;
  }
  dispose(): void {}
}
