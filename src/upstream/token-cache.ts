import { abortReason } from './concurrency-gate.js';

/**
 * Bearer tokens of one upstream, cached per (realm, service, scope, credential) — behaviour 14. The
 * cache belongs to a single `Upstream`, so the upstream is part of every key implicitly; the
 * credential part is "anonymous" or "configured" because an upstream has one set of credentials.
 *
 * - A token is reused until shortly *before* it expires (a quarter of its lifetime, at most 30 s
 *   early), so a request never leaves with a token that expires on the way.
 * - `expires_in` defaults to 60 s when the token server omits it (the distribution token spec).
 * - Concurrent requests for a token that is not cached share one fetch (coalescing); a failed fetch
 *   is not cached, the next request tries again.
 */
export interface TokenGrant {
  token: string;
  /** Seconds; null when the token server did not say. */
  expiresInSeconds: number | null;
}

export interface CachedToken {
  token: string;
  /** True when this call fetched it (used to tell "token for this scope rejected" from "stale token"). */
  fresh: boolean;
}

export const DEFAULT_TOKEN_LIFETIME_SECONDS = 60;
const MAX_REFRESH_MARGIN_MS = 30_000;
const MAX_ENTRIES = 2_000;

interface Entry {
  token: string;
  usableUntil: number;
}

export class TokenCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(private readonly now: () => number) {}

  /**
   * A usable cached token, or the result of `fetch` (shared by concurrent callers of the same key).
   * The shared fetch belongs to no caller, so `fetch` must not use a caller's AbortSignal; `signal`
   * only stops *this* caller from waiting for it.
   */
  async obtain(key: string, fetch: () => Promise<TokenGrant>, signal?: AbortSignal): Promise<CachedToken> {
    const cached = this.entries.get(key);
    if (cached && this.now() < cached.usableUntil) return { token: cached.token, fresh: false };
    if (cached) this.entries.delete(key);

    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.fetchAndStore(key, fetch);
      this.inFlight.set(key, pending);
      const forget = (): void => {
        this.inFlight.delete(key);
      };
      pending.then(forget, forget);
    }
    return { token: await untilAborted(pending, signal), fresh: true };
  }

  /** Drops `token` for `key` if it is still the cached one (a newer token is kept). */
  invalidate(key: string, token: string): void {
    if (this.entries.get(key)?.token === token) this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  private async fetchAndStore(key: string, fetch: () => Promise<TokenGrant>): Promise<string> {
    const requestedAt = this.now();
    const grant = await fetch();
    const seconds = grant.expiresInSeconds !== null && grant.expiresInSeconds > 0 ? grant.expiresInSeconds : DEFAULT_TOKEN_LIFETIME_SECONDS;
    const lifetimeMs = seconds * 1000;
    const margin = Math.min(MAX_REFRESH_MARGIN_MS, lifetimeMs / 4);
    // Measured from when the request was sent: the server's clock (issued_at) is not trusted.
    this.store(key, { token: grant.token, usableUntil: requestedAt + lifetimeMs - margin });
    return grant.token;
  }

  private store(key: string, entry: Entry): void {
    this.entries.delete(key);
    if (this.entries.size >= MAX_ENTRIES) this.evict();
    this.entries.set(key, entry);
  }

  /** Drops expired entries; if none expired, the oldest one (Map order is insertion order). */
  private evict(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.usableUntil <= now) this.entries.delete(key);
    if (this.entries.size >= MAX_ENTRIES) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
