/**
 * The simulated population at work: `concurrency` frontends, each running one session after another for
 * a randomly chosen user who is not in a session already (one user never has two sessions at once, as in
 * the sessionizer's model of a user), until told to stop. Each finished session is reported.
 */
import type { EventProducer } from '../sdk/index.js';
import { fork, type Random } from './random.js';
import type { RecommendClient } from './recommend-client.js';
import { runSession, type SessionRecord } from './session.js';
import { DEFAULT_WALK, type WalkOptions } from './user-walk.js';
import type { User, World } from './world.js';

export interface PopulationOptions {
  /** Sessions running at once. */
  concurrency: number;
  /** Items per page. */
  k: number;
  walk: WalkOptions;
  /** Pause per page (paces the traffic). */
  thinkMs: number;
  /** Makes session ids unique across runs sharing a log (a run of the demo, a test). */
  runId: string;
  seed: number;
  clock?: () => number;
}

export const DEFAULT_POPULATION: Readonly<Omit<PopulationOptions, 'runId'>> = Object.freeze({
  concurrency: 8, k: 5, walk: DEFAULT_WALK, thinkMs: 5, seed: 1,
});

export class Population {
  private readonly active = new Set<string>();
  private readonly counts = new Map<string, number>();
  private started = 0;

  constructor(
    readonly world: World,
    private readonly client: RecommendClient,
    private readonly events: EventProducer,
    readonly options: PopulationOptions,
  ) {
    if (options.concurrency > world.users.length) {
      throw new RangeError(`concurrency ${options.concurrency} exceeds the population (${world.users.length} users)`);
    }
  }

  /** Sessions begun so far. */
  get sessionsStarted(): number {
    return this.started;
  }

  /**
   * Runs sessions until `stop()` is true (sessions under way finish first) and resolves when every slot is
   * done. `onSession` sees each finished session.
   */
  async run(stop: () => boolean, onSession: (record: SessionRecord) => void): Promise<void> {
    const slots = Array.from({ length: this.options.concurrency }, (_, i) => this.slot(fork(this.options.seed, 1000 + i), stop, onSession));
    await Promise.all(slots);
  }

  private async slot(random: Random, stop: () => boolean, onSession: (record: SessionRecord) => void): Promise<void> {
    const { world, options } = this;
    while (!stop()) {
      const user = this.pickUser(random);
      this.active.add(user.id);
      const n = this.counts.get(user.id) ?? 0;
      this.counts.set(user.id, n + 1);
      this.started++;
      try {
        const record = await runSession(
          {
            world, client: this.client, events: this.events, walk: options.walk, k: options.k, thinkMs: options.thinkMs,
            ...(options.clock ? { clock: options.clock } : {}),
          },
          user,
          `${options.runId}-${user.id}-${n}`,
          random,
        );
        onSession(record);
      } finally {
        this.active.delete(user.id);
      }
    }
  }

  private pickUser(random: Random): User {
    const users = this.world.users;
    for (;;) {
      const user = users[Math.floor(random() * users.length)]!;
      if (!this.active.has(user.id)) return user;
    }
  }
}
