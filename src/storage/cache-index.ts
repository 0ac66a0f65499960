import type { Digest } from '../oci/digest.js';

export interface EvictionPolicy {
  /** High watermark in bytes: eviction starts above it. 0 disables eviction. */
  maxBytes: number;
  /** Eviction stops at or below this many bytes. */
  lowBytes: number;
  /** Content used more recently than this is never evicted, even over budget. */
  protectMs: number;
}

export interface EvictionHooks {
  /** Whether a client is reading the blob right now (it must not disappear under them). */
  isInUse(digest: Digest): boolean;
  remove(digest: Digest): Promise<void>;
  evicted(bytes: number): void;
  sizeChanged(bytes: number, objects: number): void;
}

/**
 * The least-recently-used order of *cached* (proxied) content and its total size. Hosted content is
 * never entered here — it is not a cache and must never be evicted. The disk stays the source of
 * truth: the index is rebuilt from it at start (`rebuild`), in the background.
 */
export class CacheIndex {
  // A Map iterates in insertion order; re-inserting on use keeps it least-recently-used first.
  private readonly entries = new Map<Digest, { size: number; lastUsed: number }>();
  private total = 0;
  private running: Promise<void> | null = null;

  constructor(
    private readonly policy: EvictionPolicy,
    private readonly hooks: EvictionHooks,
    private readonly now: () => number = Date.now,
  ) {}

  get bytes(): number {
    return this.total;
  }

  get objects(): number {
    return this.entries.size;
  }

  /** A blob or manifest was cached from an upstream. `lastUsed` defaults to now. */
  add(digest: Digest, size: number, lastUsed = this.now()): void {
    const previous = this.entries.get(digest);
    if (previous !== undefined) this.total -= previous.size;
    this.entries.delete(digest);
    this.entries.set(digest, { size, lastUsed });
    this.total += size;
    this.changed();
    void this.evict();
  }

  /** Served again: moves to the most recently used end. */
  touch(digest: Digest): void {
    const entry = this.entries.get(digest);
    if (!entry) return;
    const now = this.now();
    // A hot manifest is touched thousands of times a second; re-ordering it once a second is as good.
    if (now - entry.lastUsed < 1000 && now >= entry.lastUsed) return;
    entry.lastUsed = now;
    this.entries.delete(digest);
    this.entries.set(digest, entry);
  }

  /** Whether the blob is cached (evictable) content. */
  has(digest: Digest): boolean {
    return this.entries.has(digest);
  }

  /** Now referenced by a hosted repository (pushed or mounted): no longer evictable. */
  forget(digest: Digest): void {
    const entry = this.entries.get(digest);
    if (!entry) return;
    this.entries.delete(digest);
    this.total -= entry.size;
    this.changed();
  }

  /**
   * Runs one eviction pass if over budget; concurrent calls share the pass in progress. A pass that
   * finds only protected content leaves the cache over budget until the next addition.
   */
  evict(): Promise<void> {
    if (this.running) return this.running;
    if (this.policy.maxBytes <= 0 || this.total <= this.policy.maxBytes) return Promise.resolve();
    const pass = Promise.resolve().then(() => this.pass());
    this.running = pass.finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pass(): Promise<void> {
    const cutoff = this.now() - this.policy.protectMs;
    // Least recently used first, skipping what is protected.
    const candidates: Digest[] = [];
    let planned = this.total;
    for (const [digest, entry] of this.entries) {
      if (planned <= this.policy.lowBytes) break;
      if (entry.lastUsed >= cutoff || this.hooks.isInUse(digest)) continue;
      candidates.push(digest);
      planned -= entry.size;
    }
    for (const digest of candidates) {
      const entry = this.entries.get(digest);
      // Used, forgotten or re-added while we were deleting others: leave it.
      if (!entry || entry.lastUsed >= cutoff || this.hooks.isInUse(digest)) continue;
      this.entries.delete(digest);
      // The total drops once the bytes are gone from disk, so it never under-reports usage.
      await this.hooks.remove(digest);
      this.total -= entry.size;
      this.hooks.evicted(entry.size);
    }
    this.changed();
  }

  private changed(): void {
    this.hooks.sizeChanged(this.total, this.entries.size);
  }
}
