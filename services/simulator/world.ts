/**
 * The simulated world (DESIGN.md §4 simulator): a catalogue of items and a population of users, all drawn
 * from one seed. What it models, and why:
 *   - Items lie in clusters (topics) of a hidden vector space. Similarity of two items (cosine of their
 *     vectors) is what a detail page's "close to the page's item" means.
 *   - Each cluster has a hidden complement: the cluster whose items go with it (torch → batteries), a
 *     random derangement of the clusters drawn from the seed, so "goes with" is not "is like" and a cart
 *     page that shows more of the same misses. `goesWith(a, b)` is how well item b goes with item a.
 *   - Each user has a hidden interest vector (mostly a favourite cluster, partly a second one: the
 *     interest diversity), strayed from those centres by a personal taste (`interestSpread`), and a
 *     patience. With the taste and the items' scatter, the items of one cluster differ a good deal in how
 *     much a given user wants them: the items most like a page's item are often not the ones the user
 *     would buy (user-walk.ts), which is what a policy that looks ahead can exploit.
 *   - The defaults (2,000 items in 20 clusters, 2,000 users, 20 dimensions) are big enough that a model
 *     cannot memorise each user's or item's best answer from a few thousand sessions; it has to learn the
 *     structure. The default world builds in about 0.1 s.
 * These vectors are the simulator's secret: only item and user ids ever leave it (events carry ids, never
 * vectors), so the product must learn the structure from behaviour alone. Oracle policies
 * (oracles.ts) read them to bound what a policy can reach.
 */
import { fork, gaussian, type Random } from './random.js';

export interface WorldOptions {
  seed: number;
  /** Catalogue size. */
  items: number;
  /** Item clusters (topics) in the hidden space. */
  clusters: number;
  /** Population size. */
  users: number;
  /** Size of the hidden vectors; at least `clusters` keeps cluster centres orthogonal. */
  dimension: number;
  /** How far items scatter around their cluster centre (0: on it). */
  itemSpread: number;
  /** 0: a user likes one cluster; towards 1, their interest is shared with a second cluster. */
  interestDiversity: number;
  /**
   * How far each user's interest strays from the mix of their two clusters' centres (personal taste): the
   * larger, the more the items of one cluster differ in how much a given user wants them.
   */
  interestSpread: number;
  /** Mean patience: about how many poor pages in a row a user sits through before leaving. */
  patience: number;
}

export const DEFAULT_WORLD: Readonly<WorldOptions> = Object.freeze({
  seed: 1,
  items: 2000,
  clusters: 20,
  users: 2000,
  dimension: 20,
  itemSpread: 0.8,
  interestDiversity: 0.4,
  interestSpread: 0.6,
  patience: 2,
});

export interface Item {
  readonly id: string;
  readonly cluster: number;
  /** Hidden: unit vector. */
  readonly vector: Float64Array;
}

export interface User {
  readonly id: string;
  readonly favourite: number;
  readonly second: number;
  /** Hidden: unit vector. */
  readonly interest: Float64Array;
  /** Poor pages in a row that make leaving likely (drawn around the world's mean patience). */
  readonly patience: number;
}

export class World {
  readonly options: Readonly<WorldOptions>;
  readonly items: readonly Item[];
  readonly users: readonly User[];
  readonly itemIds: readonly string[];
  /** Hidden: the unit centre of each cluster. */
  readonly centres: readonly Float64Array[];
  /** Hidden: complement[c] is the cluster whose items go with cluster c's (≠ c when there are two or more clusters). */
  readonly complement: readonly number[];
  /** Each item's cluster, indexed like `items`. */
  readonly itemCluster: Int32Array;
  /** Hidden, for fast scoring of the whole catalogue: item vectors row by row (items × dimension). */
  readonly matrix: Float64Array;
  /** Hidden: cosine of each item to each cluster centre (items × clusters). */
  readonly centreSimilarity: Float64Array;
  private readonly byId: ReadonlyMap<string, Item>;
  private readonly indexById: ReadonlyMap<string, number>;
  private readonly userById: ReadonlyMap<string, User>;

  constructor(options: Partial<WorldOptions> = {}) {
    const o = Object.freeze({ ...DEFAULT_WORLD, ...options });
    validateWorld(o);
    this.options = o;
    const centres = clusterCentres(o, fork(o.seed, 0));
    this.centres = centres;
    const itemRandom = fork(o.seed, 1);
    this.items = Array.from({ length: o.items }, (_, i) => {
      const cluster = i % o.clusters;
      return { id: `item-${i}`, cluster, vector: jitter(centres[cluster]!, o.itemSpread, itemRandom) };
    });
    const userRandom = fork(o.seed, 2);
    this.users = Array.from({ length: o.users }, (_, u) => {
      const favourite = Math.floor(userRandom() * o.clusters);
      const second = o.clusters === 1 ? favourite : (favourite + 1 + Math.floor(userRandom() * (o.clusters - 1))) % o.clusters;
      const mix = new Float64Array(o.dimension);
      for (let d = 0; d < o.dimension; d++) {
        mix[d] = (1 - o.interestDiversity) * centres[favourite]![d]! + o.interestDiversity * centres[second]![d]!;
      }
      // Patience: log-normal around the mean, so some users are quick to leave and some are not.
      const patience = o.patience * Math.exp(0.4 * gaussian(userRandom) - 0.08);
      return { id: `user-${u}`, favourite, second, interest: jitter(mix, o.interestSpread, userRandom), patience };
    });
    this.complement = derangement(o.clusters, fork(o.seed, 3));
    this.itemIds = this.items.map((i) => i.id);
    this.byId = new Map(this.items.map((i) => [i.id, i]));
    this.indexById = new Map(this.items.map((i, n) => [i.id, n]));
    this.itemCluster = Int32Array.from(this.items, (i) => i.cluster);
    this.matrix = new Float64Array(o.items * o.dimension);
    this.items.forEach((item, n) => this.matrix.set(item.vector, n * o.dimension));
    this.centreSimilarity = new Float64Array(o.items * o.clusters);
    this.items.forEach((item, n) => centres.forEach((c, k) => (this.centreSimilarity[n * o.clusters + k] = similarity(item.vector, c))));
    this.userById = new Map(this.users.map((u) => [u.id, u]));
  }

