import { createHmac, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';

/**
 * Remembers, briefly, what bcrypt said about an Authorization header, so a pull of 200 layers with
 * Basic credentials runs bcrypt once, not 200 times. Entries are keyed by an HMAC of the header
 * under a key made at start-up, so the credentials themselves are never kept. `null` remembers a
 * failure (a repeated wrong header costs no bcrypt either; it is still counted and slowed).
 * Bounded in size and age; `clear()` is called whenever the htpasswd file changes.
 */
export class VerdictCache {
  private readonly key = randomBytes(32);
  private readonly verdicts: LRUCache<string, { user: string | null }>;

  constructor(options: { max?: number; ttlMs?: number; now?: () => number } = {}) {
    this.verdicts = new LRUCache({
      max: options.max ?? 10_000,
      ttl: options.ttlMs ?? 60_000,
      ...(options.now ? { perf: { now: options.now } } : {}),
    });
  }

  /** The user (or null for a failure) remembered for `header`; undefined when unknown. */
  get(header: string): string | null | undefined {
    return this.verdicts.get(this.hash(header))?.user;
  }

  set(header: string, user: string | null): void {
    this.verdicts.set(this.hash(header), { user });
  }

  clear(): void {
    this.verdicts.clear();
  }

  private hash(header: string): string {
    return createHmac('sha256', this.key).update(header).digest('base64');
  }
}
