import type { UpstreamObserver } from '../upstream/upstream.js';
import { statusClass, type StowageMetrics } from './metrics.js';

/** The upstream client's events, counted into StowageMetrics. */
export class UpstreamMetrics implements UpstreamObserver {
  constructor(private readonly metrics: StowageMetrics) {}

  request({ upstream, method, status, seconds }: { upstream: string; method: string; status: number | 'error'; seconds: number }): void {
    // The client only sends GET and HEAD; anything else is folded so the label set stays closed.
    const m = method === 'GET' || method === 'HEAD' ? method : 'other';
    this.metrics.upstreamRequests.inc({ upstream, method: m, status_class: status === 'error' ? 'error' : statusClass(status) });
    this.metrics.upstreamRequestDuration.observe({ upstream, method: m }, seconds);
  }

  rateLimit({ upstream, limit, remaining }: { upstream: string; limit: number | null; remaining: number | null }): void {
    // A missing header keeps the last reading (see upstream/rate-limit-headers.ts).
    if (limit !== null) this.metrics.upstreamRateLimitLimit.set({ upstream }, limit);
    if (remaining !== null) this.metrics.upstreamRateLimitRemaining.set({ upstream }, remaining);
  }

  retry({ upstream }: { upstream: string; reason: string }): void {
    this.metrics.upstreamRetries.inc({ upstream });
  }

  resume({ upstream }: { upstream: string }): void {
    this.metrics.upstreamResumes.inc({ upstream });
  }

  bytes({ upstream, bytes }: { upstream: string; bytes: number }): void {
    if (bytes > 0) this.metrics.upstreamDownloadedBytes.inc({ upstream }, bytes);
  }
}
