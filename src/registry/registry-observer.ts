/**
 * What the registry layer reports for metrics. Labels are bounded by construction: an upstream
 * name comes from config, kinds and results are enums — never a repository, tag or digest.
 */
export type CacheKind = 'manifest' | 'blob';
export type CacheResult = 'hit' | 'miss' | 'stale' | 'coalesced' | 'negative';
export type ByteSource = 'cache' | 'upstream';

export interface RegistryObserver {
  cacheRequest(event: { upstream: string; kind: CacheKind; result: CacheResult }): void;
  bytesServed(event: { source: ByteSource; bytes: number }): void;
  digestMismatch(event: { upstream: string; kind: CacheKind }): void;
  /** A fill started (+1) or ended (-1); readers joined (+1) or left (-1). */
  fillsInProgress(delta: number): void;
  fillReaders(delta: number): void;
  eviction(event: { bytes: number }): void;
  cacheSize(event: { bytes: number; objects: number }): void;
  push(event: { kind: CacheKind; bytes: number }): void;
}

export const NOOP_REGISTRY_OBSERVER: RegistryObserver = {
  cacheRequest() {},
  bytesServed() {},
  digestMismatch() {},
  fillsInProgress() {},
  fillReaders() {},
  eviction() {},
  cacheSize() {},
  push() {},
};
