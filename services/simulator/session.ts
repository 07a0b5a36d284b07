/**
 * One simulated session, driven like a real frontend: ask the serving node for each page, show it, let
 * the user walk (user-walk.ts), and send what the user did through the producer SDK. When the node has no
 * version yet (or cannot be reached) the frontend shows a fallback page of random catalogue items and
 * logs that recommendation itself (model 'fallback', version 0), so the very first sessions already teach
 * the learner. Events carry ids only; the world's hidden vectors stay here.
 *
 * A session is scored as the sessionizer scores its transitions (click, skip, leave: the learner's
 * rewards), so the two can be checked against each other. Purchases at checkout join the user's state but
 * no shown list (DESIGN.md §3), so they earn the learner nothing; they are counted apart.
 */
import { DEFAULT_REWARDS, type Rewards, type UserEvent } from '../common/index.js';
import { addToCart, click, leave, pageChange, purchase, recommendation, skip, type EventProducer } from '../sdk/index.js';
import { sample, type Random } from './random.js';
import type { RecommendClient } from './recommend-client.js';
import { contextItem, startWalk, walkPage, type WalkAction, type WalkOptions } from './user-walk.js';
import type { User, World } from './world.js';

export const FALLBACK_MODEL = 'fallback';

export interface SessionDeps {
  world: World;
  client: RecommendClient;
  events: EventProducer;
  walk: WalkOptions;
  /** Items per page. */
  k: number;
  /** Rewards used to score the session (the sessionizer's, DESIGN.md §2; purchases are not scored). */
  rewards?: Rewards;
  /** Pause between showing a page and acting on it. */
  thinkMs?: number;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface SessionRecord {
  userId: string;
  sessionId: string;
  startedAt: number;
  endedAt: number;
  /** Σ rewards of the session's clicks, skips and leave: what the learner is asked to maximise. */
  reward: number;
  clicks: number;
  /** Items bought at checkout. */
  purchases: number;
  pages: number;
  /** Pages shown from the fallback (no model version, or the node unreachable). */
  fallbackPages: number;
  /** Failed recommend calls (each answered by a fallback page). */
  errors: number;
  /** Newest model version that answered a page of the session (0: none did). */
  modelVersion: number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function runSession(deps: SessionDeps, user: User, sessionId: string, random: Random): Promise<SessionRecord> {
  const { world, client, events, walk, k } = deps;
  const rewards = deps.rewards ?? DEFAULT_REWARDS;
  const clock = deps.clock ?? Date.now;
  const sleep = deps.sleep ?? defaultSleep;
  const record: SessionRecord = {
    userId: user.id, sessionId, startedAt: clock(), endedAt: 0, reward: 0, clicks: 0, purchases: 0, pages: 0, fallbackPages: 0, errors: 0, modelVersion: 0,
  };
  let serial = 0;
  let lastTime = 0;
  // Event times never go back, and each is later than the page's answer: a serving node stamps its
  // recommendation event before it answers, and the sessionizer applies a user's events in time order
  // (ties in arrival order), so feedback must not tie with or precede the recommendation it is about.
  const stamp = (after: number) => (lastTime = Math.max(clock(), lastTime, after + 1));
  const base = () => ({ userId: user.id, sessionId, eventId: `${sessionId}-${serial++}` });

  let state = startWalk();
  while (!state.ended) {
    // …and the next request (whose recommendation the node stamps now) comes after the last feedback.
    if (clock() <= lastTime) await sleep(lastTime - clock() + 1);
    const scenario = state.page.scenario;
    const itemId = contextItem(state);
    let answer = null;
    try {
      answer = await client.recommend({ userId: user.id, sessionId, scenario, k, ...(itemId === undefined ? {} : { itemId }) });
    } catch {
      record.errors++;
    }
    const answeredAt = clock();
    let shown: string[];
    let requestId: string;
    if (answer && answer.items.length > 0) {
      shown = answer.items;
      requestId = answer.requestId;
      record.modelVersion = Math.max(record.modelVersion, answer.version);
    } else {
      shown = sample(random, world.itemIds, k);
      requestId = `${sessionId}-fallback-${record.pages}`;
      record.fallbackPages++;
      await events.send(recommendation({
        ...base(), eventTime: stamp(answeredAt), scenario, requestId, items: shown,
        propensities: shown.map((_, i) => 1 / (world.itemIds.length - i)), model: FALLBACK_MODEL, modelVersion: 0,
      }));
    }
    if (deps.thinkMs) await sleep(deps.thinkMs);
    const result = walkPage(world, user, state, shown, random, walk);
    const out = result.actions.map((a) => toEvent(a, { ...base(), eventTime: stamp(answeredAt), scenario }, requestId, shown));
    await events.sendAll(out);
    for (const a of result.actions) {
      if (a.type === 'click') record.reward += rewards.click;
      else if (a.type === 'skip') record.reward += rewards.skip;
      else if (a.type === 'leave') record.reward += rewards.leave;
      else if (a.type === 'purchase') record.purchases += a.itemIds.length;
    }
    record.clicks += result.clicked === null ? 0 : 1;
    record.pages++;
    state = result.state;
  }
  record.endedAt = clock();
  return record;
}

type Base = { userId: string; sessionId: string; eventId: string; eventTime: number; scenario: UserEvent['scenario'] };

function toEvent(a: WalkAction, b: Base, requestId: string, shown: readonly string[]): UserEvent {
  switch (a.type) {
    case 'click': return click({ ...b, requestId, itemId: shown[a.position]!, position: a.position });
    case 'skip': return skip({ ...b, requestId, itemId: shown[a.position]!, position: a.position });
    case 'leave': return leave(b);
    case 'page_change': return pageChange({ ...b, from: a.from, to: a.to, itemId: a.itemId });
    case 'add_to_cart': return addToCart({ ...b, itemId: a.itemId });
    case 'purchase': return purchase({ ...b, itemIds: [...a.itemIds] });
  }
}
