/**
 * A serving node in process: the serving service's own model slot, user histories and HTTP routes
 * (addServingRoutes) on a fastify app that is never bound to a port — simulated users reach it through
 * `inject`. Its recommendation events go to the in-process log; the users' histories come from the
 * sessionizer's transitions in process, as a real node reads them from the `transitions` topic.
 */
import type { FastifyInstance } from 'fastify';
import { createLogger, createMetricsRegistry, createOpsServer, type Transition, type UserEvent } from '../common/index.js';
import { addServingRoutes, ModelSlot, UserHistories, type RecommendOptions } from '../serving/index.js';
import type { Consumer, MemoryTopic } from './memory-log.js';

export interface EmbeddedServing {
  app: FastifyInstance;
  slot: ModelSlot;
  histories: UserHistories;
  /** Applies waiting transitions to the users' histories. */
  pump(): number;
}

export async function createEmbeddedServing(o: {
  model: string;
  events: MemoryTopic<UserEvent>;
  transitions: MemoryTopic<Transition>;
  historyLength: number;
  options: RecommendOptions;
}): Promise<EmbeddedServing> {
  const slot = new ModelSlot(o.model);
  const histories = new UserHistories(o.historyLength, 1_000_000);
  const metrics = createMetricsRegistry('demo-serving');
  const app = createOpsServer({ logger: createLogger('demo-serving', 'silent'), metrics });
  addServingRoutes(app, {
    slot, histories, options: o.options, maxK: 100, maxCandidates: 5000, metrics,
    logEvent: (event) => void o.events.append(event.userId, event),
  });
  await app.ready();
  const consumer: Consumer<Transition> = o.transitions.subscribe('serving-history');
  return {
    app, slot, histories,
    pump() {
      const records = consumer.poll();
      for (const r of records) histories.observe(r.value);
      return records.length;
    },
  };
}
