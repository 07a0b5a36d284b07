/**
 * trivago RecSys Challenge 2019 rows → logged page views (pure; the Parquet edge is trivago-parquet.ts).
 * The mapping follows ../shared/data/trivago/README.md, "Mapping to the two DeepChain scenarios"; the
 * choices it leaves open are listed in README.md beside this file and marked (choice) below.
 *
 * - Entrance view: one per `clickout item` row; shown items = `impressions` in display order with
 *   `prices`; the clicked `reference` is the click, every other shown item a skip (choice: items below the
 *   click are kept as skips, so the offline test re-ranks the whole list, as the paper's Algorithm 3 does).
 * - Detail view (derived): one per maximal run of consecutive item-level actions (`interaction item *`,
 *   `search for item`); shown items = the impressions of the next clickout if it directly follows the
 *   run, else of the previous clickout if it directly precedes it (a list-changing action in between
 *   forbids borrowing); items interacted with in the run are clicks. A run with no list to borrow has no view.
 *   (choice) context = null: the run's own items are its labels, so naming one as the page's item would
 *   leak a label.
 * - History: the user's earlier clicks across sessions: clickout references and the items of each detail
 *   run (in first-interaction order), consecutive repeats collapsed, the last `historyLimit` kept.
 * - Leave: a session whose last action is not a clickout was abandoned; its last view gets a leave on the
 *   first unclicked item after its last click (choice; DESIGN.md §3: the last item before a leave).
 * - Sessions: ordered by (timestamp, step) and split where `step` does not increase (reused session ids).
 */
import type { Behaviour } from '../common/index.js';
import type { PageView, ShownItem } from './logged-session.js';

export interface TrivagoRow {
  readonly user_id: string;
  readonly session_id: string;
  /** UNIX seconds. */
  readonly timestamp: number;
  readonly step: number;
  readonly action_type: string;
  readonly reference: string | null;
  readonly impressions: string | null;
  readonly prices: string | null;
}

export const CLICKOUT = 'clickout item';
export const ITEM_LEVEL_ACTIONS: readonly string[] = [
  'interaction item image', 'interaction item info', 'interaction item rating', 'interaction item deals', 'search for item',
];
export const LIST_CHANGING_ACTIONS: readonly string[] = [
  'search for destination', 'search for poi', 'filter selection', 'change of sort order',
];

export interface TrivagoImportStats {
  rows: number;
  users: number;
  sessions: number;
  entranceViews: number;
  detailViews: number;
  /** Detail runs without a neighbouring list to borrow. */
  detailRunsWithoutList: number;
  /** Clickouts whose reference is not among their impressions (kept, with no click). */
  clickoutsNotInList: number;
  /** Sessions ending without a clickout whose last view got a leave. */
  abandonedSessions: number;
  /** Rows dropped because a needed field was missing (a clickout without impressions, an item action without reference). */
  malformedRows: number;
}

export interface TrivagoImport {
  readonly views: PageView[];
  readonly stats: TrivagoImportStats;
}

interface Listed {
  items: string[];
  prices: (number | undefined)[];
}

function parseList(row: TrivagoRow): Listed | null {
  if (!row.impressions) return null;
  const items = row.impressions.split('|').filter((s) => s.length > 0);
  const p = row.prices ? row.prices.split('|') : [];
  const prices = items.map((_, i) => {
    const x = Number(p[i]);
    return p[i] !== undefined && Number.isFinite(x) ? x : undefined;
  });
  return items.length ? { items, prices } : null;
}

function shown(list: Listed, clicked: ReadonlySet<string>): ShownItem[] {
  const seen = new Set<string>();
  const out: ShownItem[] = [];
  list.items.forEach((id, i) => {
    if (seen.has(id)) return; // a list never shows an item twice; keep the first place if the log does
    seen.add(id);
    const behaviour: Behaviour = clicked.has(id) ? 'click' : 'skip';
    const price = list.prices[i];
    out.push(price === undefined ? { id, behaviour } : { id, behaviour, price });
  });
  return out;
}

/** Splits one session id's rows (already sorted by timestamp, step) where `step` does not increase. */
function splitReused(rows: readonly TrivagoRow[]): TrivagoRow[][] {
  const parts: TrivagoRow[][] = [];
  let last = 0;
  for (const r of rows) {
    // A new step sequence starts at 1 again (README: reused session ids).
    if (parts.length === 0 || (r.step === 1 && last >= 1)) parts.push([]);
    parts[parts.length - 1]!.push(r);
    last = r.step;
  }
  return parts;
}

