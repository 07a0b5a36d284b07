/** The sessionizer's Prometheus metrics, named once here. */
import type { Registry } from 'prom-client';
import { METRIC_PREFIX, prom } from '../common/index.js';

export interface SessionizerMetrics {
  events: prom.Counter<'outcome'>;
  transitions: prom.Counter;
  deadLetters: prom.Counter;
  transactions: prom.Counter<'result'>;
  restores: prom.Counter;
  users: prom.Gauge;
}

export function createSessionizerMetrics(registry: Registry): SessionizerMetrics {
  const p = `${METRIC_PREFIX}sessionizer_`;
  return {
    events: new prom.Counter({ name: `${p}events_total`, help: 'Input records by outcome (accepted, duplicate, dead_letter)', labelNames: ['outcome'], registers: [registry] }),
    transitions: new prom.Counter({ name: `${p}transitions_total`, help: 'Transitions committed', registers: [registry] }),
    deadLetters: new prom.Counter({ name: `${p}dead_letters_total`, help: 'Dead letters committed (undecodable, late, unjoinable)', registers: [registry] }),
    transactions: new prom.Counter({ name: `${p}transactions_total`, help: 'Kafka transactions by result', labelNames: ['result'], registers: [registry] }),
    restores: new prom.Counter({ name: `${p}changelog_restores_total`, help: 'State restores from the changelog', registers: [registry] }),
    users: new prom.Gauge({ name: `${p}users`, help: 'Users held in the state store', registers: [registry] }),
  };
}
