import type { FastifyRequest } from 'fastify';
import type { Caller } from '../auth/access-control.js';
import type { Auth } from '../auth/create-auth.js';
import { RegistryError } from '../oci/errors.js';

const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * `WWW-Authenticate` challenges and the errors that carry them. Basic mode: `Basic realm=…`.
 * Bearer mode: `Bearer realm="<absolute token URL>",service="…"[,scope="…"][,error="…"]`. The realm
 * is fixed when `server.publicUrl` (or an external token server) is configured, else built from
 * the request's scheme and Host (X-Forwarded-* only with `server.trustProxy`, as Fastify does); a
 * Host that is not a plain host name is replaced by the address the request arrived on, so no
 * client text is ever echoed into the header.
 */
export class Challenges {
  constructor(private readonly auth: Auth) {}

  /** A 401 with the mode's challenge. `scope` and `error` apply to Bearer mode only. */
  unauthorized(request: FastifyRequest, options: { scope?: string; error?: 'invalid_token' | 'insufficient_scope'; message?: string; detail?: unknown } = {}): RegistryError {
    return new RegistryError('UNAUTHORIZED', options.detail ?? null, {
      headers: { 'WWW-Authenticate': this.header(request, options) },
      ...(options.message ? { message: options.message } : {}),
    });
  }

  /**
   * A denied request: anonymous callers get the challenge (never 404: existence is not leaked),
   * token holders 401 `insufficient_scope` (the client fetches a token for the scope), callers
   * who signed in with a password 403 DENIED.
   */
  denied(request: FastifyRequest, caller: Caller, scope: string, detail: unknown): RegistryError {
    if (caller.via === 'password') return new RegistryError('DENIED', detail);
    const error = caller.via === 'token' ? ('insufficient_scope' as const) : undefined;
    return this.unauthorized(request, { scope, detail, ...(error ? { error, message: 'insufficient scope: the token does not grant this' } : {}) });
  }

  basic(): string {
    return `Basic realm="${this.auth.realm}", charset="UTF-8"`;
  }

  private header(request: FastifyRequest, options: { scope?: string; error?: string }): string {
    if (this.auth.access.mode === 'basic') return this.basic();
    const realm = this.auth.tokenRealm ?? `${request.protocol}://${requestHost(request)}/auth/token`;
    let value = `Bearer realm="${realm}",service="${this.auth.service}"`;
    if (options.scope !== undefined) value += `,scope="${options.scope}"`;
    if (options.error !== undefined) value += `,error="${options.error}"`;
    return value;
  }
}

function requestHost(request: FastifyRequest): string {
  const host = request.host;
  if (typeof host === 'string' && HOST.test(host)) return host;
  const { localAddress, localPort } = request.socket;
  return localAddress?.includes(':') ? `[${localAddress}]:${localPort}` : `${localAddress}:${localPort}`;
}
