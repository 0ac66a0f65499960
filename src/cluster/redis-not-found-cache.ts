import { LocalNotFoundCache, type NotFoundCache } from '../registry/not-found-cache.js';
import type { RedisLink } from './redis-link.js';

/**
 * The not-found cache shared by the replicas: an upstream "not found" seen by one is remembered in
 * Redis (`stowage:notfound:<key>`, expiring with the TTL) and in memory here, so no replica asks
 * the upstream again within the TTL. A key found in Redis is kept in memory for what is left of its
 * TTL. Without Redis each replica remembers its own answers, as a single process does.
 */
export class RedisNotFoundCache implements NotFoundCache {
  private readonly local: LocalNotFoundCache;

  constructor(
    private readonly link: RedisLink,
    now?: () => number,
  ) {
    this.local = new LocalNotFoundCache(now);
  }

  async has(key: string): Promise<boolean> {
    if (this.local.hasLocally(key)) return true;
    if (!this.link.up) return false;
    try {
      const left = await this.link.run((redis) => redis.pttl(redisKey(key)));
      if (left <= 0) return false;
      this.local.remember(key, left);
      return true;
    } catch {
      return false;
    }
  }

  remember(key: string, ttlMs: number): void {
    if (ttlMs <= 0) return;
    this.local.remember(key, ttlMs);
    this.link.run((redis) => redis.set(redisKey(key), '1', 'PX', ttlMs)).catch(() => {});
  }
}

const redisKey = (key: string): string => `stowage:notfound:${key}`;
