import { LRUCache } from 'lru-cache';

/**
 * Upstream "not found" answers, remembered for a while so that clients asking again and again for a
 * tag or repository the upstream does not have cost one upstream request per TTL. Keys name the
 * upstream repository and reference (`proxied/docker.io/library/x:tag`). LocalNotFoundCache serves
 * one process; replicas share theirs through Redis (cluster/redis-not-found-cache.ts).
 */
export interface NotFoundCache {
  /** Whether `key` was found missing within its TTL. */
  has(key: string): Promise<boolean>;
  /** `key` is missing upstream for the next `ttlMs`. */
  remember(key: string, ttlMs: number): void;
}

/** In memory, by the injected clock. */
export class LocalNotFoundCache implements NotFoundCache {
  /** Expiry (epoch ms) by key. */
  private readonly expiries = new LRUCache<string, number>({ max: 10_000 });

  constructor(private readonly now: () => number = Date.now) {}

  async has(key: string): Promise<boolean> {
    return this.hasLocally(key);
  }

  hasLocally(key: string): boolean {
    const expires = this.expiries.get(key);
    if (expires === undefined) return false;
    if (this.now() < expires) return true;
    this.expiries.delete(key);
    return false;
  }

  remember(key: string, ttlMs: number): void {
    if (ttlMs > 0) this.expiries.set(key, this.now() + ttlMs);
  }
}
