/**
 * The serving node's HTTP API: `POST /v1/recommend` (DESIGN.md §4) on the ops server's instance. The
 * request path touches neither Kafka nor Postgres: the recommendation event is handed to the SDK's bounded
 * buffer without waiting, so a node keeps answering while either is away.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { METRICS, prom, SCENARIOS, type UserEvent } from '../common/index.js';
import { recommendation } from '../sdk/index.js';
import type { UserHistories } from './history.js';
import { requestState } from './history.js';
import { challengerActive, versionFor } from './challenger.js';
import type { ModelSlot } from './model-slot.js';
import { recommend, type RecommendOptions, type RecommendRequest } from './recommender.js';

export interface ServingAppDeps {
  /** The live version. */
  slot: ModelSlot;
  /** The challenger, served to its share of users beside the live version (challenger.ts); none in the embedded demo. */
  challenger?: ModelSlot;
  histories: UserHistories;
  options: RecommendOptions;
  maxK: number;
  maxCandidates: number;
  /** Hands the served recommendation to the event log; must not block. */
  logEvent: (event: UserEvent) => void;
  metrics: Registry;
}

const ID = { type: 'string', minLength: 1, maxLength: 256 } as const;

export function addServingRoutes(app: FastifyInstance, deps: ServingAppDeps): void {
  const registers = [deps.metrics];
  const M = METRICS.serving;
  const latency = new prom.Histogram({
    name: M.recommendSeconds.name, help: 'recommend latency', registers,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1],
  });
  const requests = new prom.Counter({ name: M.requests.name, help: 'recommend requests', labelNames: ['outcome'], registers });
  const { slot } = deps;
  const challenger = deps.challenger ?? null;
  const challengerRequests = new prom.Counter({ name: M.challengerRequests.name, help: 'recommend requests answered by the challenger version', registers });
  new prom.Gauge({
    name: M.challengerVersion.name, help: 'Challenger version this node holds (0 when none)', labelNames: ['model'], registers,
    collect() {
      this.set({ model: slot.modelName }, challenger?.current?.version ?? 0);
    },
  });
  new prom.Gauge({
    name: M.modelVersion.name, help: 'Version this node serves (0 until one is loaded)', labelNames: ['model'], registers,
    collect() {
      this.set({ model: slot.modelName }, slot.current?.version ?? 0);
    },
  });
  new prom.Gauge({
    name: M.modelLoadedAt.name, help: 'When this node installed the version it serves, in Unix seconds (0 until one is loaded)', labelNames: ['model'], registers,
    collect() {
      this.set({ model: slot.modelName }, (slot.current?.loadedAt ?? 0) / 1000);
    },
  });

  app.post<{ Body: RecommendRequest }>('/v1/recommend', {
    schema: {
      body: {
        type: 'object',
        required: ['userId', 'sessionId', 'scenario', 'k'],
        additionalProperties: false,
        properties: {
          userId: ID,
          sessionId: ID,
          scenario: { type: 'string', enum: [...SCENARIOS] },
          k: { type: 'integer', minimum: 1, maximum: deps.maxK },
          itemId: ID,
          // Only the type per candidate: checking 500 lengths costs more than the rest of the request's
          // validation, and an id that is empty or too long is unknown to the vocabulary anyway, so it is
          // counted in `unknownCandidates` like any other unknown id.
          candidates: { type: 'array', items: { type: 'string' }, maxItems: deps.maxCandidates },
        },
      },
    },
  }, async (req, reply) => {
    const end = latency.startTimer();
    const live = slot.current;
    if (!live) {
      requests.inc({ outcome: 'no_model' });
      return reply.code(503).header('retry-after', '1').send({ error: 'no model version loaded yet', retriable: true });
    }
    const body = req.body;
    const loaded = versionFor(body.userId, live, challenger?.current ?? null);
    const role = loaded === live ? 'live' : 'challenger';
    if (!loaded.model.layout.scenarios.includes(body.scenario)) {
      requests.inc({ outcome: 'bad_scenario' });
      return reply.code(422).send({ error: `version ${loaded.version} of '${loaded.name}' has no agent for scenario '${body.scenario}'`, scenarios: loaded.model.layout.scenarios });
    }
    const history = requestState(deps.histories.get(body.userId), body.itemId, loaded.model.config.historyLength);
    const result = recommend(loaded, history, body, deps.options);
    const requestId = randomUUID();
    deps.logEvent(recommendation({
      userId: body.userId, sessionId: body.sessionId, scenario: body.scenario, requestId,
      items: result.items.map((i) => i.itemId), propensities: result.items.map((i) => i.propensity),
      model: loaded.name, modelVersion: loaded.version,
    }));
    requests.inc({ outcome: 'ok' });
    if (role === 'challenger') challengerRequests.inc();
    end();
    return {
      requestId,
      model: loaded.name,
      version: loaded.version,
      role,
      items: result.items.map((i) => ({ itemId: i.itemId, score: i.score })),
      ...(result.unknownCandidates > 0 ? { unknownCandidates: result.unknownCandidates } : {}),
    };
  });

  app.get('/v1/version', async (_req, reply) => {
    const loaded = deps.slot.current;
    if (!loaded) return reply.code(404).send({ error: 'no model version loaded yet' });
    const c = challenger?.current ?? null;
    return {
      model: loaded.name, version: loaded.version, checksum: loaded.checksum, loadedAt: new Date(loaded.loadedAt).toISOString(),
      challenger: c ? { version: c.version, share: c.share, active: challengerActive(loaded, c) } : null,
    };
  });
}
