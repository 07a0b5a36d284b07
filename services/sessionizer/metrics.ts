/**
 * The sessionizer's Prometheus metrics (names from the catalogue in services/common/metrics.ts), and the
 * session ledger that feeds the outcome metrics from committed work: transitions by scenario and behaviour,
 * and per ended session its reward, reward² and transitions by behaviour (what the console's deployment mode
 * turns into reward per session with its interval, clicks, leaves and session length, per scenario).
 *
 * Exactly once, and what it means for counters. The ledger sees only work whose Kafka transaction committed
 * (`Work.committed`), so a transition or session is counted at most once by the process that wrote it; after
 * a crash or a rebalance the new owner restores the state and writes only what was not committed, so nothing
 * is counted twice across processes either. The counters are process-local: they start at zero when a
 * process starts (Prometheus's `rate`/`increase` and the console treat a drop as a restart), and what a
 * process counted after its last scrape is lost with it, as is work whose commit outcome was unknown (the
 * pipeline treats it as failed). So they may undercount, never double count. A session is `counted` (in the
 * reward histogram) only if this process committed every one of its transitions, from step 0 on; one that
 * was open when its partition came to this process (a restart, a rebalance) ends as `partial`, and a session
 * that ended with no transition (no list shown) as `empty`.
 */
import type { Registry } from 'prom-client';
import { BEHAVIOURS, METRICS, prom, SCENARIOS, type Behaviour, type Rewards, type Transition } from '../common/index.js';
import type { ClosedSession } from './fold.js';

export interface SessionizerMetrics {
  events: prom.Counter<'outcome'>;
  transitions: prom.Counter;
  deadLetters: prom.Counter;
  transactions: prom.Counter<'result'>;
  restores: prom.Counter;
  users: prom.Gauge;
  usersEvicted: prom.Counter;
  restoreSeconds: prom.Histogram;
  restoreRecords: prom.Counter;
  consumerLag: prom.Gauge<'partition'>;
  behaviours: prom.Counter<'scenario' | 'behaviour'>;
  behaviourReward: prom.Gauge<'behaviour'>;
  sessions: prom.Counter<'outcome'>;
  sessionReward: prom.Histogram;
  sessionRewardSquares: prom.Counter;
  sessionBehaviours: prom.Counter<'behaviour'>;
}

export const SESSION_OUTCOMES = ['counted', 'partial', 'empty'] as const;
export type SessionOutcome = (typeof SESSION_OUTCOMES)[number];

/** Reward per session: with the default rewards (click 1, skip 0, leave −2) a session scores −2 and up. */
const SESSION_REWARD_BUCKETS = [-2, -1, 0, 1, 2, 3, 5, 10, 20, 50];

export function createSessionizerMetrics(registry: Registry): SessionizerMetrics {
  const m = METRICS.sessionizer;
  const metrics: SessionizerMetrics = {
    events: new prom.Counter({ name: m.events.name, help: 'Input records by outcome (accepted, duplicate, dead_letter)', labelNames: ['outcome'], registers: [registry] }),
    transitions: new prom.Counter({ name: m.transitions.name, help: 'Transitions committed', registers: [registry] }),
    deadLetters: new prom.Counter({ name: m.deadLetters.name, help: 'Dead letters committed (undecodable, late, unjoinable)', registers: [registry] }),
    transactions: new prom.Counter({ name: m.transactions.name, help: 'Kafka transactions by result', labelNames: ['result'], registers: [registry] }),
    restores: new prom.Counter({ name: m.restores.name, help: 'State restores from the changelog', registers: [registry] }),
    users: new prom.Gauge({ name: m.users.name, help: 'Users held in the state store', registers: [registry] }),
    usersEvicted: new prom.Counter({ name: m.usersEvicted.name, help: 'Users forgotten after the retention without an event', registers: [registry] }),
    restoreSeconds: new prom.Histogram({
      name: m.restoreSeconds.name, help: 'Duration of each restore of assigned partitions from the changelog', buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 120], registers: [registry],
    }),
    restoreRecords: new prom.Counter({ name: m.restoreRecords.name, help: 'Changelog records read by restores', registers: [registry] }),
    consumerLag: new prom.Gauge({
      name: m.consumerLag.name,
      help: 'Events not yet processed per assigned partition of `events` (end offset minus the next offset the state reflects), updated every timer tick',
      labelNames: ['partition'],
      registers: [registry],
    }),
    behaviours: new prom.Counter({
      name: m.behaviours.name, help: 'Transitions committed by scenario (the page) and behaviour', labelNames: ['scenario', 'behaviour'], registers: [registry],
    }),
    behaviourReward: new prom.Gauge({ name: m.behaviourReward.name, help: 'The reward each behaviour earns (the sessionizer\'s settings)', labelNames: ['behaviour'], registers: [registry] }),
    sessions: new prom.Counter({
      name: m.sessions.name,
      help: 'Sessions ended, by outcome: counted (all its transitions committed by this process), partial (open when its partition came here), empty (no transition)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    sessionReward: new prom.Histogram({ name: m.sessionReward.name, help: 'Reward per counted session (sum of its transitions\' rewards)', buckets: SESSION_REWARD_BUCKETS, registers: [registry] }),
    sessionRewardSquares: new prom.Counter({ name: m.sessionRewardSquares.name, help: 'Sum of squared reward per counted session', registers: [registry] }),
    sessionBehaviours: new prom.Counter({ name: m.sessionBehaviours.name, help: 'Transitions of counted sessions by behaviour', labelNames: ['behaviour'], registers: [registry] }),
  };
  // Every label value from the start, at zero: a scrape shows the whole table before the first session ends.
  for (const scenario of SCENARIOS) for (const behaviour of BEHAVIOURS) metrics.behaviours.inc({ scenario, behaviour }, 0);
  for (const behaviour of BEHAVIOURS) metrics.sessionBehaviours.inc({ behaviour }, 0);
  for (const outcome of SESSION_OUTCOMES) metrics.sessions.inc({ outcome }, 0);
  return metrics;
}

