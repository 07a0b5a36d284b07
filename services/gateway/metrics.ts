/** The gateway's Prometheus metrics (names from the catalogue in services/common/metrics.ts). */
import { METRICS, prom } from '../common/index.js';
import type { Registry } from 'prom-client';

export interface GatewayMetrics {
  requests: prom.Counter<'status'>;
  events: prom.Counter<'outcome'>;
  requestSeconds: prom.Histogram;
}

export function createGatewayMetrics(registry: Registry, buffered: () => number): GatewayMetrics {
  new prom.Gauge({
    name: METRICS.gateway.bufferedEvents.name,
    help: 'Events held by the producer: waiting for a batch or for Kafka to acknowledge',
    registers: [registry],
    collect() {
      this.set(buffered());
    },
  });
  return {
    requests: new prom.Counter({
      name: METRICS.gateway.requests.name,
      help: 'Batch requests answered, by HTTP status',
      labelNames: ['status'],
      registers: [registry],
    }),
    events: new prom.Counter({
      name: METRICS.gateway.events.name,
      help: 'Records in answered batches: accepted (acknowledged by Kafka), rejected (invalid, dead-lettered), forbidden (an event type outside the producer key\'s scope, dead-lettered), duplicate (accepted, eventId seen earlier in its batch)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    requestSeconds: new prom.Histogram({
      name: METRICS.gateway.requestSeconds.name,
      help: 'Time from request to answer for batch requests',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [registry],
    }),
  };
}
