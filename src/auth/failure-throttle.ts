import { LRUCache } from 'lru-cache';

export interface FailureThrottleOptions {
  /** Failures from one address answered without delay (default 5). */
  freeFailures?: number;
  /** The first delay; it doubles with each further failure (default 100 ms). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** An address's failures are forgotten this long after its last one (default 5 min). */
  windowMs?: number;
  /** Addresses remembered at once (default 10,000; the least recent are forgotten first). */
  maxAddresses?: number;
  now?: () => number;
}

/**
 * Slows down password guessing per client address: after `freeFailures` failed attempts, every
 * attempt from that address that needs a password check waits 100 ms, then 200 ms, … up to
 * `maxDelayMs`, before it is checked — parallel guesses wait too. Remembered successes (the verdict
 * cache) are not attempts and never wait, so a client that signed in keeps its speed.
 * Deliberately gentle (a few seconds at most): dockerd presents its Docker Hub credentials to a
 * mirror on every pull, and those count as failures too.
 */
export class FailureThrottle {
  private readonly failures: LRUCache<string, { count: number; last: number }>;
  private readonly free: number;
  private readonly base: number;
  private readonly max: number;
  private readonly window: number;
  private readonly now: () => number;

  constructor(options: FailureThrottleOptions = {}) {
    this.free = options.freeFailures ?? 5;
    this.base = options.baseDelayMs ?? 100;
    this.max = options.maxDelayMs ?? 3000;
    this.window = options.windowMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
    this.failures = new LRUCache({ max: options.maxAddresses ?? 10_000 });
  }

  /** How long an attempt from `ip` should wait before it is checked (0 for most). */
  delayFor(ip: string): number {
    const entry = this.current(ip);
    if (!entry || entry.count < this.free) return 0;
    return Math.min(this.base * 2 ** (entry.count - this.free), this.max);
  }

  failed(ip: string): void {
    const entry = this.current(ip);
    this.failures.set(ip, { count: (entry?.count ?? 0) + 1, last: this.now() });
  }

  private current(ip: string): { count: number; last: number } | undefined {
    const entry = this.failures.get(ip);
    if (entry && this.now() - entry.last > this.window) {
      this.failures.delete(ip);
      return undefined;
    }
    return entry;
  }
}
