import { setTimeout as sleep } from 'node:timers/promises';
import type { AccessControl, Action, Caller, Identity } from './access-control.js';
import type { AccessRules } from './access-rules.js';
import type { AuthObserver } from './auth-observer.js';
import type { FailureThrottle } from './failure-throttle.js';
import type { Htpasswd } from './htpasswd.js';
import type { TokenVerifier } from './token-verifier.js';
import type { VerdictCache } from './verdict-cache.js';

export interface RegistryAccessOptions {
  mode: 'basic' | 'bearer';
  rules: AccessRules;
  /** Null only with an external token server and no local users. */
  htpasswd: Htpasswd | null;
  /** Bearer mode: verifies our own tokens, or an external issuer's. */
  tokens: TokenVerifier | null;
  /** Our own tokens name htpasswd users: one whose user left the file stops working at once. */
  tokenSubjectsAreLocal: boolean;
  verdicts: VerdictCache;
  throttle: FailureThrottle;
  observer: AuthObserver;
}

const ANONYMOUS: Caller = Object.freeze({ user: null, admin: false, via: 'anonymous' });

/**
 * Access control with an `auth` section: Basic credentials checked against the htpasswd file (in
 * both modes), bearer tokens in token mode, and the rules. A bearer token only narrows what the
 * rules allow: `allows` needs both, so a token never outlives a rule and never reaches a repository
 * it was not issued for, however the request names it.
 */
export class RegistryAccess implements AccessControl {
  readonly mode: 'basic' | 'bearer';
  private verdictsVersion = -1;
  /** One Caller per verified token (the verifier caches the token), so a request allocates none. */
  private readonly tokenCallers = new WeakMap<object, Caller>();

  constructor(private readonly options: RegistryAccessOptions) {
    this.mode = options.mode;
  }

  get rules(): AccessRules {
    return this.options.rules;
  }

  async identify(authorization: string | undefined, ip: string): Promise<Caller | null> {
    if (authorization === undefined || authorization === '') return ANONYMOUS;
    const space = authorization.indexOf(' ');
    const scheme = authorization.slice(0, space).toLowerCase();
    const value = authorization.slice(space + 1).trim();
    if (scheme === 'basic') {
      // The hot path: a header verified before, the file not due for a check — no parsing, no await.
      const remembered = this.remembered(authorization);
      if (remembered) return remembered;
      const credentials = parseBasic(value);
      return credentials ? this.checkPassword(authorization, credentials.user, credentials.password, ip) : this.fail('password', ip);
    }
    if (scheme === 'bearer' && this.options.tokens) return this.checkToken(value, ip);
    return this.fail(scheme === 'bearer' ? 'token' : 'password', ip);
  }

  signIn(username: string, password: string, ip: string): Promise<Identity | null> {
    const header = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    return this.checkPassword(header, username, password, ip);
  }

  allows(identity: Identity, action: Action, canonicalName: string): boolean {
    const { grants } = identity as Caller;
    if (grants && !grants.get(`repository:${canonicalName}`)?.has(action)) return false;
    return this.options.rules.allows(identity.user, action, canonicalName);
  }

  /** `registry:catalog:*`: every signed-in user, and anonymous callers when any rule names anonymous. */
  mayListCatalog(identity: Identity): boolean {
    const { grants } = identity as Caller;
    if (grants && !grants.get('registry:catalog')?.has('*')) return false;
    return identity.user !== null || this.options.rules.anonymousRules;
  }

  /**
   * A user name and password against the htpasswd file, through the verdict cache. Remembered
   * successes return at once; everything else waits out the address's slow-down first, and a
   * failure is counted. `header` keys the cache (the Authorization header, or its equivalent).
   */
  async checkPassword(header: string, user: string, password: string, ip: string): Promise<Caller | null> {
    const { htpasswd, verdicts, throttle, observer } = this.options;
    if (!htpasswd) return this.fail('password', ip);
    await htpasswd.refresh();
    this.syncVerdicts(htpasswd);
    const remembered = verdicts.get(header);
    if (remembered) return remembered;
    const delayMs = throttle.delayFor(ip);
    if (delayMs > 0) {
      observer.throttled({ delayMs });
      await sleep(delayMs);
    }
    const ok = remembered === undefined && (await htpasswd.verify(user, password));
    // The file may have changed while bcrypt ran: remember the verdict only for the version it was made on.
    const caller = ok ? this.caller(user) : null;
    if (this.verdictsVersion === htpasswd.version) verdicts.set(header, caller);
    return caller ?? this.fail('password', ip);
  }

  /** A remembered success for `header`, when the htpasswd file is not due for a check. */
  private remembered(header: string): Caller | undefined {
    const { htpasswd, verdicts } = this.options;
    if (!htpasswd || htpasswd.due) return undefined;
    this.syncVerdicts(htpasswd);
    return verdicts.get(header) ?? undefined;
  }

  /** Remembered verdicts are for one version of the file. */
  private syncVerdicts(htpasswd: Htpasswd): void {
    if (this.verdictsVersion !== htpasswd.version) {
      this.options.verdicts.clear();
      this.verdictsVersion = htpasswd.version;
    }
  }

  /** Whether `user` is (still) in the htpasswd file. */
  async isUser(user: string): Promise<boolean> {
    const { htpasswd } = this.options;
    if (!htpasswd) return false;
    if (htpasswd.due) await htpasswd.refresh();
    return htpasswd.has(user);
  }

  /** Changes with the user's password (refresh tokens carry it); null for unknown users. */
  passwordFingerprint(user: string): string | null {
    return this.options.htpasswd?.fingerprint(user) ?? null;
  }

  private async checkToken(token: string, ip: string): Promise<Caller | null> {
    const verified = this.options.tokens!.verify(token);
    if (verified === null || verified === 'expired') return this.fail('token', ip);
    const { subject } = verified;
    if (subject !== null && this.options.tokenSubjectsAreLocal && !(await this.isUser(subject))) return this.fail('token', ip);
    let caller = this.tokenCallers.get(verified);
    if (!caller) {
      caller = Object.freeze({ user: subject, admin: this.options.rules.isAdmin(subject), via: 'token' as const, grants: verified.grants });
      this.tokenCallers.set(verified, caller);
    }
    return caller;
  }

  private caller(user: string): Caller {
    return Object.freeze({ user, admin: this.options.rules.isAdmin(user), via: 'password' as const });
  }

  private fail(kind: 'password' | 'token', ip: string): null {
    this.options.observer.failure({ kind });
    if (kind === 'password') this.options.throttle.failed(ip);
    return null;
  }
}

/** `user:password` from a Basic credential; null when it is not base64 of something with a colon. */
export function parseBasic(value: string): { user: string; password: string } | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return null;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
