import type { ByteSource, CacheKind, CacheResult, RegistryObserver } from '../registry/registry-observer.js';
import type { UpstreamObserver } from '../upstream/upstream.js';
import type { StatsSample } from './stats-history.js';

export interface UpstreamTraffic {
  requests: number;
  /** No response, a 5xx or a 429. */
  errors: number;
  lastSuccessAt: number | null;
  lastError: { at: number; status: number | 'error' } | null;
  bytesDownloaded: number;
  rateLimit: { limit: number | null; remaining: number | null } | null;
  /** Cache outcomes of requests for this upstream's content, by result. */
  cache: Record<CacheResult, number>;
}

export interface TrafficSnapshot {
  /** Blob bytes sent to clients, by where they came from (stowage_served_bytes_total). */
  servedBytes: Record<ByteSource, number>;
  evictions: number;
  evictedBytes: number;
  cacheBytes: number;
  cacheObjects: number;
  pushes: Record<CacheKind, number>;
  upstreams: Record<string, UpstreamTraffic>;
}

const zeroResults = (): Record<CacheResult, number> => ({ hit: 0, miss: 0, stale: 0, coalesced: 0, negative: 0 });

/**
 * The same registry and upstream events Prometheus counts (metrics.ts), kept as plain numbers for
 * the stats API, plus what a counter cannot say: when each upstream last answered and last failed.
 * Fed by the observer fan-out, so the figures match /metrics, and work with metrics disabled.
 */
export class TrafficStats implements RegistryObserver, UpstreamObserver {
  private readonly state: TrafficSnapshot;

  constructor(
    upstreams: readonly string[],
    private readonly now: () => number = Date.now,
  ) {
    this.state = {
      servedBytes: { cache: 0, upstream: 0 },
      evictions: 0,
      evictedBytes: 0,
      cacheBytes: 0,
      cacheObjects: 0,
      pushes: { manifest: 0, blob: 0 },
      upstreams: Object.fromEntries(upstreams.map((u) => [u, this.emptyUpstream()])),
    };
  }

  snapshot(): TrafficSnapshot {
    return structuredClone(this.state);
  }

  /** The cumulative figures the stats charts are drawn from (metrics/stats-history.ts). */
  sample(at: number): StatsSample {
    let requests = 0;
    let misses = 0;
    for (const u of Object.values(this.state.upstreams)) {
      for (const n of Object.values(u.cache)) requests += n;
      misses += u.cache.miss;
    }
    return { at, requests, misses, bytesFromCache: this.state.servedBytes.cache, bytesFromUpstream: this.state.servedBytes.upstream };
  }

  /** The upstream's last `ratelimit-remaining` (prefetch keeps a reserve); null when it sent none. */
  pullsLeft(upstream: string): number | null {
    return this.state.upstreams[upstream]?.rateLimit?.remaining ?? null;
  }

  // RegistryObserver
  cacheRequest({ upstream, result }: { upstream: string; kind: CacheKind; result: CacheResult }): void {
    this.upstream(upstream).cache[result]++;
  }
  bytesServed({ source, bytes }: { source: ByteSource; bytes: number }): void {
    if (bytes > 0) this.state.servedBytes[source] += bytes;
  }
  digestMismatch(): void {}
  fillsInProgress(): void {}
  fillReaders(): void {}
  eviction({ bytes }: { bytes: number }): void {
    this.state.evictions++;
    if (bytes > 0) this.state.evictedBytes += bytes;
  }
  cacheSize({ bytes, objects }: { bytes: number; objects: number }): void {
    this.state.cacheBytes = bytes;
    this.state.cacheObjects = objects;
  }
  push({ kind }: { kind: CacheKind; bytes: number }): void {
    this.state.pushes[kind]++;
  }

  // UpstreamObserver
  request({ upstream, status }: { upstream: string; method: string; status: number | 'error'; seconds: number }): void {
    const u = this.upstream(upstream);
    u.requests++;
    if (status === 'error' || status >= 500 || status === 429) {
      u.errors++;
      u.lastError = { at: this.now(), status };
    } else {
      u.lastSuccessAt = this.now();
    }
  }
  rateLimit({ upstream, limit, remaining }: { upstream: string; limit: number | null; remaining: number | null }): void {
    const u = this.upstream(upstream);
    // As the gauges: a missing header keeps the last reading.
    u.rateLimit = { limit: limit ?? u.rateLimit?.limit ?? null, remaining: remaining ?? u.rateLimit?.remaining ?? null };
  }
  retry(): void {}
  resume(): void {}
  bytes({ upstream, bytes }: { upstream: string; bytes: number }): void {
    if (bytes > 0) this.upstream(upstream).bytesDownloaded += bytes;
  }

  private upstream(name: string): UpstreamTraffic {
    return (this.state.upstreams[name] ??= this.emptyUpstream());
  }

  private emptyUpstream(): UpstreamTraffic {
    return { requests: 0, errors: 0, lastSuccessAt: null, lastError: null, bytesDownloaded: 0, rateLimit: null, cache: zeroResults() };
  }
}
