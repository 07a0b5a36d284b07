/**
 * The gateway's HTTP routes, on the ops server of http.ts (/healthz, /readyz, /metrics). The contract of
 * POST /v1/events (statuses, bodies, duplicates, dead letters) is written out in README.md beside this.
 * Kafka is reached only through the two injected sinks, so this is tested with in-memory doubles too.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import { createOpsServer, DeepChainError, readSchema, type Logger, type ReadinessCheck, type UserEvent } from '../common/index.js';
import { createKeyring, presentedKey } from './auth.js';
import type { GatewayConfig, ProducerKey } from './config.js';
import type { DeadLetter, DeadLetterSink } from './dead-letters.js';
import { createGatewayMetrics } from './metrics.js';
import { createEventValidator, readBatchBody } from './validation.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The producer whose API key the request carried (set by the auth hook). */
    producer?: ProducerKey;
  }
}

export interface EventSink {
  /** Resolves when Kafka acknowledged every event. */
  sendAll(events: readonly UserEvent[]): Promise<void>;
  readonly buffered: number;
}

export interface GatewayAppOptions {
  config: GatewayConfig;
  logger: Logger;
  metrics: Registry;
  events: EventSink;
  deadLetters: DeadLetterSink;
  readiness?: Record<string, ReadinessCheck>;
  /** The clock event times are checked against. */
  now?: () => number;
}

/** A body that was not JSON, kept whole for the dead-letter topic. */
class MalformedBody {
  constructor(readonly reason: string, readonly raw: Buffer) {}
}

const BATCH_ANSWER = {
  type: 'object',
  properties: {
    accepted: { type: 'integer' },
    rejected: { type: 'array', items: { type: 'object', properties: { index: { type: 'integer' }, reason: { type: 'string' } } } },
    duplicates: { type: 'array', items: { type: 'object', properties: { index: { type: 'integer' }, firstIndex: { type: 'integer' } } } },
  },
} as const;
const ERROR_ANSWER = {
  type: 'object',
  properties: { error: { type: 'string' }, reason: { type: 'string' }, retriable: { type: 'boolean' } },
} as const;