/** Marks a leave on the first unclicked item after the last click of the view (DESIGN.md §3). */
export function withLeave(view: PageView): PageView {
  let lastClick = -1;
  view.items.forEach((it, i) => {
    if (it.behaviour === 'click' || it.behaviour === 'purchase') lastClick = i;
  });
  let at = view.items.findIndex((it, i) => i > lastClick && it.behaviour === 'skip');
  if (at < 0) at = view.items.findIndex((it) => it.behaviour === 'skip');
  if (at < 0) return view;
  return { ...view, items: view.items.map((it, i) => (i === at ? { ...it, behaviour: 'leave' } : it)) };
}

export function convertTrivago(rows: readonly TrivagoRow[], options: { historyLimit?: number } = {}): TrivagoImport {
  const historyLimit = options.historyLimit ?? 50;
  const stats: TrivagoImportStats = {
    rows: rows.length, users: 0, sessions: 0, entranceViews: 0, detailViews: 0,
    detailRunsWithoutList: 0, clickoutsNotInList: 0, abandonedSessions: 0, malformedRows: 0,
  };
  // user → session id → rows
  const byUser = new Map<string, Map<string, TrivagoRow[]>>();
  for (const r of rows) {
    let u = byUser.get(r.user_id);
    if (!u) byUser.set(r.user_id, (u = new Map()));
    const s = u.get(r.session_id);
    if (s) s.push(r);
    else u.set(r.session_id, [r]);
  }
  stats.users = byUser.size;
  const views: PageView[] = [];
  const users = [...byUser.keys()].sort();
  for (const user of users) {
    const sessions: { id: string; rows: TrivagoRow[] }[] = [];
    for (const [sid, srows] of byUser.get(user)!) {
      const sorted = [...srows].sort((a, b) => a.timestamp - b.timestamp || a.step - b.step);
      splitReused(sorted).forEach((part, i) => sessions.push({ id: i === 0 ? sid : `${sid}#${i + 1}`, rows: part }));
    }
    sessions.sort((a, b) => a.rows[0]!.timestamp - b.rows[0]!.timestamp || (a.id < b.id ? -1 : 1));
    const history: string[] = [];
    const remember = (id: string) => {
      if (history[history.length - 1] !== id) history.push(id);
      if (history.length > historyLimit) history.splice(0, history.length - historyLimit);
    };
    for (const session of sessions) {
      stats.sessions++;
      const rs = session.rows.filter((r) => {
        const needsRef = r.action_type === CLICKOUT || ITEM_LEVEL_ACTIONS.includes(r.action_type);
        const ok = !(needsRef && !r.reference) && !(r.action_type === CLICKOUT && !parseList(r));
        if (!ok) stats.malformedRows++;
        return ok;
      });
      const sessionViews: PageView[] = [];
      const push = (v: Omit<PageView, 'step' | 'userId' | 'sessionId'>) =>
        sessionViews.push({ userId: user, sessionId: session.id, step: sessionViews.length, ...v });
      let i = 0;
      while (i < rs.length) {
        const r = rs[i]!;
        if (r.action_type === CLICKOUT) {
          const list = parseList(r)!;
          const ref = r.reference!;
          if (!list.items.includes(ref)) stats.clickoutsNotInList++;
          push({ time: r.timestamp * 1000, scenario: 'entrance', history: [...history], context: null, items: shown(list, new Set([ref])) });
          stats.entranceViews++;
          remember(ref);
          i++;
          continue;
        }
        if (!ITEM_LEVEL_ACTIONS.includes(r.action_type)) {
          i++;
          continue;
        }
        // A maximal run of item-level actions: rs[i..j).
        let j = i;
        while (j < rs.length && ITEM_LEVEL_ACTIONS.includes(rs[j]!.action_type)) j++;
        const touched: string[] = [];
        for (let k = i; k < j; k++) if (!touched.includes(rs[k]!.reference!)) touched.push(rs[k]!.reference!);
        const next = rs[j];
        const prev = rs[i - 1];
        const list = next?.action_type === CLICKOUT ? parseList(next) : prev?.action_type === CLICKOUT ? parseList(prev) : null;
        if (list) {
          push({ time: r.timestamp * 1000, scenario: 'detail', history: [...history], context: null, items: shown(list, new Set(touched)) });
          stats.detailViews++;
        } else {
          stats.detailRunsWithoutList++;
        }
        for (const id of touched) remember(id);
        i = j;
      }
      const lastRow = rs[rs.length - 1];
      if (lastRow && lastRow.action_type !== CLICKOUT && sessionViews.length > 0) {
        sessionViews[sessionViews.length - 1] = withLeave(sessionViews[sessionViews.length - 1]!);
        stats.abandonedSessions++;
      }
      views.push(...sessionViews);
    }
  }
  views.sort((a, b) => a.time - b.time || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0) || (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0) || a.step - b.step);
  return { views, stats };
}
