import type { FastifyRequest } from 'fastify';
import type { Action, Identity } from '../auth/access-control.js';
import type { Auth } from '../auth/create-auth.js';
import { RegistryError } from '../oci/errors.js';
import type { Route } from '../registry/registry.js';
import { Challenges } from './challenge.js';
import type { V2Path } from './v2-path.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling, once the /v2 authorization step ran (absent in open mode). */
    identity?: Identity;
  }
}

/**
 * Decides a /v2 request after its path was parsed and its repository routed, before the
 * repository is asked anything — so a denied request for an uncached proxied image never reaches
 * the upstream. Throws the 401/403 to answer; sets `request.identity` when allowed. `route` is the
 * routing error for a name that leads nowhere (an `ns` that is not configured): anonymous callers
 * get the challenge for it like for any other name, so the configuration is not revealed to them.
 */
export type V2Authorizer = (request: FastifyRequest, path: V2Path, route: Route | RegistryError | null) => Promise<void>;

export function createV2Authorizer(auth: Auth): V2Authorizer {
  const { access } = auth;
  const challenges = new Challenges(auth);
  return async (request, path, route) => {
    const caller = await access.identify(request.headers.authorization, request.ip);
    if (caller === null) {
      throw challenges.unauthorized(request, { error: 'invalid_token', message: 'authentication failed: wrong credentials, or an invalid or expired token' });
    }
    request.identity = caller;
    // `GET /v2/` answers 401 to anonymous callers even when some repositories are anonymously
    // readable: it is where clients learn the challenge (dockerd only there) and whether to send
    // their stored credentials.
    if (path.endpoint === 'base') {
      if (caller.via === 'anonymous') throw challenges.unauthorized(request);
      return;
    }
    if (path.endpoint === 'gc') {
      if (caller.admin) return;
      if (caller.via === 'anonymous') throw challenges.unauthorized(request);
      throw new RegistryError('DENIED', null, { message: 'only admins (auth.admins) may run garbage collection' });
    }
    if (path.endpoint === 'catalog' || path.endpoint === 'allTags') {
      if (!access.mayListCatalog(caller)) throw challenges.denied(request, caller, 'registry:catalog:*', { type: 'registry', name: 'catalog', action: '*' });
      return;
    }
    const name = route === null || route instanceof Error ? ('name' in path ? path.name : '') : route.canonical;
    const action = actionOf(path.endpoint, request.method);
    if (route === null || route instanceof Error) {
      if (caller.via === 'anonymous') throw challenges.unauthorized(request, { scope: scopeOf(name, action) });
      return; // the caller is told the routing error itself
    }
    if (!access.allows(caller, action, name)) throw challenges.denied(request, caller, scopeOf(name, action), { type: 'repository', name, action });
  };
}

/** `pull` reads (GET/HEAD of manifests, blobs, tags, referrers), `push` writes uploads and manifests, `delete` deletes. */
function actionOf(endpoint: V2Path['endpoint'], method: string): Action {
  if (method === 'DELETE' && (endpoint === 'manifest' || endpoint === 'blob')) return 'delete';
  if (endpoint === 'uploads' || endpoint === 'upload' || method === 'PUT') return 'push';
  return 'pull';
}

/** What a client should ask the token endpoint for: pushing needs pull too (a push reads blobs back). */
const scopeOf = (name: string, action: Action): string => `repository:${name}:${action === 'push' ? 'pull,push' : action}`;
