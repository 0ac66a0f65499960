/**
 * When and how long to wait before retrying an idempotent upstream request (GET/HEAD).
 *
 * - Network errors and 502/503/504 are retried with exponential backoff and "equal jitter"
 *   (half fixed, half random), so a retry never fires immediately and a herd of proxies spreads out.
 * - 429 is retried only after waiting: `Retry-After` when the upstream sends it (never less than
 *   the backoff, so `Retry-After: 0` cannot cause a hot loop), the backoff otherwise.
 * - A `Retry-After` beyond `retryAfterCapMs` is not waited for at all: the request fails at once with
 *   `retryAfterMs`, so the registry layer can serve stale content instead of holding a client.
 * - 500 and other statuses are answers, not transient failures, and are not retried.
 */
export interface RetryTuning {
  /** Backoff before the first retry; doubles per attempt. */
  baseDelayMs: number;
  /** Upper bound of one backoff. */
  maxDelayMs: number;
  /** Longest `Retry-After` the client is willing to wait for. */
  retryAfterCapMs: number;
}

export const DEFAULT_RETRY_TUNING: RetryTuning = { baseDelayMs: 250, maxDelayMs: 5_000, retryAfterCapMs: 10_000 };

export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/** Backoff before retry number `retry` (0-based): equal jitter over an exponentially growing window. */
export function backoffDelayMs(retry: number, tuning: RetryTuning, random: () => number = Math.random): number {
  const window = Math.min(tuning.maxDelayMs, tuning.baseDelayMs * 2 ** retry);
  return Math.round(window / 2 + random() * (window / 2));
}

/**
 * `Retry-After` as milliseconds from now: delta-seconds or an HTTP date. Null when absent or
 * unparseable; a date in the past is 0.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - nowMs);
}

export type RetryDecision =
  | { action: 'retry'; delayMs: number }
  /** Do not retry; `retryAfterMs` is set when the upstream asked for a wait longer than the cap. */
  | { action: 'give-up'; retryAfterMs?: number };

/**
 * Decides for a retryable status (429/502/503/504) or a network error (`status` null) whether to try
 * again. `retry` is the number of retries already made.
 */
export function decideRetry(input: {
  status: number | null;
  retryAfterMs: number | null;
  retry: number;
  maxRetries: number;
  tuning: RetryTuning;
  random?: () => number;
}): RetryDecision {
  const { status, retryAfterMs, retry, maxRetries, tuning } = input;
  if (retryAfterMs !== null && retryAfterMs > tuning.retryAfterCapMs) return { action: 'give-up', retryAfterMs };
  const giveUp: RetryDecision = retryAfterMs === null ? { action: 'give-up' } : { action: 'give-up', retryAfterMs };
  if (retry >= maxRetries) return giveUp;
  const backoff = backoffDelayMs(retry, tuning, input.random);
  if (status !== null && retryAfterMs !== null) return { action: 'retry', delayMs: Math.max(retryAfterMs, backoff) };
  return { action: 'retry', delayMs: backoff };
}
