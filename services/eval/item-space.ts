/**
 * The item embeddings every embedding-based model of one seed shares: item2vec (paper footnote 1,
 * services/model Item2Vec) trained on the training part's click sequences only. Items never clicked in
 * training (most shown items, and every item new in the test part) get the zero vector: an "unknown item"
 * that scores 0 under any proto-action, rather than a random direction. Rows are unit length otherwise.
 */
import { centredVectors, Item2Vec, ItemVocabulary, PAD_INDEX, seededRandom } from '../model/index.js';
import { isRelevant, type PageView } from './logged-session.js';
import { clickSequences } from './transitions.js';

export interface ItemSpaceOptions {
  readonly dimension: number;
  readonly epochs: number;
  readonly seed: number;
  /** Also train on each training view's shown list as a sentence (co-display similarity). Off by default. */
  readonly lists?: boolean;
  /**
   * Subtract the mean of the learned vectors before scaling them to unit length (beyond the paper). SGNS
   * vectors share a common direction that grows with training (on the simulator's logs a random pair's cosine is
   * about 0.5 after 20 epochs); removing it (Mu & Viswanath 2018) leaves unrelated items near-orthogonal, so a
   * proto-action near one item does not score every learned item above the unknown ones.
   */
  readonly center?: boolean;
}

export class ItemSpace {
  /** Every item of the training part (clicked or only shown), so training never grows it. */
  readonly vocabulary: ItemVocabulary;
  readonly dimension: number;
  /** Row-major [vocabulary.size, dimension], unit rows, zero for padding and unclicked items. */
  readonly vectors: Float32Array;
  readonly clickedItems: number;

  private readonly learned: ReadonlySet<number>;
  /** Items of the training states (histories and the items clicked in them). */
  private readonly stateItems: ReadonlySet<string>;

  private constructor(vocabulary: ItemVocabulary, dimension: number, vectors: Float32Array, learned: ReadonlySet<number>, stateItems: ReadonlySet<string>) {
    this.vocabulary = vocabulary;
    this.dimension = dimension;
    this.vectors = vectors;
    this.learned = learned;
    this.clickedItems = learned.size;
    this.stateItems = stateItems;
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
    let vectors: Float32Array = new Float32Array(vocabulary.size * E);
    for (const i of learned) {
      let norm = 0;
      for (let e = 0; e < E; e++) norm += raw[i * E + e]! ** 2;
      const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
      for (let e = 0; e < E; e++) vectors[i * E + e] = raw[i * E + e]! * inv;
    }
    if (options.center) vectors = centredVectors(vectors, E, learned);
    const stateItems = new Set<string>();
    for (const v of views) {
      for (const id of v.history) stateItems.add(id);
      for (const it of v.items) if (isRelevant(it.behaviour)) stateItems.add(it.id);
    }
    return new ItemSpace(vocabulary, E, vectors, learned, stateItems);
  }

  /**
   * Beyond the paper, history codes: an item with no learned vector gets a fixed random unit vector (a
   * function of its id, itemCode) once it is in a user's history, as the streaming learner's item2vec gives a
   * new item a fresh random row when it first appears (services/model item2vec.ts). A state then says which
   * unseen items the user touched; a shown item outside the state stays unknown (zero). This is `vectors`
   * with the codes of the training states' items filled in.
   */
  codedVectors(): Float32Array {
    const E = this.dimension;
    const out = Float32Array.from(this.vectors);
    for (let i = PAD_INDEX + 1; i < this.vocabulary.size; i++) {
      if (this.learned.has(i)) continue;
      const id = this.vocabulary.idOf(i)!;
      if (this.stateItems.has(id)) out.set(itemCode(id, E), i * E);
    }
    return out;
  }

  /**
   * The vector a model sees for an item at ranking time: its learned row; else, with history codes
   * (`codes`), its code when the item is in the state; else zero.
   */
  vectorOf(id: string, inState: boolean, codes: boolean): Float32Array {
    const E = this.dimension;
    const i = this.vocabulary.indexOf(id);
    if (i !== undefined && this.learned.has(i)) return this.vectors.subarray(i * E, i * E + E);
    if (!codes) return new Float32Array(E);
    return inState ? itemCode(id, E) : new Float32Array(E);
  }

  /** Rows [ids.length, E] of vectorOf for the items of a state. */
  stateRows(ids: readonly string[], codes: boolean): Float32Array {
    const E = this.dimension;
    const out = new Float32Array(ids.length * E);
    ids.forEach((id, t) => out.set(this.vectorOf(id, true, codes), t * E));
    return out;
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

/** A fixed random unit vector for an item id (FNV-1a of the id seeds the draw; Gaussian, then unit length). */
export function itemCode(id: string, E: number): Float32Array {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
  const random = seededRandom(h);
  const v = new Float32Array(E);
  let norm = 0;
  for (let e = 0; e < E; e++) {
    const g = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    v[e] = g;
    norm += g * g;
  }
  for (let e = 0; e < E; e++) v[e]! /= Math.sqrt(norm);
  return v;
}
