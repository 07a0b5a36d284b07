/**
 * How simulated users reach a serving node: the body of `POST /v1/recommend` (DESIGN.md §4) and two ways
 * to send it — over HTTP to a running node, or in process through fastify's `inject` on an app that has
 * the serving routes. Both read the answer the same way: 200 is a page; 503 (no version loaded yet) and
 * 422 (the version has no agent for the scenario) mean "no recommendation", and the frontend falls back;
 * anything else is an error.
 */
import type { FastifyInstance } from 'fastify';
import type { Scenario } from '../common/index.js';

/** The request body (wire format of the serving API). */
export interface RecommendCall {
  userId: string;
  sessionId: string;
  scenario: Scenario;
  k: number;
  itemId?: string;
}

export interface RecommendAnswer {
  requestId: string;
  model: string;
  version: number;
  items: string[];
}

export interface RecommendClient {
  /** The page to show, or null when the node has no recommendation for it (the caller falls back). */
  recommend(call: RecommendCall): Promise<RecommendAnswer | null>;
}

export class RecommendError extends Error {
  constructor(readonly status: number, detail: string) {
    super(`recommend answered ${status}: ${detail.slice(0, 300)}`);
    this.name = 'RecommendError';
  }
}

/** Reads a serving node's answer; throws RecommendError for an unexpected status. */
export function readAnswer(status: number, body: string): RecommendAnswer | null {
  if (status === 503 || status === 422) return null;
  if (status !== 200) throw new RecommendError(status, body);
  const parsed = JSON.parse(body) as { requestId: string; model: string; version: number; items: { itemId: string }[] };
  return { requestId: parsed.requestId, model: parsed.model, version: parsed.version, items: parsed.items.map((i) => i.itemId) };
}

function bodyOf(call: RecommendCall): string {
  const { itemId, ...rest } = call;
  return JSON.stringify(itemId === undefined ? rest : { ...rest, itemId });
}

/** A serving node at `baseUrl` (e.g. http://127.0.0.1:8080). */
export function httpRecommendClient(baseUrl: string, options: { timeoutMs?: number } = {}): RecommendClient {
  const url = new URL('/v1/recommend', baseUrl).toString();
  const timeoutMs = options.timeoutMs ?? 5_000;
  return {
    async recommend(call) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: bodyOf(call),
        signal: AbortSignal.timeout(timeoutMs),
      });
      return readAnswer(res.status, await res.text());
    },
  };
}

/** A serving app in this process (routes added with the serving node's addServingRoutes). */
export function injectRecommendClient(app: Pick<FastifyInstance, 'inject'>): RecommendClient {
  return {
    async recommend(call) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/recommend',
        headers: { 'content-type': 'application/json' },
        payload: bodyOf(call),
      });
      return readAnswer(res.statusCode, res.body);
    },
  };
}
