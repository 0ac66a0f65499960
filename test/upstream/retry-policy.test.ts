import { describe, expect, it } from 'vitest';
import { backoffDelayMs, decideRetry, parseRetryAfter, type RetryTuning } from '../../src/upstream/retry-policy.js';

const tuning: RetryTuning = { baseDelayMs: 100, maxDelayMs: 1_000, retryAfterCapMs: 10_000 };

describe('retry policy', () => {
  it('grows the backoff exponentially with equal jitter, capped', () => {
    expect(backoffDelayMs(0, tuning, () => 0)).toBe(50);
    expect(backoffDelayMs(0, tuning, () => 1)).toBe(100);
    expect(backoffDelayMs(3, tuning, () => 0)).toBe(400);
    expect(backoffDelayMs(10, tuning, () => 1)).toBe(1_000);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeNull();
    expect(parseRetryAfter(undefined, now)).toBeNull();
  });

  it('waits at least the backoff even for Retry-After: 0 (no hot loop)', () => {
    expect(decideRetry({ status: 429, retryAfterMs: 0, retry: 0, maxRetries: 3, tuning, random: () => 0 })).toEqual({ action: 'retry', delayMs: 50 });
    expect(decideRetry({ status: 429, retryAfterMs: 2_000, retry: 0, maxRetries: 3, tuning })).toEqual({ action: 'retry', delayMs: 2_000 });
  });

  it('gives up at once, reporting the wait, when Retry-After exceeds the cap', () => {
    expect(decideRetry({ status: 429, retryAfterMs: 60_000, retry: 0, maxRetries: 3, tuning })).toEqual({ action: 'give-up', retryAfterMs: 60_000 });
  });

  it('gives up after maxRetries', () => {
    expect(decideRetry({ status: null, retryAfterMs: null, retry: 2, maxRetries: 2, tuning })).toEqual({ action: 'give-up' });
    expect(decideRetry({ status: 503, retryAfterMs: 1_000, retry: 2, maxRetries: 2, tuning })).toEqual({ action: 'give-up', retryAfterMs: 1_000 });
  });
});
