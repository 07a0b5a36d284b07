/**
 * The sessionizer's per-user state and its settings (DESIGN.md §3–4). Plain data, no I/O: the fold
 * (fold.ts) evolves it, the changelog codec (changelog-codec.ts) writes it to Kafka and back.
 */
import {
  DEFAULT_REWARDS, DEFAULT_SCENARIO_GRAPH, type Rewards, type Scenario, type ScenarioGraph, type UserEvent,
} from '../common/index.js';

export interface SessionizerSettings {
  /** N: how many clicked or purchased item ids the state keeps (paper §4.1: 50). */
  readonly historyLength: number;
  /** A session with no event for this long (event time) ends with an implied leave. */
  readonly sessionTimeoutMs: number;
  /** How far behind the partition's stream time an event may arrive and still be applied in event order. */
  readonly graceMs: number;
  /** A shown item with no feedback for this long becomes a skip when the user does something else. */
  readonly waitWindowMs: number;
  /** How many recent event ids each user keeps for de-duplication. */
  readonly dedupeWindow: number;
  /** How many ids of closed sessions each user keeps (events for them are dead-lettered). */
  readonly closedSessionsKept: number;
  /**
   * A user with no event for this long (event time) is forgotten: history, de-duplication ids and all. Their
   * next event starts from an empty state, and the store and its changelog hold only users active within it.
   */
  readonly userRetentionMs: number;
  readonly rewards: Rewards;
  readonly graph: ScenarioGraph;
}

export const DEFAULT_SETTINGS: SessionizerSettings = Object.freeze({
  historyLength: 50,
  sessionTimeoutMs: 30 * 60 * 1000,
  graceMs: 5_000,
  waitWindowMs: 5 * 60 * 1000,
  dedupeWindow: 64,
  closedSessionsKept: 8,
  userRetentionMs: 7 * 24 * 60 * 60 * 1000,
  rewards: DEFAULT_REWARDS,
  graph: DEFAULT_SCENARIO_GRAPH,
});

/** The items of the latest recommendation that still wait for feedback. */
export interface PendingList {
  readonly requestId: string;
  readonly scenario: Scenario;
  readonly items: readonly string[];
  readonly propensities: readonly number[];
  readonly modelVersion: number;
  readonly shownAt: number;
  /** Index of the first item without a transition yet; items before it are resolved. */
  readonly next: number;
}

export interface OpenSession {
  readonly sessionId: string;
  /** The step number the next transition of this session gets (0-based). */
  readonly step: number;
  /** Event time of the session's latest applied event. */
  readonly lastActivity: number;
  readonly pending: PendingList | null;
}

/** An accepted event waiting for the watermark to pass it; `source` is opaque (the loop stores the offset). */
export interface BufferedEvent {
  readonly event: UserEvent;
  readonly source: string | null;
}

export interface UserState {
  readonly userId: string;
  /** The paper's state: last N clicked or purchased item ids, oldest first, carried across sessions. */
  readonly history: readonly string[];
  readonly session: OpenSession | null;
  readonly closedSessions: readonly string[];
  /** Ids of the latest accepted events (applied or buffered), oldest first, at most `dedupeWindow`. */
  readonly recentIds: readonly string[];
  /** Accepted events not applied yet, in event-time order (ties: arrival order). */
  readonly buffer: readonly BufferedEvent[];
  /** Latest event time this user has accepted (NO_TIME before the first): restores the stream time. */
  readonly maxEventTime: number;
}

/** "No event yet" for times: far before every epoch time; avsc round-trips it as a long (not so near ±2^53). */
export const NO_TIME = -1e15;

export function emptyUserState(userId: string): UserState {
  return { userId, history: [], session: null, closedSessions: [], recentIds: [], buffer: [], maxEventTime: NO_TIME };
}
