/**
 * Synthetic transitions for tests of the learner and the serving node: users on the entrance page click
 * the "e*" items and skip the rest, on detail pages they click the "d*" items. Deterministic per seed.
 */
import type { Behaviour, Scenario, Transition } from '../../services/common/index.js';

import { seededRandom } from '../../services/common/index.js';
import { OnlineTrainer } from '../../services/learner/trainer.js';

export const seeded = seededRandom;

export const ENTRANCE_ITEMS = ['e1', 'e2', 'e3', 'e4', 'e5'];
export const DETAIL_ITEMS = ['d1', 'd2', 'd3', 'd4', 'd5'];
const ALL = [...ENTRANCE_ITEMS, ...DETAIL_ITEMS];

/**
 * `sessions` sessions of page views of 4 shown items each, as the sessionizer would emit them. Each slot
 * shows one of the 10 items uniformly at random, so `propensity` 0.1 is that logging policy's exact one;
 * null (the default) logs none.
 */
export function syntheticTransitions(sessions: number, seed = 1, users = 40, propensity: 0.1 | null = null): Transition[] {
  // N = 10, the history length of every learner and model these fixtures feed: a learner dead-letters a
  // transition whose state is longer than its own N (built with another HISTORY_LENGTH).
  const historyLength = 10;
  const random = seeded(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;
  const out: Transition[] = [];
  const histories = new Map<string, string[]>();
  for (let s = 0; s < sessions; s++) {
    const userId = `u${Math.floor(random() * users)}`;
    const sessionId = `s${s}`;
    let state = histories.get(userId) ?? [];
    let scenario: Scenario = 'entrance';
    let step = 0;
    for (let view = 0; view < 4; view++) {
      const shown = Array.from({ length: 4 }, () => pick(ALL));
      const liked = scenario === 'entrance' ? ENTRANCE_ITEMS : DETAIL_ITEMS;
      const clickedAt = shown.findIndex((i) => liked.includes(i));
      const leaving = clickedAt < 0 && view === 3;
      for (let p = 0; p < shown.length; p++) {
        const action = shown[p]!;
        let behaviour: Behaviour = 'skip';
        if (p === clickedAt) behaviour = 'click';
        else if (leaving && p === shown.length - 1) behaviour = 'leave';
        const terminal = behaviour === 'leave';
        const nextState = behaviour === 'click' ? [...state, action].slice(-historyLength) : state;
        const nextScenario: Scenario | null = terminal ? null : behaviour === 'click' ? 'detail' : scenario;
        out.push({
          userId, sessionId, step: step++, scenario, state, action, behaviour,
          reward: behaviour === 'click' ? 1 : behaviour === 'leave' ? -2 : 0,
          nextState, nextScenario, terminal, eventTime: 1_700_000_000_000 + s * 1000 + step, modelVersion: null, propensity, position: p,
        });
        if (behaviour === 'click') {
          state = nextState;
          scenario = 'detail';
          break;
        }
        if (terminal) break;
      }
      if (leaving) break;
    }
    histories.set(userId, state);
  }
  return out;
}

/**
 * Pages of 3 entrance items a version served to `users` users (ids `${prefix}${i}`), `pages` each in one
 * session, every page ending the same way: a click on its first item (reward 1), three skips (0), or two
 * skips and a leave on the last item (−2, which ends the session: its last page). What a serving node's
 * pages become once the sessionizer has turned them into transitions, for tests of challenger traffic.
 */
export function servedPages(o: {
  prefix: string; users: number; pages: number; modelVersion: number; outcome: 'click' | 'skip' | 'leave'; eventTime: number;
}): Transition[] {
  const out: Transition[] = [];
  for (let u = 0; u < o.users; u++) {
    const userId = `${o.prefix}${u}`;
    let step = 0;
    for (let page = 0; page < o.pages; page++) {
      const leave = o.outcome === 'leave' && page === o.pages - 1;
      const behaviours: Behaviour[] = o.outcome === 'click' ? ['click'] : leave ? ['skip', 'skip', 'leave'] : ['skip', 'skip', 'skip'];
      behaviours.forEach((behaviour, position) => {
        const action = ENTRANCE_ITEMS[(page + position) % ENTRANCE_ITEMS.length]!;
        const terminal = behaviour === 'leave';
        out.push({
          userId, sessionId: `${userId}-s`, step: step++, scenario: 'entrance', state: [], action, behaviour,
          reward: behaviour === 'click' ? 1 : behaviour === 'leave' ? -2 : 0,
          nextState: behaviour === 'click' ? [action] : [], nextScenario: terminal ? null : behaviour === 'click' ? 'detail' : 'entrance', terminal,
          eventTime: o.eventTime + step, modelVersion: o.modelVersion, propensity: 0.5, position,
        });
      });
    }
  }
  return out;
}

/**
 * A small trainer (the serving tests' model: N = 10, embeddings of 8) fed `sessions` synthetic sessions:
 * versions of the shape a learner publishes, for tests that install, serve or announce them.
 */
export function smallTrainer(sessions = 100, hiddenSize = 8): OnlineTrainer {
  const trainer = new OnlineTrainer({
    model: { scenarios: ['entrance', 'detail'], embeddingSize: 8, hiddenSize, historyLength: 10, attentionSize: 4, headHidden: [8] },
    replayCapacity: 5000, batchSize: 16, trainStart: 32, holdoutEvery: 10, holdoutSize: 100, embeddingRefreshSteps: 5, seed: 3,
  });
  trainer.ingest(syntheticTransitions(sessions));
  return trainer;
}

/** `count` successive versions of smallTrainer's model, one training step apart. */
export function smallTrainerVersions(count: number): Uint8Array[] {
  const trainer = smallTrainer();
  const versions: Uint8Array[] = [];
  for (let v = 0; v < count; v++) {
    if (v > 0) trainer.step();
    versions.push(trainer.publishableWeights());
  }
  return versions;
}

/**
 * The release-gate tests' trainer: the serving tests' model, every third user held out for the gate, a
 * window large enough to hold them all.
 */
export function gateTrainer(): OnlineTrainer {
  return new OnlineTrainer({
    model: { scenarios: ['entrance', 'detail'], embeddingSize: 8, hiddenSize: 8, historyLength: 10, attentionSize: 4, headHidden: [8] },
    replayCapacity: 20_000, batchSize: 32, trainStart: 32, holdoutEvery: 3, holdoutSize: 20_000, embeddingRefreshSteps: 20, seed: 5,
  });
}
