import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { abortReason, type ConcurrencyGate } from './concurrency-gate.js';
import { parseRateLimitHeaders } from './rate-limit-headers.js';
import { describeUrl } from './redirect-policy.js';
import { headerValue } from './response-headers.js';
import { decideRetry, parseRetryAfter, RETRYABLE_STATUSES, type RetryTuning } from './retry-policy.js';
import { UpstreamError, type UpstreamObserver } from './upstream.js';
import { destroyBody } from './destroy-body.js';

export type UpstreamResponse = Dispatcher.ResponseData;

export interface ExchangeRequest {
  method: 'GET' | 'HEAD';
  url: URL;
  /** Must not be logged: may carry `Authorization`. */
  headers: Record<string, string>;
  signal?: AbortSignal;
}

export interface HttpExchangeOptions {
  upstream: string;
  dispatcher: Dispatcher;
  gate: ConcurrencyGate;
  observer: UpstreamObserver;
  logger: Logger;
  retries: number;
  tuning: RetryTuning;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  now: () => number;
}

/**
 * One logical HTTP request to a host on behalf of an upstream: a concurrency slot per attempt,
 * retries with backoff for network errors and 429/502/503/504 (see retry-policy.ts), and the
 * observer/rate-limit reporting for every attempt. Redirects and 401s are returned to the caller
 * (registry-client.ts), which decides what to do with them.
 *
 * Returns the first response that is not retryable — the caller owns its body and must consume or
 * destroy it. Throws UpstreamError 'unavailable' / 'rate-limited' when retries are exhausted, or the
 * signal's reason when aborted. Only GET and HEAD exist here, so every request is idempotent.
 */
export class HttpExchange {
  constructor(private readonly options: HttpExchangeOptions) {}

  async send(request: ExchangeRequest): Promise<UpstreamResponse> {
    const { observer, upstream, logger } = this.options;
    const target = describeUrl(request.url);
    for (let retry = 0; ; retry++) {
      const started = performance.now();
      let response: UpstreamResponse;
      try {
        response = await this.options.gate.run(() => this.dispatch(request), request.signal, discardResponse);
      } catch (error) {
        observer.request({ upstream, method: request.method, status: 'error', seconds: secondsSince(started) });
        if (request.signal?.aborted) throw abortReason(request.signal);
        const code = errorCode(error);
        const decision = decideRetry({ status: null, retryAfterMs: null, retry, maxRetries: this.options.retries, tuning: this.options.tuning });
        if (decision.action === 'give-up') {
          throw new UpstreamError('unavailable', `${request.method} ${target} failed: ${code}`, { cause: error });
        }
        logger.warn({ method: request.method, target, code, retry: retry + 1, delayMs: decision.delayMs }, 'upstream request failed; retrying');
        observer.retry({ upstream, reason: 'network' });
        await this.pause(decision.delayMs, request.signal);
        continue;
      }

      const status = response.statusCode;
      observer.request({ upstream, method: request.method, status, seconds: secondsSince(started) });
      this.reportRateLimit(response);
      logger.debug({ method: request.method, target, status }, 'upstream response');
      if (!RETRYABLE_STATUSES.has(status)) return response;

      await discardBody(response);
      const retryAfterMs = parseRetryAfter(headerValue(response.headers, 'retry-after'), this.options.now());
      const decision = decideRetry({ status, retryAfterMs, retry, maxRetries: this.options.retries, tuning: this.options.tuning });
      if (decision.action === 'give-up') {
        const kind = status === 429 ? 'rate-limited' : 'unavailable';
        const options = decision.retryAfterMs === undefined ? { status } : { status, retryAfterMs: decision.retryAfterMs };
        throw new UpstreamError(kind, `${request.method} ${target} answered ${status}`, options);
      }
      logger.warn({ method: request.method, target, status, retry: retry + 1, delayMs: decision.delayMs }, 'upstream busy; retrying');
      observer.retry({ upstream, reason: String(status) });
      await this.pause(decision.delayMs, request.signal);
    }
  }

  private dispatch(request: ExchangeRequest): Promise<UpstreamResponse> {
    return this.options.dispatcher.request({
      origin: request.url.origin,
      path: `${request.url.pathname}${request.url.search}`,
      method: request.method,
      headers: request.headers,
      signal: request.signal ?? null,
      headersTimeout: this.options.headersTimeoutMs,
      bodyTimeout: this.options.bodyTimeoutMs,
    });
  }

  private reportRateLimit(response: UpstreamResponse): void {
    const reading = parseRateLimitHeaders(
      headerValue(response.headers, 'ratelimit-limit'),
      headerValue(response.headers, 'ratelimit-remaining'),
    );
    if (reading) this.options.observer.rateLimit({ upstream: this.options.upstream, ...reading });
  }

  private async pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
    try {
      await sleep(ms, undefined, signal ? { signal } : undefined);
    } catch (error) {
      if (signal?.aborted) throw abortReason(signal);
      throw error;
    }
  }
}

/** Reads and drops a (small) body so the connection returns to the pool; bounded, never throws. */
export async function discardBody(response: UpstreamResponse): Promise<void> {
  try {
    await response.body.dump({ limit: 64 * 1024 });
  } catch {
    // The connection is closed instead; nothing else to do.
  }
}

function discardResponse(response: UpstreamResponse): void {
  destroyBody(response.body);
}

const secondsSince = (started: number): number => (performance.now() - started) / 1000;

/** undici errors carry a stable `code` (UND_ERR_CONNECT_TIMEOUT, ECONNREFUSED, ...); messages are not logged raw. */
export function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string') return name;
  }
  return 'unknown error';
}
