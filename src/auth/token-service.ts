import { ACTIONS, type Caller } from './access-control.js';
import type { RegistryAccess } from './registry-access.js';
import { parseBasic } from './registry-access.js';
import { parseScopes, type Scope } from './scope.js';
import { refreshAudience, type GrantedAccess, type TokenIssuer } from './token-issuer.js';
import type { TokenVerifier } from './token-verifier.js';

/** A token request in either form, as the HTTP layer parsed it. */
export interface TokenRequest {
  form: 'get' | 'post';
  ip: string;
  /** GET: the Authorization header (Basic credentials), if any. */
  authorization?: string;
  service?: string;
  /** Every `scope` value (repeated parameters, or one space-separated value). */
  scopes: string[];
  /** POST (OAuth2): `password` or `refresh_token`. */
  grantType?: string;
  username?: string;
  password?: string;
  refreshToken?: string;
  /** POST `access_type=offline`: also return a refresh token. */
  offline?: boolean;
}

export type TokenResult =
  | { status: 200; body: { token: string; access_token: string; expires_in: number; issued_at: string; refresh_token?: string } }
  /** `oauth`: an OAuth2 error code for the POST form; the GET form answers in the OCI error format. */
  | { status: 400 | 401; oauth: string; message: string };

export interface TokenServiceOptions {
  access: RegistryAccess;
  issuer: TokenIssuer;
  verifier: TokenVerifier;
  service: string;
  /** The canonical name a client-side repository name stands for (registry routing), or null when it names none. */
  canonicalName(name: string): string | null;
}

/**
 * The built-in token endpoint's decisions (http/token-routes.ts speaks HTTP). Who is asking:
 * Basic credentials (GET), a password or refresh-token grant (POST), or nobody. What they get: the
 * intersection of each requested scope with what the rules allow them — never an error for asking
 * too much; the later request fails with `insufficient_scope`.
 *
 * Credentials that do not verify get the anonymous grant when scopes are named and 401 when none
 * are: dockerd presents its Docker Hub login to a mirror's token endpoint on every pull and falls
 * back to Docker Hub on a 401, while `docker login` asks without scopes and must see a wrong
 * password fail. Both count as failures for the slow-down.
 */
export class TokenService {
  constructor(private readonly options: TokenServiceOptions) {}

  async grant(request: TokenRequest): Promise<TokenResult> {
    const { access, issuer, service } = this.options;
    if (request.service !== undefined && request.service !== service) {
      return { status: 400, oauth: 'invalid_request', message: `unknown service ${JSON.stringify(request.service.slice(0, 100))}; this registry is ${JSON.stringify(service)}` };
    }
    const scopes = parseScopes(request.scopes);
    let caller: Caller;
    let refreshable = false;
    if (request.form === 'post' && request.grantType === 'refresh_token') {
      const user = await this.refreshUser(request.refreshToken);
      if (user === null) return { status: 400, oauth: 'invalid_grant', message: 'the refresh token is invalid or expired, or its user was removed' };
      caller = { user, admin: access.rules.isAdmin(user), via: 'password' };
    } else {
      const credentials = this.credentials(request);
      if (credentials === 'unsupported') return { status: 400, oauth: 'unsupported_grant_type', message: 'grant_type must be password or refresh_token' };
      if (credentials === null) {
        caller = { user: null, admin: false, via: 'anonymous' };
      } else {
        const verified = await access.checkPassword(credentials.header, credentials.user, credentials.password, request.ip);
        if (verified === null && scopes.length === 0) return { status: 401, oauth: 'invalid_grant', message: 'authentication required: wrong user name or password' };
        caller = verified ?? { user: null, admin: false, via: 'anonymous' };
        refreshable = verified !== null && request.form === 'post' && request.offline === true;
      }
    }
    const token = issuer.accessToken(caller.user, this.granted(caller, scopes));
    const body = { token: token.token, access_token: token.token, expires_in: token.expiresIn, issued_at: token.issuedAt };
    if (refreshable && caller.user !== null) {
      const fingerprint = await this.fingerprint(caller.user);
      if (fingerprint !== null) return { status: 200, body: { ...body, refresh_token: issuer.refreshToken(caller.user, fingerprint) } };
    }
    return { status: 200, body };
  }

  /** What `caller` gets of each requested scope: canonical names, only actions the rules allow. */
  private granted(caller: Caller, scopes: Scope[]): GrantedAccess[] {
    const { access, canonicalName } = this.options;
    const byName = new Map<string, GrantedAccess>();
    for (const scope of scopes) {
      if (scope.type === 'registry' && scope.name === 'catalog') {
        if (access.mayListCatalog(caller)) byName.set('registry:catalog', { type: 'registry', name: 'catalog', actions: ['*'] });
        continue;
      }
      if (scope.type !== 'repository') continue;
      const name = canonicalName(scope.name);
      if (name === null) continue;
      const allowed = access.rules.actions(caller.user, name);
      const wanted = scope.actions.includes('*') ? ACTIONS : scope.actions;
      const entry = byName.get(`repository:${name}`) ?? { type: 'repository', name, actions: [] };
      for (const action of ACTIONS) {
        if (wanted.includes(action) && allowed.has(action) && !entry.actions.includes(action)) entry.actions.push(action);
      }
      if (entry.actions.length > 0) byName.set(`repository:${name}`, entry);
    }
    return [...byName.values()];
  }

  private credentials(request: TokenRequest): { header: string; user: string; password: string } | null | 'unsupported' {
    if (request.form === 'post') {
      if (request.grantType !== 'password') return 'unsupported';
      const user = request.username ?? '';
      const password = request.password ?? '';
      return { header: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`, user, password };
    }
    const header = request.authorization;
    if (header === undefined || !/^basic /i.test(header)) return null;
    const parsed = parseBasic(header.slice(6).trim());
    // Unparseable Basic credentials are credentials that do not verify.
    return parsed ? { header, ...parsed } : { header, user: '', password: '' };
  }

  /** The user a refresh token was issued to, if it is valid, the user still exists and the password has not changed. */
  private async refreshUser(refreshToken: string | undefined): Promise<string | null> {
    if (!refreshToken) return null;
    const verified = this.options.verifier.verifyFor(refreshToken, refreshAudience(this.options.service));
    const user = verified?.subject ?? null;
    if (user === null || !(await this.options.access.isUser(user))) return null;
    return verified!.claims.pwd === (await this.fingerprint(user)) ? user : null;
  }

  private async fingerprint(user: string): Promise<string | null> {
    await this.options.access.isUser(user); // refreshes the file first
    return this.options.access.passwordFingerprint(user);
  }
}
