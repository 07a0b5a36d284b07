/**
 * The session baselines SKNN (V-SKNN), item-kNN and history-first on tiny hand-made training sets whose
 * scores are worked out by hand in the comments, plus the properties every ranker needs: a permutation of
 * the query's items, ties and unknown items in display order, empty histories, 2,000 candidates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Behaviour } from '../../services/common/index.js';
import { isRelevant, type PageView } from '../../services/eval/logged-session.js';
import { algorithm3, type Observe, type RankQuery, type Ranker } from '../../services/eval/ranker.js';
import { DEFAULT_HISTORY_FIRST, historyFirstScores, HistoryFirstRanker } from '../../services/eval/rankers/history-first.js';
import { CoOccurrence, DEFAULT_ITEM_KNN, itemKnnScores, ItemKnnRanker, recencyWeights, type ItemVectors } from '../../services/eval/rankers/item-knn.js';
import { lastEntries, querySequence, recentDistinct, trainingSessions } from '../../services/eval/rankers/sequence-kit.js';
import { DEFAULT_SKNN, positionWeights, SessionIndex, sknnScores, SknnRanker } from '../../services/eval/rankers/sknn.js';
import { seededRandom } from '../../services/model/index.js';

/** One training session as one view in which every listed item (space-separated) is clicked. */
function session(sessionId: string, time: number, clicked: string, userId = `u-${sessionId}`): PageView {
  return {
    userId, sessionId, time, step: 0, scenario: 'entrance', history: [], context: null,
    items: clicked.split(' ').map((id) => ({ id, behaviour: 'click' as Behaviour })),
  };
}

function query(items: string, history: string[] = [], context: string | null = null): RankQuery {
  return { userId: 'q', sessionId: 'qs', time: 1000, scenario: context ? 'detail' : 'entrance', history, context, items: items.split(' ').map((id) => ({ id })) };
}

const skipAll: Observe = () => 'skip';
const ids = (q: RankQuery) => q.items.map((it) => it.id);

async function trained<R extends Ranker>(r: R, views: PageView[]): Promise<R> {
  let last = 0;
  await r.train(views, (done, total) => (last = done / total));
  assert.equal(last, 1, `${r.name} reports its progress to the end`);
  return r;
}

