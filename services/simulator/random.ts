/**
 * The simulator's seeded randomness: the shared mulberry32 generator and the few draws the world and the
 * walks need. It depends on nothing of the model library it is testing.
 */
import { seededRandom } from '../common/index.js';

export type Random = () => number;

export const seeded: (seed: number) => Random = seededRandom;

/** A child stream: the same parent and label always give the same stream, whatever else was drawn. */
export function fork(seed: number, label: number): Random {
  return seeded(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(label + 1, 0xc2b2ae35));
}

/** Standard normal (Box–Muller). */
export function gaussian(random: Random): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function pick<T>(random: Random, items: readonly T[]): T {
  if (items.length === 0) throw new Error('pick from an empty list');
  return items[Math.min(items.length - 1, Math.floor(random() * items.length))]!;
}

/** `count` distinct items, uniformly, in random order. */
export function sample<T>(random: Random, items: readonly T[], count: number): T[] {
  const pool = [...items];
  const n = Math.min(count, pool.length);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, n);
}
