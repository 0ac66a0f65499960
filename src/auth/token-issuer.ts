import { randomBytes } from 'node:crypto';
import { signJwt } from './jwt.js';
import type { SigningKey } from './signing-key.js';

/** One entry of a token's `access` claim: what the holder may do on one resource. */
export interface GrantedAccess {
  type: string;
  name: string;
  actions: string[];
}

export interface IssuedToken {
  token: string;
  /** Seconds. */
  expiresIn: number;
  /** RFC 3339, as Docker's token protocol writes it. */
  issuedAt: string;
}

/** Refresh tokens outlive access tokens by far; they stop working when the user leaves the htpasswd file or changes password. */
export const REFRESH_TOKEN_TTL_MS = 30 * 24 * 3_600_000;
/** The audience of refresh tokens: never the service, so one can never be used as an access token. */
export const refreshAudience = (service: string): string => `${service}#refresh`;

export interface TokenIssuerOptions {
  key: SigningKey;
  issuer: string;
  /** The `service` of challenges; tokens carry it as `aud`. */
  service: string;
  ttlMs: number;
  now?: () => number;
}

/**
 * Signs the JWTs of the built-in token endpoint: access tokens with `iss, sub, aud, exp, nbf, iat,
 * jti, access[{type,name,actions}]` and a `kid` header (distribution's token format), and refresh
 * tokens bound to the user's password (`pwd`: a fingerprint of the htpasswd entry).
 */
export class TokenIssuer {
  private readonly now: () => number;

  constructor(private readonly options: TokenIssuerOptions) {
    this.now = options.now ?? Date.now;
  }

  accessToken(subject: string | null, access: GrantedAccess[]): IssuedToken {
    const { ttlMs, service } = this.options;
    const now = this.now();
    const token = this.sign({ sub: subject ?? '', aud: service, ...this.times(now, ttlMs), access });
    return { token, expiresIn: Math.floor(ttlMs / 1000), issuedAt: new Date(Math.floor(now / 1000) * 1000).toISOString() };
  }

  refreshToken(subject: string, passwordFingerprint: string): string {
    const aud = refreshAudience(this.options.service);
    return this.sign({ sub: subject, aud, ...this.times(this.now(), REFRESH_TOKEN_TTL_MS), pwd: passwordFingerprint });
  }

  private times(now: number, ttlMs: number): Record<string, number> {
    const iat = Math.floor(now / 1000);
    return { iat, nbf: iat, exp: iat + Math.floor(ttlMs / 1000) };
  }

  private sign(claims: Record<string, unknown>): string {
    const { key, issuer } = this.options;
    const payload = { iss: issuer, ...claims, jti: randomBytes(16).toString('base64url') };
    return signJwt({ alg: key.alg, typ: 'JWT', kid: key.kid }, payload, key.privateKey);
  }
}
