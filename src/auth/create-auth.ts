import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { ConfigError } from '../config/schema.js';
import { AccessRules } from './access-rules.js';
import type { AuthObserver } from './auth-observer.js';
import { FailureThrottle } from './failure-throttle.js';
import { Htpasswd } from './htpasswd.js';
import { RegistryAccess } from './registry-access.js';
import { loadSigningKey } from './signing-key.js';
import { TokenIssuer } from './token-issuer.js';
import { TokenService } from './token-service.js';
import { TokenVerifier } from './token-verifier.js';
import { loadTrustedKeys } from './trusted-keys.js';
import { VerdictCache } from './verdict-cache.js';

/** Access control with an `auth` section, and what the HTTP layer needs to speak it. */
export interface Auth {
  access: RegistryAccess;
  /** The built-in token endpoint; null in Basic mode and when an external token server is trusted. */
  tokens: TokenService | null;
  /** The Basic realm. */
  realm: string;
  /** The `service` of Bearer challenges (the `aud` of tokens). */
  service: string;
  /** A fixed token realm (the external server's, or server.publicUrl + /auth/token); null: built from each request. */
  tokenRealm: string | null;
}

/** Clock skew allowed on an external issuer's `exp`/`nbf` (distribution allows the same). */
const EXTERNAL_LEEWAY_MS = 60_000;

/**
 * Builds access control from `config.auth` (null when there is none: open mode). Reads the htpasswd
 * file and the signing or trusted keys now, so a bad file stops start-up with a message naming it.
 * `canonicalName` maps a client-side repository name to the name rules match (registry routing).
 */
export async function createAuth(config: Config, deps: AuthDeps): Promise<Auth | null> {
  try {
    return await build(config, deps);
  } catch (e) {
    // Unreadable files stop start-up like any other configuration mistake (exit 2, the key named).
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`config: ${(e as Error).message}`);
  }
}

interface AuthDeps {
  logger: Logger;
  observer: AuthObserver;
  canonicalName(name: string): string | null;
  now?: () => number;
}

async function build(config: Config, deps: AuthDeps): Promise<Auth | null> {
  const settings = config.auth;
  if (!settings) return null;
  const { logger, observer, now } = deps;
  const clock = now ? { now } : {};
  const htpasswd = settings.htpasswd === undefined ? null : await Htpasswd.open({ path: settings.htpasswd, logger, ...clock });
  const rules = new AccessRules(settings.access, settings.admins);
  const token = settings.token;
  const service = token?.service ?? settings.realm;
  const common = { rules, htpasswd, verdicts: new VerdictCache(clock), throttle: new FailureThrottle(clock), observer };
  if (!token) {
    return { access: new RegistryAccess({ mode: 'basic', tokens: null, tokenSubjectsAreLocal: false, ...common }), tokens: null, realm: settings.realm, service, tokenRealm: null };
  }
  if (token.trust) {
    const verifier = new TokenVerifier({ keys: loadTrustedKeys(token.trust.keys), issuer: token.trust.issuer, audience: service, leewayMs: EXTERNAL_LEEWAY_MS, ...clock });
    const access = new RegistryAccess({ mode: 'bearer', tokens: verifier, tokenSubjectsAreLocal: false, ...common });
    return { access, tokens: null, realm: settings.realm, service, tokenRealm: token.trust.realm };
  }
  const key = await loadSigningKey(token.signingKey ?? join(config.storage.path, 'auth', 'token-key.pem'), logger);
  const verifier = new TokenVerifier({ keys: [{ key: key.publicKey, kids: new Set([key.kid]) }], issuer: token.issuer, audience: service, leewayMs: 0, ...clock });
  const issuer = new TokenIssuer({ key, issuer: token.issuer, service, ttlMs: token.ttl, ...clock });
  const access = new RegistryAccess({ mode: 'bearer', tokens: verifier, tokenSubjectsAreLocal: true, ...common });
  const tokens = new TokenService({ access, issuer, verifier, service, canonicalName: deps.canonicalName });
  const tokenRealm = config.server.publicUrl === null ? null : `${config.server.publicUrl}/auth/token`;
  return { access, tokens, realm: settings.realm, service, tokenRealm };
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/**
 * Start-up warnings about exposure: an open registry that accepts pushes on a non-loopback
 * listener, and passwords over plain HTTP on one.
 */
export function exposureWarnings(config: Config): string[] {
  if (LOOPBACK.test(config.server.host)) return [];
  if (!config.auth) {
    return config.hosted.length > 0
      ? [`no auth section: anyone who can reach ${config.server.host}:${config.server.port} can push to and delete from hosted repositories (${config.hosted.join(', ')})`]
      : [];
  }
  const https = config.server.tls !== null || config.server.publicUrl?.startsWith('https:') === true;
  return https ? [] : ['auth is configured on plain HTTP on a non-loopback listener: passwords and tokens travel in clear text (set server.tls, or terminate TLS in front)'];
}
