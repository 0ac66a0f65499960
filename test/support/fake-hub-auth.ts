import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { sendRegistryError } from './fake-hub-responses.js';

export type FakeHubAuth = 'none' | 'anonymous-token' | { username: string; password: string };

export const FAKE_HUB_SERVICE = 'fake-hub';

interface IssuedToken {
  repositories: Set<string>;
  expiresAt: number;
}

/**
 * The fake hub's token service and bearer checks, shaped like Docker Hub's: `GET /token?service=&scope=`
 * issues opaque tokens for the requested `repository:NAME:pull` scopes (anonymously, or only with the
 * configured Basic credentials), and registry requests need a live token covering their repository.
 */
export class FakeHubAuthority {
  private readonly tokens = new Map<string, IssuedToken>();

  constructor(
    readonly mode: FakeHubAuth,
    private readonly realm: () => string,
    /** Seconds; null leaves `expires_in` out of the response (tokens then live 60 s). */
    private readonly tokenExpiresIn: number | null,
  ) {}

  get enabled(): boolean {
    return this.mode !== 'none';
  }

  handleTokenRequest(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    if (!this.enabled) return sendRegistryError(res, 404, 'NOT_FOUND', 'no token service');
    const service = url.searchParams.get('service');
    if (service !== null && service !== FAKE_HUB_SERVICE) return sendRegistryError(res, 400, 'UNSUPPORTED', 'unknown service');
    if (typeof this.mode === 'object') {
      const expected = `Basic ${Buffer.from(`${this.mode.username}:${this.mode.password}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': `Basic realm="${FAKE_HUB_SERVICE}"` });
        res.end(JSON.stringify({ details: 'incorrect username or password' }));
        return;
      }
    }
    const repositories = new Set<string>();
    for (const scope of url.searchParams.getAll('scope')) {
      const match = /^repository:([^:]+):([a-z,*]+)$/.exec(scope);
      if (match?.[1] && match[2]?.split(',').includes('pull')) repositories.add(match[1]);
    }
    const token = `fh_${randomBytes(16).toString('hex')}`;
    this.tokens.set(token, { repositories, expiresAt: Date.now() + (this.tokenExpiresIn ?? 60) * 1000 });
    const body: Record<string, unknown> = { token, access_token: token, issued_at: new Date().toISOString() };
    if (this.tokenExpiresIn !== null) body.expires_in = this.tokenExpiresIn;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  /** True when the request may proceed; otherwise a 401 challenge has been sent. */
  authorize(req: http.IncomingMessage, res: http.ServerResponse, repository: string | null): boolean {
    if (!this.enabled) return true;
    const token = this.validToken(req);
    if (!token) {
      this.challenge(res, repository, req.headers.authorization !== undefined ? 'invalid_token' : null);
      return false;
    }
    if (repository !== null && !token.repositories.has(repository)) {
      this.challenge(res, repository, 'insufficient_scope');
      return false;
    }
    return true;
  }

  /** `401` with `WWW-Authenticate: Bearer realm=…,service=…[,scope=…][,error=…]`. */
  challenge(res: http.ServerResponse, repository: string | null, error: string | null): void {
    let value = `Bearer realm="${this.realm()}",service="${FAKE_HUB_SERVICE}"`;
    if (repository) value += `,scope="repository:${repository}:pull"`;
    if (error) value += `,error="${error}"`;
    sendRegistryError(res, 401, 'UNAUTHORIZED', 'authentication required', { 'www-authenticate': value });
  }

  private validToken(req: http.IncomingMessage): IssuedToken | null {
    const header = req.headers.authorization;
    if (!header?.startsWith('Bearer ')) return null;
    const token = this.tokens.get(header.slice('Bearer '.length));
    return token && token.expiresAt > Date.now() ? token : null;
  }
}
