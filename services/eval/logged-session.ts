/**
 * The logged-session format (README.md beside this file): one JSON object per line, one line per page
 * view of a (user, session, scenario). This file holds the runtime types and the pure parse/validate/format
 * functions; reading and writing files is jsonl-file.ts's.
 */
import { BEHAVIOURS, isScenario, type Behaviour, type Scenario } from '../common/index.js';

export interface ShownItem {
  readonly id: string;
  readonly behaviour: Behaviour;
  /** Side information where the log has it (trivago: the displayed price). */
  readonly price?: number;
}

export interface PageView {
  readonly userId: string;
  readonly sessionId: string;
  /** Event time of the view, epoch milliseconds. */
  readonly time: number;
  /** 0-based position of the view within its session. */
  readonly step: number;
  readonly scenario: Scenario;
  /** The user's clicked (or purchased) item ids before this view, oldest first, across sessions. */
  readonly history: readonly string[];
  /** The item whose page this is (a detail page), or null. */
  readonly context: string | null;
  /** The shown items in display order, each with the user's behaviour on it. */
  readonly items: readonly ShownItem[];
}

/** A line that is not a valid page view; `line` is 1-based. */
export class LoggedSessionError extends Error {
  constructor(readonly line: number, readonly field: string, detail: string) {
    super(`line ${line}: ${field ? `${field}: ` : ''}${detail}`);
    this.name = 'LoggedSessionError';
  }
}

/** Behaviours that make an item relevant in the offline metrics and join the state (DESIGN.md §2). */
export const RELEVANT_BEHAVIOURS: readonly Behaviour[] = ['click', 'purchase'];

export function isRelevant(b: Behaviour): boolean {
  return RELEVANT_BEHAVIOURS.includes(b);
}

function nonEmptyString(line: number, field: string, v: unknown): string {
  if (typeof v !== 'string' || v.length === 0) throw new LoggedSessionError(line, field, `expected a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

function nonNegativeInt(line: number, field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new LoggedSessionError(line, field, `expected a non-negative integer, got ${JSON.stringify(v)}`);
  return v;
}

/** Validates one parsed JSON value as a page view (line = its 1-based line number, for the errors). */
export function validatePageView(value: unknown, line: number): PageView {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new LoggedSessionError(line, '', 'expected a JSON object');
  const o = value as Record<string, unknown>;
  const known = new Set(['userId', 'sessionId', 'time', 'step', 'scenario', 'history', 'context', 'items']);
  for (const k of Object.keys(o)) if (!known.has(k)) throw new LoggedSessionError(line, k, 'unknown field');
  const userId = nonEmptyString(line, 'userId', o.userId);
  const sessionId = nonEmptyString(line, 'sessionId', o.sessionId);
  const time = nonNegativeInt(line, 'time', o.time);
  const step = nonNegativeInt(line, 'step', o.step);
  if (!isScenario(o.scenario)) throw new LoggedSessionError(line, 'scenario', `expected one of entrance, detail, cart, order, got ${JSON.stringify(o.scenario)}`);
  if (!Array.isArray(o.history)) throw new LoggedSessionError(line, 'history', 'expected an array of item ids');
  const history = o.history.map((h, i) => nonEmptyString(line, `history[${i}]`, h));
  const context = o.context === null || o.context === undefined ? null : nonEmptyString(line, 'context', o.context);
  if (!Array.isArray(o.items) || o.items.length === 0) throw new LoggedSessionError(line, 'items', 'expected a non-empty array of shown items');
  const seen = new Set<string>();
  const items = o.items.map((it, i): ShownItem => {
    const f = `items[${i}]`;
    if (typeof it !== 'object' || it === null || Array.isArray(it)) throw new LoggedSessionError(line, f, 'expected an object {id, behaviour, price?}');
    const r = it as Record<string, unknown>;
    for (const k of Object.keys(r)) if (k !== 'id' && k !== 'behaviour' && k !== 'price') throw new LoggedSessionError(line, `${f}.${k}`, 'unknown field');
    const id = nonEmptyString(line, `${f}.id`, r.id);
    if (seen.has(id)) throw new LoggedSessionError(line, `${f}.id`, `item '${id}' is shown twice in one view`);
    seen.add(id);
    if (typeof r.behaviour !== 'string' || !(BEHAVIOURS as readonly string[]).includes(r.behaviour)) {
      throw new LoggedSessionError(line, `${f}.behaviour`, `expected one of ${BEHAVIOURS.join(', ')}, got ${JSON.stringify(r.behaviour)}`);
    }
    if (r.price !== undefined && (typeof r.price !== 'number' || !Number.isFinite(r.price))) {
      throw new LoggedSessionError(line, `${f}.price`, `expected a finite number, got ${JSON.stringify(r.price)}`);
    }
    return r.price === undefined ? { id, behaviour: r.behaviour as Behaviour } : { id, behaviour: r.behaviour as Behaviour, price: r.price };
  });
  if (items.filter((it) => it.behaviour === 'leave').length > 1) throw new LoggedSessionError(line, 'items', 'at most one item may carry a leave');
  return { userId, sessionId, time, step, scenario: o.scenario, history, context, items };
}

/** Parses one line of the format. */
export function parsePageViewLine(text: string, line: number): PageView {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new LoggedSessionError(line, '', `not valid JSON (${(err as Error).message})`);
  }
  return validatePageView(value, line);
}

/** One line of the format (no newline), fields in the documented order. */
export function formatPageViewLine(v: PageView): string {
  return JSON.stringify({
    userId: v.userId,
    sessionId: v.sessionId,
    time: v.time,
    step: v.step,
    scenario: v.scenario,
    history: v.history,
    context: v.context,
    items: v.items.map((it) => (it.price === undefined ? { id: it.id, behaviour: it.behaviour } : { id: it.id, behaviour: it.behaviour, price: it.price })),
  });
}

/** Parses a whole document; blank lines are allowed and skipped. */
export function parsePageViews(text: string): PageView[] {
  const out: PageView[] = [];
  text.split('\n').forEach((raw, i) => {
    if (raw.trim() === '') return;
    out.push(parsePageViewLine(raw, i + 1));
  });
  return out;
}

export function formatPageViews(views: readonly PageView[]): string {
  return views.map((v) => formatPageViewLine(v) + '\n').join('');
}

/** Key of a view's session: user and session together (session ids are only unique per user in some logs). */
export function sessionKey(v: Pick<PageView, 'userId' | 'sessionId'>): string {
  return `${v.userId}\u0000${v.sessionId}`;
}

/** Views grouped by session, each session's views in (time, step) order, sessions in order of first view. */
export function groupSessions(views: readonly PageView[]): PageView[][] {
  const by = new Map<string, PageView[]>();
  for (const v of views) {
    const k = sessionKey(v);
    const s = by.get(k);
    if (s) s.push(v);
    else by.set(k, [v]);
  }
  const sessions = [...by.values()].map((s) => [...s].sort((a, b) => a.time - b.time || a.step - b.step));
  return sessions.sort((a, b) => a[0]!.time - b[0]!.time || (a[0]!.userId < b[0]!.userId ? -1 : a[0]!.userId > b[0]!.userId ? 1 : 0));
}
