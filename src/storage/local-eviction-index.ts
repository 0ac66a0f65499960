import { LRUCache } from 'lru-cache';
import type { Digest } from '../oci/digest.js';
import type { EvictionIndex, EvictionPolicy, EvictionTotals } from './eviction-index.js';

export interface EvictionHooks {
  /** Whether a client is reading the blob right now (it must not disappear under them). */
  isInUse(digest: Digest): boolean;
  remove(digest: Digest): Promise<void>;
  evicted(bytes: number): void;
  sizeChanged(bytes: number, objects: number): void;
  /** Persists a use where the store keeps last use (fs: the blob file's mtime). Fire and forget. */
  recordUse?(digest: Digest, at: number): void;
}

/** A hot manifest is touched thousands of times a second; re-ordering it once a second is as good. */
const REORDER_INTERVAL_MS = 1000;
/** Persisting a use costs a syscall: once a minute per blob is plenty for an LRU measured in hours. */
const RECORD_INTERVAL_MS = 60_000;

interface Entry {
  size: number;
  lastUsed: number;
  recordedAt: number;
}

/**
 * The eviction index in this process's memory: a `Map` in least-recently-used order (re-inserting
 * an entry on use moves it to the end) and the running total. `lru-cache` does not fit: it evicts
 * synchronously inside `set`, while we must skip blobs in use and delete asynchronously before the
 * total drops. The stores stay the source of truth: it is rebuilt from them at start
 * (eviction-index-rebuild.ts), with last use from the blobs' mtimes, which `touch` keeps current.
 */
export class LocalEvictionIndex implements EvictionIndex {
  private readonly entries = new Map<Digest, Entry>();
  private readonly pins = new Set<Digest>();
  /** When uses of digests not (yet) indexed were last persisted: the index may still be rebuilding. */
  private readonly recordedElsewhere = new LRUCache<Digest, number>({ max: 10_000 });
  private total = 0;
  private running: Promise<void> | null = null;

  constructor(
    private readonly policy: EvictionPolicy,
    private readonly hooks: EvictionHooks,
    private readonly now: () => number = Date.now,
  ) {}

  async add(digest: Digest, size: number, lastUsed = this.now()): Promise<void> {
    const previous = this.entries.get(digest);
    if (previous !== undefined) this.total -= previous.size;
    this.entries.delete(digest);
    this.entries.set(digest, { size, lastUsed, recordedAt: lastUsed });
    this.total += size;
    this.changed();
    void this.evict();
  }

  touch(digest: Digest): void {
    const now = this.now();
    const entry = this.entries.get(digest);
    if (!entry) {
      if (now - (this.recordedElsewhere.get(digest) ?? -Infinity) < RECORD_INTERVAL_MS) return;
      this.recordedElsewhere.set(digest, now);
      this.hooks.recordUse?.(digest, now);
      return;
    }
    if (now - entry.lastUsed < REORDER_INTERVAL_MS && now >= entry.lastUsed) return;
    entry.lastUsed = now;
    this.entries.delete(digest);
    this.entries.set(digest, entry);
    if (now - entry.recordedAt >= RECORD_INTERVAL_MS || now < entry.recordedAt) {
      entry.recordedAt = now;
      this.hooks.recordUse?.(digest, now);
    }
  }

  async forget(digest: Digest): Promise<void> {
    const entry = this.entries.get(digest);
    if (!entry) return;
    this.entries.delete(digest);
    this.total -= entry.size;
    this.changed();
  }

  async pin(digest: Digest): Promise<void> {
    this.pins.add(digest);
  }

  async unpin(digest: Digest): Promise<void> {
    this.pins.delete(digest);
  }

  async totals(): Promise<EvictionTotals> {
    let pinnedBytes = 0;
    for (const digest of this.pins) pinnedBytes += this.entries.get(digest)?.size ?? 0;
    return { bytes: this.total, objects: this.entries.size, pinnedBytes };
  }

  async evictNow(digest: Digest): Promise<number> {
    const entry = this.entries.get(digest);
    if (!entry || this.pins.has(digest) || this.hooks.isInUse(digest)) return 0;
    this.entries.delete(digest);
    await this.hooks.remove(digest);
    this.total -= entry.size;
    this.hooks.evicted(entry.size);
    this.changed();
    return entry.size;
  }

  /** A pass that finds only protected content leaves the cache over budget until the next addition. */
  evict(): Promise<void> {
    if (this.running) return this.running;
    if (this.policy.maxBytes <= 0 || this.total <= this.policy.maxBytes) return Promise.resolve();
    const pass = Promise.resolve().then(() => this.pass(this.policy.lowBytes)).then(() => {});
    this.running = pass.finally(() => {
      this.running = null;
    });
    return this.running;
  }

  async shrink(bytes: number): Promise<number> {
    while (this.running) await this.running;
    const pass = this.pass(Math.max(0, this.total - bytes));
    this.running = pass.then(() => {}).finally(() => {
      this.running = null;
    });
    return pass;
  }

  /** Evicts least recently used, evictable content until the total is at most `target`; the bytes freed. */
  private async pass(target: number): Promise<number> {
    const protectedSince = this.now() - this.policy.protectMs;
    const evictable = (digest: Digest, entry: Entry): boolean =>
      entry.lastUsed < protectedSince && !this.pins.has(digest) && !this.hooks.isInUse(digest);
    // Least recently used first, skipping what is protected.
    const candidates: Digest[] = [];
    let planned = this.total;
    for (const [digest, entry] of this.entries) {
      if (planned <= target) break;
      if (!evictable(digest, entry)) continue;
      candidates.push(digest);
      planned -= entry.size;
    }
    let freed = 0;
    for (const digest of candidates) {
      const entry = this.entries.get(digest);
      // Used, pinned, forgotten or re-added while we were deleting others: leave it.
      if (!entry || !evictable(digest, entry)) continue;
      this.entries.delete(digest);
      // The total drops once the bytes are gone from the store, so it never under-reports usage.
      await this.hooks.remove(digest);
      this.total -= entry.size;
      freed += entry.size;
      this.hooks.evicted(entry.size);
    }
    this.changed();
    return freed;
  }

  private changed(): void {
    this.hooks.sizeChanged(this.total, this.entries.size);
  }
}
