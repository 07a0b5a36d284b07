/**
 * The one place runtime types (domain.ts) are converted to and from their Avro records (schemas/).
 * Avro unions of records are written wrapped: `{ "deepchain.Click": {...} }`.
 */
import type { EventBase, Scenario, Transition, UserEvent } from './domain.js';

const BRANCH = {
  recommendation: 'deepchain.Recommendation',
  click: 'deepchain.Click',
  skip: 'deepchain.Skip',
  page_change: 'deepchain.PageChange',
  leave: 'deepchain.Leave',
  add_to_cart: 'deepchain.AddToCart',
  purchase: 'deepchain.Purchase',
} as const satisfies Record<UserEvent['type'], string>;
type Branch = (typeof BRANCH)[keyof typeof BRANCH];
const TYPE_OF_BRANCH = Object.fromEntries(Object.entries(BRANCH).map(([t, b]) => [b, t])) as Record<Branch, UserEvent['type']>;

export interface EventRecord {
  eventId: string;
  userId: string;
  sessionId: string;
  eventTime: number;
  scenario: Scenario;
  payload: Partial<Record<Branch, Record<string, unknown>>>;
}

export function eventToRecord(event: UserEvent): EventRecord {
  const { type, eventId, userId, sessionId, eventTime, scenario, ...payload } = event;
  return { eventId, userId, sessionId, eventTime, scenario, payload: { [BRANCH[type]]: payload } };
}

/** On the hot path of every consumer of events: no Object.entries or object spread (many times faster). */
export function eventFromRecord(record: EventRecord): UserEvent {
  const keys = Object.keys(record.payload); // own keys only: avsc's union wrappers have enumerable prototype members
  const branch = keys[0] as Branch | undefined;
  if (keys.length !== 1) throw new Error(`event ${record.eventId}: payload must have exactly one branch`);
  const type = TYPE_OF_BRANCH[branch!];
  if (!type) throw new Error(`event ${record.eventId}: unknown payload branch '${branch}'`);
  const base: EventBase & { type: UserEvent['type'] } = {
    eventId: record.eventId,
    userId: record.userId,
    sessionId: record.sessionId,
    eventTime: Number(record.eventTime),
    scenario: record.scenario,
    type,
  };
  const event = Object.assign(base, record.payload[branch!]) as UserEvent;
  if (event.type === 'recommendation') event.modelVersion = Number(event.modelVersion);
  return event;
}

/**
 * Transition records match the runtime type field for field, so a Transition is encoded as it is; on the
 * way back, Avro longs are made plain numbers again.
 */
export function transitionFromRecord(record: Transition): Transition {
  return {
    ...record,
    eventTime: Number(record.eventTime),
    modelVersion: record.modelVersion === null ? null : Number(record.modelVersion),
  };
}