/** One open session's transitions committed by this process so far. */
interface Tally {
  /** The step its next transition should have; a gap (or a first step above 0) makes the tally partial. */
  next: number;
  partial: boolean;
  reward: number;
  behaviours: Record<Behaviour, number>;
}

const zeroBehaviours = (): Record<Behaviour, number> => ({ click: 0, skip: 0, leave: 0, purchase: 0 });

/**
 * Counts committed transitions and ended sessions into the outcome metrics. Holds a tally per open session
 * of the partitions this process holds (about one per active user), dropped when a partition goes.
 */
export class SessionLedger {
  private readonly open = new Map<number, Map<string, Tally>>();

  constructor(
    private readonly metrics: SessionizerMetrics,
    rewards: Rewards,
  ) {
    for (const behaviour of BEHAVIOURS) metrics.behaviourReward.set({ behaviour }, rewards[behaviour]);
  }

  /** A committed transaction's transitions and ended sessions of one partition (each session's last transition before its end). */
  committed(partition: number, transitions: readonly Transition[], closed: readonly ClosedSession[]): void {
    let tallies = this.open.get(partition);
    if (!tallies) this.open.set(partition, (tallies = new Map()));
    for (const t of transitions) {
      this.metrics.behaviours.inc({ scenario: t.scenario, behaviour: t.behaviour });
      const key = sessionKey(t.userId, t.sessionId);
      let tally = tallies.get(key);
      if (!tally) tallies.set(key, (tally = { next: 0, partial: false, reward: 0, behaviours: zeroBehaviours() }));
      if (t.step !== tally.next) tally.partial = true;
      tally.next = t.step + 1;
      tally.reward += t.reward;
      tally.behaviours[t.behaviour]++;
    }
    for (const c of closed) {
      const key = sessionKey(c.userId, c.sessionId);
      const tally = tallies.get(key);
      tallies.delete(key);
      this.metrics.sessions.inc({ outcome: outcomeOf(c, tally) });
      if (!tally || outcomeOf(c, tally) !== 'counted') continue;
      this.metrics.sessionReward.observe(tally.reward);
      this.metrics.sessionRewardSquares.inc(tally.reward * tally.reward);
      for (const behaviour of BEHAVIOURS) if (tally.behaviours[behaviour] > 0) this.metrics.sessionBehaviours.inc({ behaviour }, tally.behaviours[behaviour]);
    }
  }

  /** The partitions this process holds now: the tallies of any other go (their sessions end elsewhere). */
  held(partitions: readonly number[]): void {
    for (const p of [...this.open.keys()]) if (!partitions.includes(p)) this.open.delete(p);
  }

  /** Open sessions tallied, for tests. */
  get openSessions(): number {
    let n = 0;
    for (const t of this.open.values()) n += t.size;
    return n;
  }
}

function sessionKey(userId: string, sessionId: string): string {
  return `${userId}\u0000${sessionId}`;
}

function outcomeOf(c: ClosedSession, tally: Tally | undefined): SessionOutcome {
  if (c.steps === 0) return 'empty';
  return tally && !tally.partial && tally.next === c.steps ? 'counted' : 'partial';
}
