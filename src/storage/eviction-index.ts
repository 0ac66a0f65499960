import type { Digest } from '../oci/digest.js';

/** Eviction brings the cache down to this fraction of the budget, so it does not run on every fill. */
export const LOW_WATERMARK = 0.9;
/** Content served within this window is never evicted: a pull in progress keeps its layers. */
export const EVICTION_PROTECT_MS = 10 * 60_000;

export interface EvictionPolicy {
  /** High watermark in bytes: eviction starts above it. 0 disables eviction. */
  maxBytes: number;
  /** Eviction stops at or below this many bytes. */
  lowBytes: number;
  /** Content used more recently than this is never evicted, even over budget. */
  protectMs: number;
}

export interface EvictionTotals {
  /** Bytes of cached content in the index (what counts against `storage.maxSize`). */
  bytes: number;
  objects: number;
  /** Of `bytes`, those pinned (never evicted). */
  pinnedBytes: number;
}

/**
 * The bookkeeping behind size-bounded eviction of *cached* (proxied) content: its sizes and
 * least-recently-used order. Hosted content never enters it (it is not a cache). The budget is
 * enforced by deleting the least recently used blobs from the BlobStore, skipping content used
 * within the protection window, blobs being read in this process, and pinned digests.
 * Implementations: LocalEvictionIndex (in memory, rebuilt from the stores at start; one process);
 * a shared one (Redis: a sorted set by last use, a size hash, a lock around passes) for replicas.
 * The behaviour is pinned by test/storage/contracts/eviction-index-contract.ts.
 */
export interface EvictionIndex {
  /** Cached content entered the store (a fill, an upstream manifest). `lastUsed` defaults to now. */
  add(digest: Digest, size: number, lastUsed?: number): Promise<void>;
  /**
   * Served again: now the most recently used. On the hot path: returns at once, never throws, and
   * may record the use lazily (the fs index re-orders at most once a second and persists the use as
   * the blob's mtime at most once a minute).
   */
  touch(digest: Digest): void;
  /** No longer cache content (pushed or mounted into a hosted repository): never evicted, not counted. */
  forget(digest: Digest): Promise<void>;
  /**
   * Never evict `digest` (issue 12: retention pins), whether it is indexed yet or not. Pins are held
   * by the index, not persisted: whoever pins re-applies its pins at start.
   */
  pin(digest: Digest): Promise<void>;
  unpin(digest: Digest): Promise<void>;
  /** One eviction pass if over budget; concurrent calls share the pass in progress. */
  evict(): Promise<void>;
  /**
   * Evicts at least `bytes` of least recently used cache content if there is that much evictable,
   * whatever the budget (the disk is short of space: lifecycle/free-space.ts), with the same
   * protections as a pass (recent use, readers, pins). Runs after a pass in progress. Returns the
   * bytes freed.
   */
  shrink(bytes: number): Promise<number>;
  /**
   * Evicts `digest` now, on request (the UI's "evict from cache"), when it is cache content that is
   * neither being read nor pinned: its bytes are deleted, counted as an eviction, and it leaves the
   * totals. Returns the bytes freed; 0 when it was left alone (hosted, unknown, in use or pinned).
   */
  evictNow(digest: Digest): Promise<number>;
  totals(): Promise<EvictionTotals>;
}

/**
 * An index several replicas share (cluster/redis-eviction-index.ts): one budget for the bucket.
 * It is built from the store once for all of them, not by each replica at its start.
 */
export interface SharedEvictionIndex extends EvictionIndex {
  /** Runs `rebuild` (which adds every cached blob) unless the shared index was built already. */
  rebuildOnce(rebuild: () => Promise<void>): Promise<void>;
}
