/**
 * The sessionizer's pure fold (services/sessionizer/fold.ts) over the in-process log: events → per-user
 * state → transitions, partition by partition, with the stream time and watermark rules of the real
 * loop (each partition's stream time is the newest event time seen, moved to the wall clock once the
 * partition is caught up, so idle sessions close). In process there is no crash to survive, so the
 * Kafka transactions and the changelog of the real loop have nothing to do here.
 */
import type { Transition, UserEvent } from '../common/index.js';
import { dueAt, step, timerStep, type DeadLetterNote, type SessionizerSettings, type UserState } from '../sessionizer/index.js';
import type { Consumer, MemoryTopic } from './memory-log.js';

export class SessionizerStage {
  private readonly states: Map<string, UserState>[];
  private readonly streamTime: number[];
  private transitionCount = 0;
  private duplicateCount = 0;
  readonly deadLetters: DeadLetterNote[] = [];
  private deadLetterCount = 0;

  constructor(
    private readonly events: Consumer<UserEvent>,
    private readonly transitions: MemoryTopic<Transition>,
    private readonly settings: SessionizerSettings,
    private readonly clock: () => number = Date.now,
  ) {
    const n = events.topic.partitions;
    this.states = Array.from({ length: n }, () => new Map());
    this.streamTime = new Array<number>(n).fill(Number.MIN_SAFE_INTEGER);
  }

  get transitionsWritten(): number {
    return this.transitionCount;
  }

  get duplicates(): number {
    return this.duplicateCount;
  }

  /** Dead letters so far (the newest 100 are kept with their reasons). */
  get deadLetterTotal(): number {
    return this.deadLetterCount;
  }

  /** Folds every event waiting, then applies what the watermark passed; returns transitions written. */
  pump(): number {
    const before = this.transitionCount;
    for (const r of this.events.poll()) {
      const p = r.partition;
      this.streamTime[p] = Math.max(this.streamTime[p]!, r.value.eventTime);
      const states = this.states[p]!;
      const result = step(states.get(r.key), r.value, this.streamTime[p]!, this.settings, `${p}:${r.offset}`);
      if (result.duplicate) this.duplicateCount++;
      states.set(r.key, result.state);
      this.emit(result.transitions, result.deadLetters);
    }
    // Caught up: stream time follows the wall clock.
    const now = this.clock();
    this.states.forEach((states, p) => {
      this.streamTime[p] = Math.max(this.streamTime[p]!, now);
      for (const [userId, state] of states) {
        if (dueAt(state, this.settings) > this.streamTime[p]!) continue;
        const result = timerStep(state, this.streamTime[p]!, this.settings);
        if (result.state === null) states.delete(userId);
        else states.set(userId, result.state);
        this.emit(result.transitions, result.deadLetters);
      }
    });
    return this.transitionCount - before;
  }

  private emit(transitions: readonly Transition[], deadLetters: readonly DeadLetterNote[]): void {
    for (const t of transitions) this.transitions.append(t.userId, t);
    this.transitionCount += transitions.length;
    this.deadLetterCount += deadLetters.length;
    this.deadLetters.push(...deadLetters);
    if (this.deadLetters.length > 100) this.deadLetters.splice(0, this.deadLetters.length - 100);
  }
}