function close(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} ≠ ${expected}`);
}

// ---------------------------------------------------------------------------------------------------------
// SKNN. Training sessions, by recency (session number = position):
//   0 (t=1): a b     1 (t=2): c d     2 (t=3): a c e     3 (t=4): f g     4 (t=5): c h     5 (t=6): b g
const sknnTrain = (): PageView[] => [
  session('S0', 1, 'a b'), session('S1', 2, 'c d'), session('S2', 3, 'a c e'),
  session('S3', 4, 'f g'), session('S4', 5, 'c h'), session('S5', 6, 'b g'),
];

test('SKNN: linear position weights p/n, the most recent position of a repeated item', () => {
  assert.deepEqual([...positionWeights(['a', 'c'], 'linear')], [['a', 0.5], ['c', 1]]);
  // [a, b, a]: a at positions 1 and 3 → 3/3; b at 2 → 2/3.
  assert.deepEqual([...positionWeights(['a', 'b', 'a'], 'linear')], [['a', 1], ['b', 2 / 3]]);
  assert.deepEqual([...positionWeights(['a', 'b'], 'quadratic')], [['a', 0.25], ['b', 1]]);
  assert.deepEqual([...positionWeights(['a', 'b'], 'same')], [['a', 1], ['b', 1]]);
});

test('SKNN: exact similarities and scores with every sharing session as a neighbour', () => {
  const index = SessionIndex.fromViews(sknnTrain());
  assert.deepEqual(index.sessions, [['a', 'b'], ['c', 'd'], ['a', 'c', 'e'], ['f', 'g'], ['c', 'h'], ['b', 'g']]);
  assert.deepEqual([...index.sessionsOf('c')], [1, 2, 4]);
  // Current session s = [a, c]: w(a) = 1/2, w(c) = 2/2 = 1.
  // Sharing sessions: a → 0, 2; c → 1, 2, 4 (3 and 5 share nothing).
  // sim: S0 {a,b} = 0.5; S1 {c,d} = 1; S2 {a,c,e} = 0.5 + 1 = 1.5; S4 {c,h} = 1.
  // Neighbours by similarity, ties to the more recent: S2 1.5, S4 1, S1 1, S0 0.5.
  // score: a = S0 + S2 = 2; b = S0 = 0.5; c = S1 + S2 + S4 = 3.5; d = S1 = 1; e = S2 = 1.5; h = S4 = 1.
  const r = sknnScores(index, ['a', 'c'], DEFAULT_SKNN);
  assert.deepEqual(r.neighbours, [{ session: 2, similarity: 1.5 }, { session: 4, similarity: 1 }, { session: 1, similarity: 1 }, { session: 0, similarity: 0.5 }]);
  assert.deepEqual(Object.fromEntries(r.scores), { a: 2, b: 0.5, c: 3.5, d: 1, e: 1.5, h: 1 });
});

test('SKNN: the ranking follows the scores, ties and unscored items in display order', async () => {
  const sknn = await trained(new SknnRanker(), sknnTrain());
  // Display order g b d e a c h x with the scores above: g 0, b 0.5, d 1, e 1.5, a 2, c 3.5, h 1, x 0.
  // c 3.5 > a 2 > e 1.5 > d 1 = h 1 (d shown first) > b 0.5 > g 0 = x 0 (display order).
  // (With the recency weighting reversed, w(a) = 1, w(c) = 0.5, a and c would tie at 2.5 and b would beat d.)
  const q = query('g b d e a c h x', ['a', 'c']);
  assert.deepEqual(sknn.rank(q, skipAll), ['c', 'a', 'e', 'd', 'h', 'b', 'g', 'x']);
  // The context item is the most recent item of the current session: history [a] + context c is s = [a, c].
  assert.deepEqual(sknn.rank(query('g b d e a c h x', ['a'], 'c'), skipAll), ['c', 'a', 'e', 'd', 'h', 'b', 'g', 'x']);
  // A context equal to the last history item is not counted twice: s = [a, c] again, not [a, c, c].
  assert.deepEqual(sknn.rank(query('g b d e a c h x', ['a', 'c'], 'c'), skipAll), ['c', 'a', 'e', 'd', 'h', 'b', 'g', 'x']);
});

test('SKNN: the sample takes the most recent sharing sessions, the neighbours the most similar of them', () => {
  const index = SessionIndex.fromViews(sknnTrain());
  // s = [a, c]; sharing sessions from the most recent: S4, S2, S1, S0. sampleSize 3 → S4 1, S2 1.5, S1 1.
  // neighbours 2 → S2 1.5, then S4 (1, more recent than S1). Scores: a 1.5, c 1.5 + 1 = 2.5, e 1.5, h 1.
  const r = sknnScores(index, ['a', 'c'], { neighbours: 2, sampleSize: 3, weighting: 'linear' });
  assert.deepEqual(r.neighbours, [{ session: 2, similarity: 1.5 }, { session: 4, similarity: 1 }]);
  assert.deepEqual(Object.fromEntries(r.scores), { a: 1.5, c: 2.5, e: 1.5, h: 1 });
});

test('SKNN: historyLength cuts the current session; the ranking with a small sample', async () => {
  const sknn = await trained(new SknnRanker({ neighbours: 2, sampleSize: 3 }), sknnTrain());
  // Scores as in the test above: c 2.5 > e 1.5 = a 1.5 (e shown first) > h 1 > g b d x (0, display order).
  assert.deepEqual(sknn.rank(query('g b d e a c h x', ['a', 'c']), skipAll), ['c', 'e', 'a', 'h', 'g', 'b', 'd', 'x']);
  // historyLength 1: s = [c] (w 1): sessions S4, S2, S1 (sample 3), all similarity 1 → the two most recent,
  // S4 and S2: c 2, h 1, a 1, e 1 → c, e, a, h (display order among the ties), then the zeros.
  const short = await trained(new SknnRanker({ neighbours: 2, sampleSize: 3, historyLength: 1 }), sknnTrain());
  assert.deepEqual(sknnScores(SessionIndex.fromViews(sknnTrain()), ['c'], { neighbours: 2, sampleSize: 3, weighting: 'linear' }).neighbours.map((n) => n.session), [4, 2]);
  assert.deepEqual(short.rank(query('g b d e a c h x', ['a', 'c']), skipAll), ['c', 'e', 'a', 'h', 'g', 'b', 'd', 'x']);
  // h and a tie at 1 under s = [c] (display order: h, a); under the whole s = [a, c] a would score 1.5 > h 1.
  assert.deepEqual(short.rank(query('h a', ['a', 'c']), skipAll), ['h', 'a']);
  assert.deepEqual(sknn.rank(query('h a', ['a', 'c']), skipAll), ['a', 'h']);
});

test('SKNN: under Algorithm 3 a clicked item joins the current session and the rest are scored again', async () => {
  const sknn = await trained(new SknnRanker(), sknnTrain());
  // s = [a] (w 1): S0 {a,b} 1, S2 {a,c,e} 1 → a 2, b 1, c 1, e 1. Display g b e c a d x.
  // a (skip) is placed first, then b (click; ties b, e, c in display order). s = [a, b]: w(a) 0.5, w(b) 1:
  // S0 1.5, S2 0.5, S5 {b,g} 1 → g 1, e 0.5, c 0.5, d 0, x 0 for the remaining → g, e, c, d, x.
  const observe: Observe = (id) => (id === 'b' ? 'click' : 'skip');
  assert.deepEqual(sknn.rank(query('g b e c a d x', ['a']), observe), ['a', 'b', 'g', 'e', 'c', 'd', 'x']);
  // Without feedback (online): a, then b e c (1, display order), then g d x (0).
  assert.deepEqual(sknn.rank(query('g b e c a d x', ['a']), skipAll), ['a', 'b', 'e', 'c', 'g', 'd', 'x']);
});

test('SKNN: options are checked and named in the error', () => {
  assert.deepEqual(DEFAULT_SKNN, { neighbours: 100, sampleSize: 500, weighting: 'linear', historyLength: 20 });
  assert.equal(new SknnRanker().name, 'SKNN');
  assert.throws(() => new SknnRanker({ neighbours: 0 }), /SKNN: option 'neighbours' must be a positive integer, got 0/);
  assert.throws(() => new SknnRanker({ sampleSize: 2.5 }), /option 'sampleSize'/);
  assert.throws(() => new SknnRanker({ weighting: 'log' as never }), /option 'weighting' must be one of 'linear', 'quadratic', 'same', got "log"/);
  assert.throws(() => new SknnRanker({ historyLength: -1 }), /option 'historyLength' must be a positive integer or Infinity/);
  assert.throws(() => new SknnRanker({ neighbors: 5 } as never), /SKNN: unknown option 'neighbors'/);
  assert.equal(new SknnRanker({ historyLength: Infinity }).options.historyLength, Infinity);
  assert.throws(() => new SknnRanker().rank(query('a'), skipAll), /not trained/);
});

// ---------------------------------------------------------------------------------------------------------
// item-kNN. Training sessions: T0 a b; T1 a b c; T2 a c; T3 b d; T4 e f.
//   n: a 3, b 3, c 2, d 1, e 1, f 1.
//   sim(a,b) = 2/√9 = 2/3; sim(a,c) = 2/√6; sim(b,c) = 1/√6; sim(b,d) = 1/√3; sim(e,f) = 1/√1 = 1; others 0.
const knnTrain = (): PageView[] => [session('T0', 1, 'a b'), session('T1', 2, 'a b c'), session('T2', 3, 'a c'), session('T3', 4, 'b d'), session('T4', 5, 'e f')];

test('item-kNN: cosine co-occurrence similarities', () => {
  const co = CoOccurrence.fromViews(knnTrain());
  close(co.similarity('a', 'b'), 2 / 3, 'a,b');
  close(co.similarity('b', 'a'), 2 / 3, 'b,a');
  close(co.similarity('a', 'c'), 2 / Math.sqrt(6), 'a,c');
  close(co.similarity('b', 'c'), 1 / Math.sqrt(6), 'b,c');
  close(co.similarity('b', 'd'), 1 / Math.sqrt(3), 'b,d');
  close(co.similarity('e', 'f'), 1, 'e,f');
  assert.equal(co.similarity('a', 'd'), 0);
  assert.equal(co.similarity('a', 'a'), 0, 'an item is not its own neighbour');
  assert.equal(co.similarity('a', 'zz'), 0);
  assert.deepEqual([...co.neighbours('d').keys()], ['b']);
});

test('item-kNN: recency weights decay^age over the distinct items of the last entries', () => {
  assert.deepEqual(recencyWeights(['d', 'b', 'a'], DEFAULT_ITEM_KNN), [{ item: 'a', weight: 1 }, { item: 'b', weight: 0.5 }, { item: 'd', weight: 0.25 }]);
  // [x, a, b, a]: the last 3 entries are [a, b, a] → a (age 0) 1, b (age 1) 0.5; x lies outside the window.
  assert.deepEqual(recencyWeights(['x', 'a', 'b', 'a'], DEFAULT_ITEM_KNN), [{ item: 'a', weight: 1 }, { item: 'b', weight: 0.5 }]);
  assert.deepEqual(recencyWeights(['d', 'b', 'a'], { lastItems: 1, decay: 0.5 }), [{ item: 'a', weight: 1 }]);
});

test('item-kNN: exact scores and the ranking over the last three items', async () => {
  const co = CoOccurrence.fromViews(knnTrain());
  // History [d, b, a]: a weighs 1, b 0.5, d 0.25.
  //   c = 1·sim(a,c) + 0.5·sim(b,c) = 2/√6 + 0.5/√6 = 2.5/√6 ≈ 1.0206
  //   b = 1·sim(a,b) + 0.25·sim(d,b) = 2/3 + 0.25/√3 ≈ 0.8110
  //   a = 0.5·sim(b,a) = 1/3 ≈ 0.3333
  //   d = 0.5·sim(b,d) = 0.5/√3 ≈ 0.2887
  //   x, f, e = 0
  const cand = ['x', 'f', 'd', 'b', 'a', 'c', 'e'];
  const s = itemKnnScores(co, ['d', 'b', 'a'], cand, DEFAULT_ITEM_KNN);
  [0, 0, 0.5 / Math.sqrt(3), 2 / 3 + 0.25 / Math.sqrt(3), 1 / 3, 2.5 / Math.sqrt(6), 0].forEach((v, k) => close(s[k]!, v, cand[k]!));
  const knn = await trained(new ItemKnnRanker(), knnTrain());
  // c > b > a > d, then x f e in display order. (Reversed weights, d 1 and a 0.25, would put b ≈ 0.744 above c ≈ 0.408.)
  assert.deepEqual(knn.rank(query('x f d b a c e', ['d', 'b', 'a']), skipAll), ['c', 'b', 'a', 'd', 'x', 'f', 'e']);
  // The context item is the most recent: history [d, b] + context a is the same sequence.
  assert.deepEqual(knn.rank(query('x f d b a c e', ['d', 'b'], 'a'), skipAll), ['c', 'b', 'a', 'd', 'x', 'f', 'e']);
  // lastItems 1 (the classic item-kNN): only a → c 2/√6 ≈ 0.816 > b 2/3, the rest 0 in display order.
  const one = await trained(new ItemKnnRanker({ lastItems: 1 }), knnTrain());
  assert.deepEqual(one.rank(query('x f d b a c e', ['d', 'b', 'a']), skipAll), ['c', 'b', 'x', 'f', 'd', 'a', 'e']);
  // decay 1: all three weigh 1 → b = 2/3 + 1/√3 ≈ 1.2440 > c = 2/√6 + 1/√6 ≈ 1.2247 > a = 2/3 > d = 1/√3 ≈ 0.577.
  const flat = await trained(new ItemKnnRanker({ decay: 1 }), knnTrain());
  assert.deepEqual(flat.rank(query('x f d b a c e', ['d', 'b', 'a']), skipAll), ['b', 'c', 'a', 'd', 'x', 'f', 'e']);
});

test('item-kNN: under Algorithm 3 a clicked item joins the sequence', async () => {
  const knn = await trained(new ItemKnnRanker(), knnTrain());
  // History [d]: b = sim(d,b) ≈ 0.577, the rest 0 → b placed first and clicked. Sequence [d, b]: b weighs 1,
  // d 0.5 → a = 2/3, d = 1/√3 ≈ 0.577, c = 1/√6 ≈ 0.408, x 0 → a, d, c, x.
  const observe: Observe = (id) => (id === 'b' ? 'click' : 'skip');
  assert.deepEqual(knn.rank(query('x c b a d', ['d']), observe), ['b', 'a', 'd', 'c', 'x']);
  assert.deepEqual(knn.rank(query('x c b a d', ['d']), skipAll), ['b', 'x', 'c', 'a', 'd']);
});

test('item-kNN: the optional embedding term adds β·max(0, cosine), never for the item itself', async () => {
  // Unit vectors in 2-d (row 0: the zero vector of unknown items): a (1,0), b (0,1), c (0.6,0.8), e (-1,0).
  const rows: Record<string, number> = { a: 1, b: 2, c: 3, e: 4 };
  const vectors: ItemVectors = { dimension: 2, vectors: Float32Array.from([0, 0, 1, 0, 0, 1, 0.6, 0.8, -1, 0]), index: (id: string) => rows[id] ?? 0 };
  const co = CoOccurrence.fromViews(knnTrain());
  const o = { ...DEFAULT_ITEM_KNN, lastItems: 1, embeddingWeight: 0.5 };
  // History [a]: co-occurrence b 2/3, c 2/√6; embedding: b 0.5·0 = 0, c 0.5·0.6 = 0.3, e 0.5·max(0, −1) = 0,
  // a itself nothing, x (unknown) 0.
  const s = itemKnnScores(co, ['a'], ['a', 'b', 'c', 'e', 'x'], o, vectors);
  [0, 2 / 3, 2 / Math.sqrt(6) + 0.5 * Math.fround(0.6), 0, 0].forEach((v, k) => close(s[k]!, v, `candidate ${k}`));
  const knn = await trained(new ItemKnnRanker({ lastItems: 1, embeddingWeight: 0.5 }, vectors), knnTrain());
  assert.deepEqual(knn.rank(query('x e a b c', ['a']), skipAll), ['c', 'b', 'x', 'e', 'a']);
  assert.throws(() => new ItemKnnRanker({ embeddingWeight: 0.5 }), /item-kNN: option 'embeddingWeight' is 0.5 but no ItemSpace was given/);
});

test('item-kNN: options are checked and named in the error', () => {
  assert.deepEqual(DEFAULT_ITEM_KNN, { lastItems: 3, decay: 0.5, embeddingWeight: 0 });
  assert.equal(new ItemKnnRanker().name, 'item-kNN');
  assert.throws(() => new ItemKnnRanker({ lastItems: 0 }), /item-kNN: option 'lastItems' must be a positive integer, got 0/);
  assert.throws(() => new ItemKnnRanker({ decay: 0 }), /option 'decay' must be a number in \(0, 1\], got 0/);
  assert.throws(() => new ItemKnnRanker({ decay: 1.5 }), /option 'decay'/);
  assert.throws(() => new ItemKnnRanker({ embeddingWeight: -1 }), /option 'embeddingWeight' must be a finite number ≥ 0/);
  assert.throws(() => new ItemKnnRanker({ last: 3 } as never), /unknown option 'last'/);
  assert.throws(() => new ItemKnnRanker().rank(query('a'), skipAll), /not trained/);
});

// ---------------------------------------------------------------------------------------------------------
test('history-first: history items most recent first, the context item the most recent of all', async () => {
  const hf = await trained(new HistoryFirstRanker(), []);
  // History [a, b, c, a]: distinct by most recent occurrence a (K=3), c (2), b (1); x, y 0 in display order.
  assert.deepEqual(Object.fromEntries(historyFirstScores({ history: ['a', 'b', 'c', 'a'], context: null }, DEFAULT_HISTORY_FIRST)), { a: 3, c: 2, b: 1 });
  assert.deepEqual(hf.rank(query('x b y c a', ['a', 'b', 'c', 'a'])), ['a', 'c', 'b', 'x', 'y']);
  // Context d: the sequence [a, b, c, a, d] → d 4, a 3, c 2, b 1.
  assert.deepEqual(hf.rank(query('x b y c a d', ['a', 'b', 'c', 'a'], 'd')), ['d', 'a', 'c', 'b', 'x', 'y']);
  // contextFirst false: the context does not count (d keeps its display place among the others).
  const noContext = new HistoryFirstRanker({ contextFirst: false });
  assert.deepEqual(noContext.rank(query('x b y c a d', ['a', 'b', 'c', 'a'], 'd')), ['a', 'c', 'b', 'x', 'y', 'd']);
  // historyLength 2: only the last two entries [c, a] → a, c; then x b y in display order.
  const short = new HistoryFirstRanker({ historyLength: 2 });
  assert.deepEqual(short.rank(query('x b y c a', ['a', 'b', 'c', 'a'])), ['a', 'c', 'x', 'b', 'y']);
  // (Oldest first instead would give b, c, a.)
});

test('history-first: options are checked and named in the error', () => {
  assert.deepEqual(DEFAULT_HISTORY_FIRST, { historyLength: Infinity, contextFirst: true });
  assert.equal(new HistoryFirstRanker().name, 'history-first');
  assert.throws(() => new HistoryFirstRanker({ historyLength: 0 }), /history-first: option 'historyLength' must be a positive integer or Infinity, got 0/);
  assert.throws(() => new HistoryFirstRanker({ contextFirst: 'yes' as never }), /option 'contextFirst' must be true or false, got "yes"/);
});

// ---------------------------------------------------------------------------------------------------------
test('shared pieces: training sessions, the query sequence, windows', () => {
  const views: PageView[] = [
    { userId: 'u', sessionId: 's', time: 5, step: 1, scenario: 'detail', history: ['h', 'a'], context: 'a', items: [{ id: 'b', behaviour: 'click' }, { id: 'a', behaviour: 'purchase' }] },
    { userId: 'u', sessionId: 's', time: 1, step: 0, scenario: 'entrance', history: ['h'], context: null, items: [{ id: 'z', behaviour: 'skip' }, { id: 'a', behaviour: 'click' }] },
    { userId: 'v', sessionId: 's', time: 2, step: 0, scenario: 'entrance', history: [], context: null, items: [{ id: 'y', behaviour: 'skip' }, { id: 'w', behaviour: 'leave' }] },
    { userId: 'v', sessionId: 't', time: 3, step: 0, scenario: 'entrance', history: [], context: null, items: [{ id: 'c', behaviour: 'click' }] },
  ];
  // u/s in step order: a, then b and a again (once); history h is not part of it; v/s has no click.
  // u/s starts first (t=1) but ends last (t=5): recency is the last view's time, so it comes after v/t (t=3).
  assert.deepEqual(trainingSessions(views), [{ items: ['c'], time: 3 }, { items: ['a', 'b'], time: 5 }]);
  assert.deepEqual(querySequence({ history: ['a', 'b'], context: 'c' }), ['a', 'b', 'c']);
  assert.deepEqual(querySequence({ history: ['a', 'b'], context: 'b' }), ['a', 'b']);
  assert.deepEqual(querySequence({ history: [], context: null }), []);
  assert.deepEqual(lastEntries(['a', 'b', 'c'], 2), ['b', 'c']);
  assert.deepEqual(lastEntries(['a', 'b', 'c'], Infinity), ['a', 'b', 'c']);
  assert.deepEqual(recentDistinct(['a', 'b', 'a', 'c']), [{ item: 'c', age: 0 }, { item: 'a', age: 1 }, { item: 'b', age: 2 }]);
});

/** The placement rule of Algorithm 3 written as plainly as possible: scan for the best remaining item each time. */
function referenceAlgorithm3(ids: readonly string[], score: (state: string[], ids: readonly string[]) => number[], observe: Observe): string[] {
  let state: string[] = [];
  let scores = score(state, ids);
  const remaining = new Set(ids.map((_, i) => i));
  const out: string[] = [];
  while (remaining.size > 0) {
    let best = -1;
    for (const i of remaining) if (best < 0 || scores[i]! > scores[best]!) best = i;
    remaining.delete(best);
    out.push(ids[best]!);
    if (remaining.size > 0 && isRelevant(observe(ids[best]!))) {
      state = [...state, ids[best]!];
      scores = score(state, ids);
    }
  }
  return out;
}

test('algorithm3 places and observes exactly what the plain scan does (random scores with ties, random clicks)', () => {
  const random = seededRandom(7);
  for (let trial = 0; trial < 300; trial++) {
    const n = 1 + Math.floor(random() * 12);
    const list = Array.from({ length: n }, (_, i) => `i${i}`);
    const clicks = new Set(list.filter(() => random() < 0.3));
    const base = list.map(() => Math.floor(random() * 4));
    // Scores depend on the state: each click shifts every item's score by a pseudo-random amount.
    const score = (state: string[], items: readonly string[]) => items.map((id, i) => base[i]! + state.reduce((acc, c) => acc + (((i + 1) * (c.charCodeAt(1) + 3)) % 5), 0));
    const observe: Observe = (id) => (clicks.has(id) ? 'click' : 'skip');
    const observedA: string[] = [];
    const observedB: string[] = [];
    const a = referenceAlgorithm3(list, score, (id) => (observedA.push(id), observe(id)));
    const b = algorithm3(list, [] as string[], score, (state, c) => [...state, c], (id) => (observedB.push(id), observe(id)));
    assert.deepEqual(b, a, `trial ${trial}`);
    assert.deepEqual(observedB, observedA, `trial ${trial}: the same items observed`);
  }
});

// ---------------------------------------------------------------------------------------------------------
async function allRankers(views: PageView[]): Promise<Ranker[]> {
  return [await trained(new SknnRanker(), views), await trained(new ItemKnnRanker(), views), await trained(new HistoryFirstRanker(), views)];
}

test('every baseline: a permutation of the query items, for many random queries', async () => {
  const random = seededRandom(3);
  const pick = () => `p${Math.floor(random() * 30)}`;
  const views = Array.from({ length: 80 }, (_, s) => session(`R${s}`, s, [...new Set(Array.from({ length: 1 + Math.floor(random() * 5) }, pick))].join(' ')));
  for (const r of await allRankers(views)) {
    for (let k = 0; k < 100; k++) {
      const items = [...new Set(Array.from({ length: 1 + Math.floor(random() * 25) }, pick))];
      const history = Array.from({ length: Math.floor(random() * 8) }, pick);
      const q = query(items.join(' '), history, random() < 0.3 ? pick() : null);
      const out = r.rank(q, (id) => (random() < 0.2 ? 'click' : 'skip'));
      assert.deepEqual([...out].sort(), [...ids(q)].sort(), r.name);
    }
  }
});

test('every baseline: empty history keeps the display order; unknown items go last in display order', async () => {
  const views = [...sknnTrain(), ...knnTrain()];
  for (const r of await allRankers(views)) {
    const q = query('u1 c u2 b u3 a');
    assert.deepEqual(r.rank(q, skipAll), ids(q), `${r.name}: nothing to go by, display order`);
    // With history [a]: every ranker scores c and b above 0 (SKNN: S0, S2, T0–T2; item-kNN: sim(a,b),
    // sim(a,c); history-first: only a itself), the u* items are unknown and stay in display order at the end.
    const known = r.rank(query('u1 c u2 b u3 a', ['b', 'c', 'a']), skipAll);
    assert.deepEqual(known.slice(3), ['u1', 'u2', 'u3'], `${r.name}: ${known.join(' ')}`);
  }
});

test('every baseline ranks 2,000 candidates without trouble', async (t) => {
  const random = seededRandom(11);
  const catalogue = Array.from({ length: 2000 }, (_, i) => `c${i}`);
  const pick = () => catalogue[Math.floor(random() * catalogue.length)]!;
  const views = Array.from({ length: 600 }, (_, s) => session(`B${s}`, s, [...new Set(Array.from({ length: 1 + Math.floor(random() * 8) }, pick))].join(' '), `user${s % 50}`));
  const q = (k: number) => ({ ...query('x'), items: catalogue.map((id) => ({ id })), history: Array.from({ length: 1 + (k % 20) }, pick) });
  for (const r of await allRankers(views)) {
    const start = performance.now();
    const pages = 50;
    for (let k = 0; k < pages; k++) {
      const out = r.rank(q(k), skipAll);
      assert.equal(out.length, 2000);
      assert.equal(new Set(out).size, 2000);
    }
    t.diagnostic(`${r.name}: ${((performance.now() - start) / pages).toFixed(2)} ms per 2,000-candidate page`);
  }
});
