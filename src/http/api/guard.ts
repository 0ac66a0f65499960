import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../../oci/errors.js';
import type { AccessControl, Action, Identity } from '../../auth/access-control.js';
import { readCookie, SESSION_COOKIE, type SessionCookies } from './session-cookies.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling the API (set by the guard). */
    viewer?: Identity;
  }
  interface FastifyContextConfig {
    /** API routes that identify the caller themselves (the sign-in form). */
    anonymousOk?: boolean;
  }
}

/** Header every mutating API call must carry: a cross-site form or image cannot set it. */
export const CSRF_HEADER = 'x-stowage-csrf';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The one identity and CSRF step of the API, run before every handler:
 * - mutating calls need the `X-Stowage-CSRF` header (a custom header forces a CORS preflight,
 *   which Stowage never grants, so no other site can send one) and a same-origin `Origin` /
 *   `Sec-Fetch-Site` when the browser sends them;
 * - the caller is the session cookie's identity, else whoever the `Authorization` header
 *   (Basic or Bearer) proves, else anonymous. Credentials that do not verify are 401 — with no
 *   `WWW-Authenticate` header, so a browser never opens its Basic pop-up over the UI.
 */
export function apiGuard(access: AccessControl, sessions: SessionCookies) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    reply.header('Cache-Control', 'no-store');
    if (!SAFE_METHODS.has(request.method)) checkSameOrigin(request);
    if (request.routeOptions.config?.anonymousOk) return;
    const cookie = readCookie(request.headers.cookie, SESSION_COOKIE);
    const session = cookie ? sessions.verify(cookie) : null;
    if (session) {
      request.viewer = session;
      return;
    }
    const identity = await access.identify(request.headers.authorization, request.ip);
    if (!identity) throw new RegistryError('UNAUTHORIZED', null, { message: 'the credentials given do not verify' });
    request.viewer = identity;
  };
}

function checkSameOrigin(request: FastifyRequest): void {
  if (request.headers[CSRF_HEADER] !== '1') {
    throw new RegistryError('DENIED', { header: 'X-Stowage-CSRF' }, { message: 'mutating API calls must send the header X-Stowage-CSRF: 1' });
  }
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new RegistryError('DENIED', { secFetchSite: site }, { message: 'cross-site request refused' });
  }
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== 'null') {
    let host: string;
    try {
      host = new URL(origin).host;
    } catch {
      throw new RegistryError('DENIED', null, { message: 'cross-site request refused' });
    }
    if (host !== request.host) throw new RegistryError('DENIED', { origin: host }, { message: 'cross-site request refused' });
  }
}

/** The viewer set by the guard. */
export function viewerOf(request: FastifyRequest): Identity {
  if (!request.viewer) throw new Error('API route without the guard');
  return request.viewer;
}

/** Throws unless the viewer may `action` the repository: 401 for anonymous callers, 403 for others. */
export function requireAllowed(access: AccessControl, viewer: Identity, action: Action, name: string): void {
  if (access.allows(viewer, action, name)) return;
  if (viewer.user === null && !viewer.admin) throw new RegistryError('UNAUTHORIZED', { name, action }, { message: 'sign in to see this repository' });
  throw new RegistryError('DENIED', { name, action });
}
