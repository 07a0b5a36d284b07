/**
 * The simulated world (DESIGN.md §4 simulator): a catalogue of items and a population of users, all drawn
 * from one seed. Items lie in clusters of a hidden vector space; each user has a hidden interest vector
 * (mostly one favourite cluster, partly a second one: the interest diversity) and a patience. These
 * vectors are the simulator's secret: only item and user ids ever leave it (events carry ids, never
 * vectors), so the product must learn the structure from behaviour alone.
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
  /** Mean patience: about how many poor pages in a row a user sits through before leaving. */
  patience: number;
}

export const DEFAULT_WORLD: Readonly<WorldOptions> = Object.freeze({
  seed: 1,
  items: 120,
  clusters: 6,
  users: 150,
  dimension: 16,
  itemSpread: 0.5,
  interestDiversity: 0.3,
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
  private readonly byId: ReadonlyMap<string, Item>;

  constructor(options: Partial<WorldOptions> = {}) {
    const o = Object.freeze({ ...DEFAULT_WORLD, ...options });
    validate(o);
    this.options = o;
    const centres = clusterCentres(o, fork(o.seed, 0));
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
      return { id: `user-${u}`, favourite, second, interest: jitter(mix, 0.2, userRandom), patience };
    });
    this.itemIds = this.items.map((i) => i.id);
    this.byId = new Map(this.items.map((i) => [i.id, i]));
  }

  item(id: string): Item {
    const item = this.byId.get(id);
    if (!item) throw new Error(`item '${id}' is not in the simulated catalogue`);
    return item;
  }

  /** True for ids of this catalogue (a serving node may answer with others). */
  has(id: string): boolean {
    return this.byId.has(id);
  }
}

/** Cosine of two unit vectors. */
export function similarity(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let d = 0; d < a.length; d++) s += a[d]! * b[d]!;
  return s;
}

function validate(o: WorldOptions): void {
  const positive = ['items', 'clusters', 'users', 'dimension'] as const;
  for (const k of positive) {
    if (!Number.isInteger(o[k]) || o[k] <= 0) throw new RangeError(`world option ${k} must be a positive integer, got ${o[k]}`);
  }
  if (o.clusters > o.items) throw new RangeError(`world option clusters (${o.clusters}) must not exceed items (${o.items})`);
  if (!(o.itemSpread >= 0)) throw new RangeError(`world option itemSpread must be ≥ 0, got ${o.itemSpread}`);
  if (!(o.interestDiversity >= 0 && o.interestDiversity <= 1)) throw new RangeError(`world option interestDiversity must be in [0, 1], got ${o.interestDiversity}`);
  if (!(o.patience > 0)) throw new RangeError(`world option patience must be > 0, got ${o.patience}`);
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
