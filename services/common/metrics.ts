/** Prometheus metrics: one registry per process, metric names declared here once. */
import client from 'prom-client';

export const METRIC_PREFIX = 'deepchain_';

export function createMetricsRegistry(service: string): client.Registry {
  const registry = new client.Registry();
  registry.setDefaultLabels({ service });
  client.collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  return registry;
}

export { client as prom };
