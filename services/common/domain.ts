/**
 * The product's domain vocabulary: scenarios (page types), behaviours, the scenario graph, and the runtime
 * shapes of events and transitions (DESIGN.md §3). Wire formats (Avro) live in schemas/ and are converted
 * to and from these types in avro-codecs.ts only.
 */

/** Page types of the whole chain (paper Figure 1). The paper's model uses the first two. */
export const SCENARIOS = ['entrance', 'detail', 'cart', 'order'] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** User behaviour on one shown item (paper §3.4: click, skip, leave; purchase joins the state like a click). */
export const BEHAVIOURS = ['click', 'skip', 'leave', 'purchase'] as const;
export type Behaviour = (typeof BEHAVIOURS)[number];

/** Where a user lands after behaviour b in scenario m: `next(m, b)` of DESIGN.md §2; null = session ends. */
export type ScenarioGraph = Readonly<Record<Scenario, Readonly<Partial<Record<Behaviour, Scenario | null>>>>>;

/**
 * The default graph. Entrance and detail rows are exactly the paper's Eq. 1 (click on the entrance page →
 * detail page; skip on a detail page → entrance page; leave → terminal). Cart and order follow the paper's
 * §1 description of Figure 1: a recommended item clicked anywhere opens its detail page.
 */
export const DEFAULT_SCENARIO_GRAPH: ScenarioGraph = Object.freeze({
  entrance: { click: 'detail', skip: 'entrance', leave: null },
  detail: { click: 'detail', skip: 'entrance', leave: null },
  cart: { click: 'detail', skip: 'detail', leave: null },
  order: { click: 'detail', skip: 'entrance', leave: null, purchase: 'order' },
});

/** The behaviours that are possible in a scenario, in a fixed order (the probability net's softmax order). */
export function behavioursOf(graph: ScenarioGraph, scenario: Scenario): Behaviour[] {
  return BEHAVIOURS.filter((b) => b in graph[scenario]);
}

/** next(m, b); throws for a behaviour the graph does not allow in that scenario. */
export function nextScenario(graph: ScenarioGraph, scenario: Scenario, behaviour: Behaviour): Scenario | null {
  const row = graph[scenario];
  if (!(behaviour in row)) {
    throw new Error(`behaviour '${behaviour}' is not possible in scenario '${scenario}' of the scenario graph`);
  }
  return row[behaviour] ?? null;
}

export function isScenario(value: unknown): value is Scenario {
  return typeof value === 'string' && (SCENARIOS as readonly string[]).includes(value);
}

/** Rewards per behaviour (paper §4.1 defaults: click 1, skip 0, leave −2). */
export type Rewards = Readonly<Record<Behaviour, number>>;
export const DEFAULT_REWARDS: Rewards = Object.freeze({ click: 1, skip: 0, leave: -2, purchase: 1 });

/** Fields every event carries (DESIGN.md §3). Event time is epoch milliseconds. */
export interface EventBase {
  eventId: string;
  userId: string;
  sessionId: string;
  eventTime: number;
  scenario: Scenario;
}

export interface RecommendationEvent extends EventBase {
  type: 'recommendation';
  requestId: string;
  items: string[];
  propensities: number[];
  model: string;
  modelVersion: number;
}
export interface ClickEvent extends EventBase { type: 'click'; requestId: string; itemId: string; position: number }
export interface SkipEvent extends EventBase { type: 'skip'; requestId: string; itemId: string; position: number }
export interface PageChangeEvent extends EventBase { type: 'page_change'; from: Scenario; to: Scenario; itemId: string | null }
export interface LeaveEvent extends EventBase { type: 'leave' }
export interface AddToCartEvent extends EventBase { type: 'add_to_cart'; itemId: string }
export interface PurchaseEvent extends EventBase { type: 'purchase'; itemIds: string[] }

export type UserEvent =
  | RecommendationEvent
  | ClickEvent
  | SkipEvent
  | PageChangeEvent
  | LeaveEvent
  | AddToCartEvent
  | PurchaseEvent;
export type EventType = UserEvent['type'];
export const EVENT_TYPES: readonly EventType[] = [
  'recommendation', 'click', 'skip', 'page_change', 'leave', 'add_to_cart', 'purchase',
];

/** One (s, a, r, s′, scenario) step of DESIGN.md §3. States are item ids, oldest first. */
export interface Transition {
  userId: string;
  sessionId: string;
  step: number;
  scenario: Scenario;
  state: string[];
  action: string;
  behaviour: Behaviour;
  reward: number;
  nextState: string[];
  nextScenario: Scenario | null;
  terminal: boolean;
  eventTime: number;
  modelVersion: number | null;
  propensity: number | null;
  /** 0-based display position of `action` in its recommendation list; absent or null when not known (older records). */
  position?: number | null;
}
