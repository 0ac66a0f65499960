import type { ByteSource, CacheKind, CacheResult, RegistryObserver } from '../registry/registry-observer.js';
import type { StowageMetrics } from './metrics.js';

/** The registry layer's events, counted into StowageMetrics. */
export class RegistryMetrics implements RegistryObserver {
  constructor(private readonly metrics: StowageMetrics) {}

  cacheRequest({ upstream, kind, result }: { upstream: string; kind: CacheKind; result: CacheResult }): void {
    this.metrics.cacheRequests.inc({ upstream, kind, result });
  }

  bytesServed({ source, bytes }: { source: ByteSource; bytes: number }): void {
    if (bytes > 0) this.metrics.servedBytes.inc({ source }, bytes);
  }

  digestMismatch({ upstream, kind }: { upstream: string; kind: CacheKind }): void {
    this.metrics.digestMismatches.inc({ upstream, kind });
  }

  fillsInProgress(delta: number): void {
    this.metrics.fillsInProgress.inc(delta);
  }

  fillReaders(delta: number): void {
    this.metrics.fillReaders.inc(delta);
  }

  eviction({ bytes }: { bytes: number }): void {
    this.metrics.evictions.inc();
    if (bytes > 0) this.metrics.evictedBytes.inc(bytes);
  }

  cacheSize({ bytes, objects }: { bytes: number; objects: number }): void {
    this.metrics.cacheSizeBytes.set(bytes);
    this.metrics.cacheObjects.set(objects);
  }

  push({ kind, bytes }: { kind: CacheKind; bytes: number }): void {
    this.metrics.hostedPushes.inc({ kind });
    if (bytes > 0) this.metrics.hostedPushedBytes.inc({ kind }, bytes);
  }
}
