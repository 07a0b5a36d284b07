/**
 * The item embeddings every embedding-based model of one seed shares: item2vec (paper footnote 1,
 * services/model Item2Vec) trained on the training part's click sequences only. Items never clicked in
 * training (most shown items, and every item new in the test part) get the zero vector: an "unknown item"
 * that scores 0 under any proto-action, rather than a random direction. Rows are unit length otherwise.
 */
import { Item2Vec, ItemVocabulary, PAD_INDEX } from '../model/index.js';
import type { PageView } from './logged-session.js';
import { clickSequences } from './transitions.js';

export interface ItemSpaceOptions {
  readonly dimension: number;
  readonly epochs: number;
  readonly seed: number;
  /** Also train on each training view's shown list as a sentence (co-display similarity). Off by default. */
  readonly lists?: boolean;
}

export class ItemSpace {
  /** Every item of the training part (clicked or only shown), so training never grows it. */
  readonly vocabulary: ItemVocabulary;
  readonly dimension: number;
  /** Row-major [vocabulary.size, dimension], unit rows, zero for padding and unclicked items. */
  readonly vectors: Float32Array;
  readonly clickedItems: number;

  private constructor(vocabulary: ItemVocabulary, dimension: number, vectors: Float32Array, clickedItems: number) {
    this.vocabulary = vocabulary;
    this.dimension = dimension;
    this.vectors = vectors;
    this.clickedItems = clickedItems;
  }

  static train(views: readonly PageView[], options: ItemSpaceOptions): ItemSpace {
    const vocabulary = new ItemVocabulary();
    const item2vec = new Item2Vec({ dimension: options.dimension, window: 5, negatives: 5, seed: options.seed }, vocabulary);
    const sentences = clickSequences(views);
    if (options.lists) for (const v of views) sentences.push(v.items.map((it) => it.id));
    item2vec.train(sentences, options.epochs);
    const learned = new Set<number>();
    for (const s of sentences) if (s.length > 1) for (const id of s) learned.add(vocabulary.indexOf(id)!);
    for (const v of views) {
      for (const id of v.history) vocabulary.add(id);
      for (const it of v.items) vocabulary.add(it.id);
    }
    item2vec.train([]); // grows the table to the vocabulary
    const E = options.dimension;
    const raw = item2vec.vectors();
    const vectors = new Float32Array(vocabulary.size * E);
    for (const i of learned) {
      let norm = 0;
      for (let e = 0; e < E; e++) norm += raw[i * E + e]! ** 2;
      const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
      for (let e = 0; e < E; e++) vectors[i * E + e] = raw[i * E + e]! * inv;
    }
    return new ItemSpace(vocabulary, E, vectors, learned.size);
  }

  /** The item's index, or the padding index (zero vector) for an item the training part never had. */
  index(id: string): number {
    return this.vocabulary.indexOf(id) ?? PAD_INDEX;
  }

  /** Indices of a history, oldest first; unknown items map to padding (the zero vector, as in training). */
  historyIndices(ids: readonly string[]): number[] {
    return ids.map((id) => this.index(id));
  }
}
