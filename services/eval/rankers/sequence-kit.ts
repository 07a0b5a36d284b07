/**
 * What the non-neural session baselines (SKNN, item-kNN, history-first) share: the training part's
 * sessions as item lists, the user's recent item sequence at a query, and option checking.
 *
 * The user's sequence at a query, oldest first, is the query's `history` followed by its `context` item
 * unless that is already the last history item (the simulator's detail pages are the page of the item
 * just clicked, so there it usually is). Under Algorithm 3 an item clicked on the page is appended to it.
 * Each baseline looks at a window of the last N entries of this sequence (positions, repeats included).
 */
import { groupSessions, isRelevant, type PageView } from '../logged-session.js';
import type { RankQuery } from '../ranker.js';

export interface TrainingSession {
  /** The session's clicked or purchased items, each once, in order of first click. */
  readonly items: readonly string[];
  /** Time of the session's last view: its recency. */
  readonly time: number;
}

/**
 * The training part's sessions (groupSessions: per user and session id), each as the set of items clicked
 * or purchased in its views, in all scenarios. Sessions without a click are left out. Only in-session
 * clicks count: the views' `history` reaches back over earlier sessions, which are sessions of their own
 * here. Ordered by recency, oldest first (ties keep groupSessions' order).
 */
export function trainingSessions(views: readonly PageView[]): TrainingSession[] {
  const out: TrainingSession[] = [];
  for (const session of groupSessions(views)) {
    const seen = new Set<string>();
    const items: string[] = [];
    for (const v of session) {
      for (const it of v.items) {
        if (isRelevant(it.behaviour) && !seen.has(it.id)) {
          seen.add(it.id);
          items.push(it.id);
        }
      }
    }
    if (items.length > 0) out.push({ items, time: session[session.length - 1]!.time });
  }
  return out.sort((a, b) => a.time - b.time);
}

/** The user's item sequence at a query, oldest first: the history, then the context item unless it is the last history item. */
export function querySequence(q: Pick<RankQuery, 'history' | 'context'>): string[] {
  const seq = [...q.history];
  if (q.context !== null && seq[seq.length - 1] !== q.context) seq.push(q.context);
  return seq;
}

/** The last n entries of a sequence (all of it when n ≥ its length, n may be Infinity). */
export function lastEntries<T>(seq: readonly T[], n: number): T[] {
  return n >= seq.length ? [...seq] : seq.slice(seq.length - n);
}

/**
 * The distinct items of a window, most recent first, each with its age: how many steps its most recent
 * occurrence lies before the end of the window (0 for the last entry).
 */
export function recentDistinct(window: readonly string[]): { item: string; age: number }[] {
  const out: { item: string; age: number }[] = [];
  const seen = new Set<string>();
  for (let p = window.length - 1; p >= 0; p--) {
    const item = window[p]!;
    if (seen.has(item)) continue;
    seen.add(item);
    out.push({ item, age: window.length - 1 - p });
  }
  return out;
}

/** A check returns null when the value is fine, else what it should have been ("a positive integer"). */
export type OptionCheck = (value: unknown) => string | null;

export const positiveInteger: OptionCheck = (v) => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? null : 'a positive integer');
export const positiveIntegerOrInfinity: OptionCheck = (v) =>
  v === Number.POSITIVE_INFINITY || positiveInteger(v) === null ? null : 'a positive integer or Infinity';
export const nonNegativeNumber: OptionCheck = (v) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? null : 'a finite number ≥ 0');
export const boolean: OptionCheck = (v) => (typeof v === 'boolean' ? null : 'true or false');
export function oneOf(values: readonly string[]): OptionCheck {
  return (v) => (typeof v === 'string' && values.includes(v) ? null : `one of ${values.map((x) => `'${x}'`).join(', ')}`);
}
/** lo < v ≤ hi. */
export function inHalfOpen(lo: number, hi: number): OptionCheck {
  return (v) => (typeof v === 'number' && v > lo && v <= hi ? null : `a number in (${lo}, ${hi}]`);
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : typeof v === 'number' ? String(v) : JSON.stringify(v) ?? String(v);
}

/**
 * The defaults overridden by the given options, every option checked; an error names the model and the
 * option, e.g. "SKNN: option 'neighbours' must be a positive integer, got 0". Unknown options are errors.
 */
export function resolveOptions<T extends object>(owner: string, defaults: Readonly<T>, given: Partial<T>, checks: { readonly [K in keyof T]: OptionCheck }): Readonly<T> {
  for (const k of Object.keys(given)) {
    if (!(k in defaults)) throw new Error(`${owner}: unknown option '${k}' (known: ${Object.keys(defaults).join(', ')})`);
  }
  const merged = { ...defaults } as T;
  for (const [k, v] of Object.entries(given)) if (v !== undefined) (merged as Record<string, unknown>)[k] = v;
  for (const k of Object.keys(checks) as (keyof T & string)[]) {
    const problem = checks[k]((merged as Record<string, unknown>)[k]);
    if (problem !== null) throw new Error(`${owner}: option '${k}' must be ${problem}, got ${show((merged as Record<string, unknown>)[k])}`);
  }
  return Object.freeze(merged);
}
