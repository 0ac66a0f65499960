import { LRUCache } from 'lru-cache';
import { decodeJwt, verifyJwtSignature } from './jwt.js';
import type { VerificationKey } from './trusted-keys.js';

/** A token whose signature, issuer, audience and times checked out. */
export interface VerifiedToken {
  /** null for a token issued to an anonymous caller (`sub` empty). */
  subject: string | null;
  /** `type:name` → actions, from the `access` claim. */
  grants: ReadonlyMap<string, ReadonlySet<string>>;
  /** Epoch ms. */
  expiresAt: number;
  claims: Record<string, unknown>;
}

export interface TokenVerifierOptions {
  keys: readonly VerificationKey[];
  issuer: string;
  audience: string;
  /** Allowed clock difference for `exp`/`nbf` (0 for our own tokens: one clock signs and checks). */
  leewayMs: number;
  now?: () => number;
  /** Verified tokens remembered (default 10,000), so a token costs one signature check, not one per request. */
  cacheSize?: number;
}

/**
 * Verifies bearer tokens: a known key (by `kid`, or any fitting key when there is none), the
 * header's algorithm fitting that key (jwt.ts), `iss`, `aud` (a string or a list holding ours),
 * `exp` and `nbf`. Verified tokens are cached until they expire, and re-checked against the clock
 * on every use.
 */
export class TokenVerifier {
  private readonly now: () => number;
  private readonly verified: LRUCache<string, VerifiedToken>;

  constructor(private readonly options: TokenVerifierOptions) {
    this.now = options.now ?? Date.now;
    this.verified = new LRUCache({ max: options.cacheSize ?? 10_000 });
  }

  /** The verified token, 'expired', or null for anything else wrong with it. */
  verify(token: string): VerifiedToken | 'expired' | null {
    let result = this.verified.get(token);
    if (result === undefined) {
      const checked = this.check(token, this.options.audience);
      if (checked === null || checked === 'expired') return checked;
      result = checked;
      this.verified.set(token, result);
    }
    if (this.now() >= result.expiresAt + this.options.leewayMs) {
      this.verified.delete(token);
      return 'expired';
    }
    return result;
  }

  /** The claims of a valid token for another audience (refresh tokens); not cached. */
  verifyFor(token: string, audience: string): VerifiedToken | null {
    const checked = this.check(token, audience);
    return checked === 'expired' ? null : checked;
  }

  private check(token: string, audience: string): VerifiedToken | 'expired' | null {
    const jwt = decodeJwt(token);
    if (!jwt) return null;
    const { kid } = jwt.header;
    const candidates = this.options.keys.filter((k) => kid === undefined || k.kids.has(kid));
    if (!candidates.some((k) => verifyJwtSignature(jwt, k.key))) return null;
    const claims = jwt.payload;
    if (claims.iss !== this.options.issuer) return null;
    const aud = claims.aud;
    if (!(aud === audience || (Array.isArray(aud) && aud.includes(audience)))) return null;
    if (typeof claims.exp !== 'number') return null;
    const now = this.now();
    const leeway = this.options.leewayMs;
    if (typeof claims.nbf === 'number' && now + leeway < claims.nbf * 1000) return null;
    if (now >= claims.exp * 1000 + leeway) return 'expired';
    const subject = typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : null;
    return { subject, grants: grantsOf(claims.access), expiresAt: claims.exp * 1000, claims };
  }
}

function grantsOf(access: unknown): Map<string, Set<string>> {
  const grants = new Map<string, Set<string>>();
  if (!Array.isArray(access)) return grants;
  for (const entry of access as Array<Record<string, unknown>>) {
    if (typeof entry?.type !== 'string' || typeof entry.name !== 'string' || !Array.isArray(entry.actions)) continue;
    const key = `${entry.type}:${entry.name}`;
    const actions = grants.get(key) ?? new Set<string>();
    for (const action of entry.actions) if (typeof action === 'string') actions.add(action);
    grants.set(key, actions);
  }
  return grants;
}