  item(id: string): Item {
    const item = this.byId.get(id);
    if (!item) throw new Error(`item '${id}' is not in the simulated catalogue`);
    return item;
  }

  user(id: string): User {
    const user = this.userById.get(id);
    if (!user) throw new Error(`user '${id}' is not in the simulated population`);
    return user;
  }

  /** Position of an item in `items` (and row of `matrix`). */
  indexOf(id: string): number {
    const n = this.indexById.get(id);
    if (n === undefined) throw new Error(`item '${id}' is not in the simulated catalogue`);
    return n;
  }

  /** Positions of `ids` in `items`; fast when they follow `itemIds` in order with few left out (a page's candidates). */
  indicesOf(ids: readonly string[]): Int32Array {
    const out = new Int32Array(ids.length);
    const all = this.itemIds;
    for (let i = 0, next = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const at = all[next] === id ? next : all[next + 1] === id ? next + 1 : this.indexOf(id);
      out[i] = at;
      next = at + 1;
    }
    return out;
  }

  /** Hidden: cosine of every item to `v` (the matrix times v). */
  similarities(v: Float64Array): Float64Array {
    const { items, dimension } = this.options;
    const out = new Float64Array(items);
    const m = this.matrix;
    for (let n = 0, row = 0; n < items; n++, row += dimension) {
      let s = 0;
      for (let d = 0; d < dimension; d++) s += m[row + d]! * v[d]!;
      out[n] = s;
    }
    return out;
  }

  /** True for ids of this catalogue (a serving node may answer with others). */
  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Hidden: how well item `b` goes with item `a` (cosine of b to the centre of a's complement cluster), about −1…1. */
  goesWith(a: Item, b: Item): number {
    return this.centreSimilarity[this.indexOf(b.id) * this.options.clusters + this.complement[a.cluster]!]!;
  }
}

/** Cosine of two unit vectors. */
export function similarity(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let d = 0; d < a.length; d++) s += a[d]! * b[d]!;
  return s;
}

/** Refuses world options out of range, naming the option. */
export function validateWorld(o: WorldOptions): void {
  if (!Number.isInteger(o.seed)) throw new RangeError(`world option seed must be an integer, got ${o.seed}`);
  const positive = ['items', 'clusters', 'users', 'dimension'] as const;
  for (const k of positive) {
    if (!Number.isInteger(o[k]) || o[k] <= 0) throw new RangeError(`world option ${k} must be a positive integer, got ${o[k]}`);
  }
  if (o.clusters > o.items) throw new RangeError(`world option clusters (${o.clusters}) must not exceed items (${o.items})`);
  for (const k of ['itemSpread', 'interestSpread'] as const) {
    if (!(o[k] >= 0 && Number.isFinite(o[k]))) throw new RangeError(`world option ${k} must be a finite number ≥ 0, got ${o[k]}`);
  }
  if (!(o.interestDiversity >= 0 && o.interestDiversity <= 1)) throw new RangeError(`world option interestDiversity must be in [0, 1], got ${o.interestDiversity}`);
  if (!(o.patience > 0 && Number.isFinite(o.patience))) throw new RangeError(`world option patience must be a finite number > 0, got ${o.patience}`);
}

/** Random unit centres, made orthogonal (Gram–Schmidt) as far as the dimension allows. */
function clusterCentres(o: WorldOptions, random: Random): Float64Array[] {
  const centres: Float64Array[] = [];
  for (let c = 0; c < o.clusters; c++) {
    const v = Float64Array.from({ length: o.dimension }, () => gaussian(random));
    if (c < o.dimension) {
      for (const u of centres.slice(0, o.dimension)) {
        const dot = similarity(v, u);
        for (let d = 0; d < o.dimension; d++) v[d]! -= dot * u[d]!;
      }
    }
    centres.push(normalise(v));
  }
  return centres;
}

/** A random permutation of 0…n−1 without fixed points (the identity for n = 1): Sattolo's single cycle. */
function derangement(n: number, random: Random): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * i);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/** `base` plus Gaussian noise of total length about `spread`, normalised. */
function jitter(base: Float64Array, spread: number, random: Random): Float64Array {
  const scale = spread / Math.sqrt(base.length);
  return normalise(Float64Array.from(base, (x) => x + scale * gaussian(random)));
}

function normalise(v: Float64Array): Float64Array {
  let n = 0;
  for (const x of v) n += x * x;
  const inv = n > 0 ? 1 / Math.sqrt(n) : 0;
  for (let d = 0; d < v.length; d++) v[d]! *= inv;
  return v;
}
