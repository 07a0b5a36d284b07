import { isRetriable } from './errors.js';

export interface RetryOptions {
  attempts?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  onRetry?: (err: unknown, attempt: number) => void;
}

/** The wait before attempt `attempt + 1` after `attempt` failures: `initialMs` doubling, at most `maxMs`. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30));
}

/** Runs `fn` again after retriable errors (errors.ts marks them), with exponential back-off. */
export async function withRetry<T>(fn: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { attempts = 5, initialDelayMs = 100, maxDelayMs = 5_000, onRetry } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetriable(err) || attempt >= attempts) throw err;
      onRetry?.(err, attempt);
      const delay = backoffDelay(attempt, initialDelayMs, maxDelayMs);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