export async function buildGatewayApp(options: GatewayAppOptions): Promise<FastifyInstance> {
  const { config, events, deadLetters } = options;
  const now = options.now ?? Date.now;
  const keyring = createKeyring(config.GATEWAY_API_KEYS);
  const validator = createEventValidator(readSchema('event'), {
    maxEventAgeMs: config.GATEWAY_MAX_EVENT_AGE_MS,
    maxEventFutureMs: config.GATEWAY_MAX_EVENT_FUTURE_MS,
  });
  const metrics = createGatewayMetrics(options.metrics, () => events.buffered);
  const app = createOpsServer({
    logger: options.logger,
    metrics: options.metrics,
    readiness: options.readiness ?? {},
    bodyLimit: config.GATEWAY_BODY_LIMIT_BYTES,
  });

  // JSON is parsed here, not by fastify, so a body that is not JSON reaches the handler (and the
  // dead-letter topic) with its bytes. text/plain is read as JSON too, for clients that cannot label it.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'buffer' }, (_req, body, done) => {
    const raw = body as Buffer;
    try {
      done(null, JSON.parse(raw.toString('utf8')));
    } catch (err) {
      done(null, new MalformedBody((err as Error).message, raw));
    }
  });

  await app.register(rateLimit, {
    global: false,
    hook: 'preParsing', // after the auth hook (onRequest), so the limit is per producer key
    errorResponseBuilder: (_req, context) => ({
      statusCode: 429,
      error: 'rate limited',
      reason: `more than ${context.max} requests for this key in ${context.after === undefined ? 'the window' : 'the window; retry in ' + context.after}`,
      retriable: true,
    }),
  });

  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    const status = err.statusCode ?? 500;
    if (status === 413) {
      return reply.code(413).send({ error: 'payload too large', reason: `body over ${config.GATEWAY_BODY_LIMIT_BYTES} bytes; split the batch` });
    }
    if (status === 429) {
      return reply.code(429).send({ error: 'rate limited', reason: (err as { reason?: string }).reason ?? err.message, retriable: true });
    }
    if (status === 415) {
      return reply.code(415).send({ error: 'unsupported media type', reason: 'send the batch as application/json' });
    }
    if (status < 500) return reply.code(status).send({ error: 'bad request', reason: err.message });
    req.log.error({ err }, 'batch request failed');
    return reply.code(500).send({ error: 'internal error', reason: 'the gateway failed; see its log' });
  });

  app.addHook('onResponse', async (req, reply) => {
    if (req.routeOptions.url !== '/v1/events') return;
    metrics.requests.inc({ status: String(reply.statusCode) });
    metrics.requestSeconds.observe(reply.elapsedTime / 1000);
  });

  const authenticate = async (req: FastifyRequest, reply: FastifyReply) => {
    const presented = presentedKey(req.headers);
    const producer = keyring.authenticate(presented);
    if (producer === undefined) {
      req.log.info({ ip: req.ip, presented: presented !== undefined }, 'batch refused: missing or wrong API key');
      return reply.code(401).header('www-authenticate', 'Bearer').send({
        error: 'unauthorized',
        reason: presented === undefined ? 'missing API key: send it in the x-api-key header' : 'wrong API key',
      });
    }
    req.producer = producer;
  };

  const unavailable = (req: FastifyRequest, reply: FastifyReply, err: unknown) => {
    const retriable = err instanceof DeepChainError && (err.retriable || err.code === 'PRODUCER_CLOSED');
    if (!retriable) {
      req.log.error({ err }, 'batch failed');
      return reply.code(500).send({ error: 'internal error', reason: 'the gateway failed; see its log' });
    }
    req.log.warn({ err: (err as Error).message }, 'batch not acknowledged');
    return reply.code(503).header('retry-after', '1').send({
      error: 'unavailable',
      reason: `${(err as Error).message}; nothing in this batch is acknowledged, send it again with the same event ids`,
      retriable: true,
    });
  };

  app.post('/v1/events', {
    onRequest: authenticate,
    config: {
      rateLimit: {
        max: config.GATEWAY_RATE_LIMIT_MAX,
        timeWindow: config.GATEWAY_RATE_LIMIT_WINDOW_MS,
        keyGenerator: (req: FastifyRequest) => req.producer?.name ?? req.ip,
      },
    },
    schema: { response: { 200: BATCH_ANSWER, 207: BATCH_ANSWER, 422: BATCH_ANSWER, '4xx': ERROR_ANSWER, '5xx': ERROR_ANSWER } },
  }, async (req, reply) => {
    const producer = req.producer!.name;
    const body = req.body;
    if (body instanceof MalformedBody) {
      try {
        await deadLetters.write([{ reason: `producer ${producer}: malformed JSON: ${body.reason}`, key: null, value: body.raw }]);
      } catch (err) {
        return unavailable(req, reply, err);
      }
      return reply.code(400).send({ error: 'malformed JSON', reason: body.reason });
    }
    const read = readBatchBody(body, config.GATEWAY_MAX_BATCH_EVENTS);
    if (!read.ok) return reply.code(read.status).send({ error: read.status === 413 ? 'batch too large' : 'bad request', reason: read.reason });

    // Per record, like every other check: a type outside the key's scope is refused (forbidden) and
    // dead-lettered with its reason; the rest of the batch is answered as if it had not been there.
    const verdict = validator.validateBatch(read.records, now(), req.producer!);
    const letters: DeadLetter[] = verdict.rejected.map((r) => ({
      reason: `producer ${producer}: record ${r.index}: ${r.reason}`,
      key: userIdOf(r.record),
      value: Buffer.from(JSON.stringify(r.record), 'utf8'),
    }));
    try {
      await Promise.all([events.sendAll(verdict.accepted.map((a) => a.event)), deadLetters.write(letters)]);
    } catch (err) {
      return unavailable(req, reply, err);
    }
    metrics.events.inc({ outcome: 'accepted' }, verdict.accepted.length);
    const forbidden = verdict.rejected.filter((r) => r.forbidden);
    const invalid = verdict.rejected.length - forbidden.length;
    if (invalid > 0) {
      metrics.events.inc({ outcome: 'rejected' }, invalid);
      req.log.info({ producer, rejected: invalid, first: verdict.rejected.find((r) => !r.forbidden)!.reason }, 'records rejected and dead-lettered');
    }
    if (forbidden.length > 0) {
      metrics.events.inc({ outcome: 'forbidden' }, forbidden.length);
      const types = [...new Set(forbidden.map((r) => (r.record as { type: string }).type))];
      req.log.warn({ producer, forbidden: forbidden.length, types }, "records of event types outside the producer key's scope refused and dead-lettered");
    }
    if (verdict.duplicates.length > 0) metrics.events.inc({ outcome: 'duplicate' }, verdict.duplicates.length);
    const status = verdict.rejected.length === 0 ? 200 : verdict.accepted.length === 0 ? 422 : 207;
    return reply.code(status).send({
      accepted: verdict.accepted.length,
      rejected: verdict.rejected.map(({ index, reason }) => ({ index, reason })),
      duplicates: verdict.duplicates,
    });
  });

  return app;
}

function userIdOf(record: unknown): Buffer | null {
  const userId = (record as { userId?: unknown } | null)?.userId;
  return typeof userId === 'string' && userId !== '' ? Buffer.from(userId, 'utf8') : null;
}
