/** The sessionizer's Prometheus metrics (names from the catalogue in services/common/metrics.ts). */
import type { Registry } from 'prom-client';
import { METRICS, prom } from '../common/index.js';

export interface SessionizerMetrics {
  events: prom.Counter<'outcome'>;
  transitions: prom.Counter;
  deadLetters: prom.Counter;
  transactions: prom.Counter<'result'>;
  restores: prom.Counter;
  users: prom.Gauge;
  consumerLag: prom.Gauge<'partition'>;
}

export function createSessionizerMetrics(registry: Registry): SessionizerMetrics {
  const m = METRICS.sessionizer;
  return {
    events: new prom.Counter({ name: m.events.name, help: 'Input records by outcome (accepted, duplicate, dead_letter)', labelNames: ['outcome'], registers: [registry] }),
    transitions: new prom.Counter({ name: m.transitions.name, help: 'Transitions committed', registers: [registry] }),
    deadLetters: new prom.Counter({ name: m.deadLetters.name, help: 'Dead letters committed (undecodable, late, unjoinable)', registers: [registry] }),
    transactions: new prom.Counter({ name: m.transactions.name, help: 'Kafka transactions by result', labelNames: ['result'], registers: [registry] }),
    restores: new prom.Counter({ name: m.restores.name, help: 'State restores from the changelog', registers: [registry] }),
    users: new prom.Gauge({ name: m.users.name, help: 'Users held in the state store', registers: [registry] }),
    consumerLag: new prom.Gauge({
      name: m.consumerLag.name,
      help: 'Events not yet processed per assigned partition of `events` (end offset minus the next offset the state reflects), updated every timer tick',
      labelNames: ['partition'],
      registers: [registry],
    }),
  };
}
