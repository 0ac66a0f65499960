import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import { findBearerChallenge, hasBasicChallenge, parseAuthChallenges, type BearerChallenge } from './auth-challenge.js';
import type { HttpExchange } from './http-exchange.js';
import { mayReceiveCredentials } from './realm-policy.js';
import { HeadersDeadline } from './headers-deadline.js';
import { describeUrl, mayContact } from './redirect-policy.js';
import type { TokenCache } from './token-cache.js';
import { basicAuthorization, requestToken, type Credentials } from './token-client.js';
import { UpstreamError } from './upstream.js';

/** What authorization a request carried, so a 401 answer can be interpreted. */
export type AuthAttempt =
  | { kind: 'none' }
  | { kind: 'basic' }
  | { kind: 'bearer'; tokenKey: string; token: string; fresh: boolean; scope: string };

type OriginChallenge = { kind: 'bearer'; challenge: BearerChallenge } | { kind: 'basic' };

const MAX_REMEMBERED_ORIGINS = 64;

/**
 * Authorization for registry requests, per origin. The client does not ping `/v2/` first: it sends
 * the request, and a 401 teaches it the origin's challenge (remembered, so later requests to that
 * origin carry a token from the start). A token is only ever sent to the origin whose challenge it
 * answers; a redirect to another origin therefore starts without `Authorization`, and that origin gets
 * its own handshake if it asks (behaviours 16, 17). Configured credentials go only where
 * realm-policy.ts allows; other realms get an anonymous token request.
 */
export class RegistryAuthenticator {
  private readonly challenges = new Map<string, OriginChallenge>();
  /** Realms already reported as outside the credential policy (warn once, not per request). */
  private readonly refusedRealms = new Set<string>();

  constructor(
    private readonly options: {
      upstreamUrl: URL;
      credentials: Credentials | null;
      tokens: TokenCache;
      http: HttpExchange;
      logger: Logger;
      /** The request deadline (headers-deadline.ts), also for the shared token fetches. */
      deadlineMs: number;
    },
  ) {}

  /** The `Authorization` header (or null) for a request to `url` needing `scope`, and what it was. */
  async authorize(url: URL, scope: string, signal?: AbortSignal): Promise<{ header: string | null; attempt: AuthAttempt }> {
    const known = this.challenges.get(url.origin);
    if (!known) return { header: null, attempt: { kind: 'none' } };
    if (known.kind === 'basic') {
      const credentials = this.credentialsFor(url);
      return credentials ? { header: basicAuthorization(credentials), attempt: { kind: 'basic' } } : { header: null, attempt: { kind: 'none' } };
    }
    const challenge = known.challenge;
    const credentials = this.credentialsFor(challenge.realm);
    const tokenKey = [challenge.realm.href, challenge.service ?? '', scope, credentials ? 'configured' : 'anonymous'].join('\n');
    const { token, fresh } = await this.options.tokens.obtain(
      tokenKey,
      // Shared by every request waiting for this token, so bounded by a deadline of its own.
      () =>
        HeadersDeadline.run(this.options.deadlineMs, () => `token from ${describeUrl(challenge.realm)}`, (tokenSignal) =>
          requestToken(this.options.http, { realm: challenge.realm, service: challenge.service, scope, credentials, signal: tokenSignal }),
        ),
      signal,
    );
    return { header: `Bearer ${token}`, attempt: { kind: 'bearer', tokenKey, token, fresh, scope } };
  }

  /**
   * Interprets a 401 from `url`. Returns when the request should be sent again (a new or changed
   * challenge was learned, or a cached token was dropped); throws UpstreamError otherwise:
   * - a token fetched just now for exactly the scope the registry asks for was refused → 'not-found'
   *   (Docker Hub answers 401, not 404, for repositories that do not exist — behaviour 18);
   * - credentials refused, none configured, or no usable challenge → 'unauthorized';
   * - a realm on a private or loopback address of a public upstream (SSRF) → 'invalid'.
   */
  onUnauthorized(url: URL, headers: IncomingHttpHeaders, attempt: AuthAttempt): void {
    const challenges = parseAuthChallenges(headers['www-authenticate']);
    const bearer = findBearerChallenge(challenges);
    const known = this.challenges.get(url.origin);

    if (bearer) {
      if (!mayContact(this.options.upstreamUrl, bearer.realm)) {
        throw new UpstreamError('invalid', `${url.origin} names a token realm on a private or loopback host (${bearer.realm.host})`, { status: 401 });
      }
      const changed = known?.kind !== 'bearer' || !sameChallenge(known.challenge, bearer);
      if (attempt.kind !== 'bearer' || changed) {
        this.remember(url.origin, { kind: 'bearer', challenge: bearer });
        return;
      }
      if (!attempt.fresh) {
        // A cached token may have been revoked or expired early: fetch a new one once.
        this.options.tokens.invalidate(attempt.tokenKey, attempt.token);
        return;
      }
      if (bearer.error !== 'invalid_token' && (bearer.scope === null || bearer.scope === attempt.scope)) {
        throw new UpstreamError('not-found', `${url.origin} refused a token for ${attempt.scope}: repository not found or not accessible`, { status: 401 });
      }
      throw new UpstreamError('unauthorized', `${url.origin} refused a freshly issued token (${bearer.error ?? `wants scope ${bearer.scope}`})`, { status: 401 });
    }

    if (hasBasicChallenge(challenges)) {
      if (attempt.kind === 'basic') throw new UpstreamError('unauthorized', `${url.origin} rejected the configured credentials`, { status: 401 });
      if (!this.credentialsFor(url)) {
        throw new UpstreamError('unauthorized', `${url.origin} requires Basic credentials and none may be sent there`, { status: 401 });
      }
      this.remember(url.origin, { kind: 'basic' });
      return;
    }
    throw new UpstreamError('unauthorized', `${url.origin} answered 401 without a usable challenge`, { status: 401 });
  }

  private credentialsFor(target: URL): Credentials | null {
    const { credentials, upstreamUrl, logger } = this.options;
    if (!credentials) return null;
    if (mayReceiveCredentials(upstreamUrl, target)) return credentials;
    if (!this.refusedRealms.has(target.origin) && this.refusedRealms.size < MAX_REMEMBERED_ORIGINS) {
      this.refusedRealms.add(target.origin);
      logger.warn({ upstream: upstreamUrl.origin, realm: target.origin }, 'auth realm outside the upstream domain: credentials withheld');
    }
    return null;
  }

  private remember(origin: string, challenge: OriginChallenge): void {
    this.challenges.delete(origin);
    if (this.challenges.size >= MAX_REMEMBERED_ORIGINS) {
      const oldest = this.challenges.keys().next();
      if (!oldest.done) this.challenges.delete(oldest.value);
    }
    this.challenges.set(origin, challenge);
  }
}

const sameChallenge = (a: BearerChallenge, b: BearerChallenge): boolean => a.realm.href === b.realm.href && a.service === b.service;
