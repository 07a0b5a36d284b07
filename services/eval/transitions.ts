/**
 * Logged page views → DESIGN.md §3 transitions, the form every RL model here trains on.
 *
 * Per view, in display order up to the last item that got feedback (a click, purchase or leave): items
 * passed over are skips (state unchanged), a click or purchase appends the item to the state, a leave
 * ends the session. Items below the last feedback are not converted: nothing says the user saw them.
 * The next scenario is the scenario graph's next(m, b). The last transition of a session's last view is
 * terminal (a clickout that ends a trivago session is a successful exit: a terminal click, README of the
 * data). The state of each view is its logged history, so a view's transitions never depend on another's.
 */
import { DEFAULT_REWARDS, DEFAULT_SCENARIO_GRAPH, nextScenario, type Rewards, type ScenarioGraph, type Transition } from '../common/index.js';
import { groupSessions, isRelevant, type PageView } from './logged-session.js';

export interface ConvertOptions {
  readonly graph?: ScenarioGraph;
  readonly rewards?: Rewards;
}

export interface Conversion {
  readonly transitions: Transition[];
  /** Items whose behaviour the scenario graph does not allow in their scenario (left out). */
  readonly impossible: number;
}

export function viewsToTransitions(views: readonly PageView[], options: ConvertOptions = {}): Conversion {
  const graph = options.graph ?? DEFAULT_SCENARIO_GRAPH;
  const rewards = options.rewards ?? DEFAULT_REWARDS;
  const transitions: Transition[] = [];
  let impossible = 0;
  for (const session of groupSessions(views)) {
    let step = 0;
    session.forEach((view, vi) => {
      let last = -1;
      view.items.forEach((it, i) => {
        if (it.behaviour !== 'skip') last = i;
      });
      let state = [...view.history];
      for (let i = 0; i <= last; i++) {
        const it = view.items[i]!;
        if (!(it.behaviour in graph[view.scenario])) {
          impossible++;
          continue;
        }
        const next = nextScenario(graph, view.scenario, it.behaviour);
        const nextState = isRelevant(it.behaviour) ? [...state, it.id] : state;
        const endsSession = next === null || (vi === session.length - 1 && i === last);
        transitions.push({
          userId: view.userId,
          sessionId: view.sessionId,
          step: step++,
          scenario: view.scenario,
          state,
          action: it.id,
          behaviour: it.behaviour,
          reward: rewards[it.behaviour],
          nextState,
          nextScenario: endsSession ? null : next,
          terminal: endsSession,
          eventTime: view.time,
          modelVersion: null,
          propensity: null,
        });
        state = nextState;
        if (next === null) break;
      }
    });
  }
  return { transitions, impossible };
}

/**
 * Click sequences for item2vec (paper footnote 1): each user's clicked items in time order across their
 * sessions (most trivago sessions hold one clickout, so per-session sequences would give few pairs).
 */
export function clickSequences(views: readonly PageView[]): string[][] {
  const byUser = new Map<string, string[]>();
  for (const session of groupSessions(views)) {
    let seq = byUser.get(session[0]!.userId);
    if (!seq) byUser.set(session[0]!.userId, (seq = []));
    for (const v of session) for (const it of v.items) if (isRelevant(it.behaviour) && seq[seq.length - 1] !== it.id) seq.push(it.id);
  }
  return [...byUser.values()].filter((s) => s.length > 0);
}
