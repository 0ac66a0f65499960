import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AccessControl } from '../auth/access-control.js';
import { RegistryError } from '../oci/errors.js';
import type { Registry, Route } from '../registry/registry.js';
import type { RegistryObserver } from '../registry/registry-observer.js';
import type { GarbageCollector } from '../lifecycle/garbage-collector.js';
import { deleteBlob, getBlob, headBlob } from './handlers/blobs.js';
import { collectGarbage } from './handlers/gc.js';
import type { HandlerContext } from './handlers/context.js';
import { listAllTags, listCatalog, listReferrers, listTags } from './handlers/listings.js';
import { deleteManifest, getManifest, putManifest } from './handlers/manifests.js';
import { cancelUpload, completeUpload, patchUpload, startUpload, uploadStatus } from './handlers/uploads.js';
import type { V2Authorizer } from './v2-access.js';
import { endpointUnknown, parseV2Path, type Endpoint, type V2Path } from './v2-path.js';

const HOST_NAME = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$/i;

const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'] as const;
type Method = (typeof METHODS)[number];
type Handler = (ctx: HandlerContext<any>) => Promise<void>;

/** The endpoint × method table of the distribution API. A missing entry is 405 UNSUPPORTED. */
const TABLE: Record<Exclude<Endpoint, 'base' | 'catalog' | 'allTags' | 'gc'>, Partial<Record<Method, Handler>>> = {
  manifest: {
    GET: (ctx) => getManifest(ctx, false),
    HEAD: (ctx) => getManifest(ctx, true),
    PUT: putManifest,
    DELETE: deleteManifest,
  },
  blob: { GET: getBlob, HEAD: headBlob, DELETE: deleteBlob },
  uploads: { POST: startUpload },
  upload: { GET: uploadStatus, PATCH: patchUpload, PUT: completeUpload, DELETE: cancelUpload },
  tags: { GET: listTags },
  referrers: { GET: listReferrers },
};

export interface V2Options {
  registry: Registry;
  observer: RegistryObserver;
  manifestMaxBytes: number;
  pulls?: HandlerContext<unknown>['pulls'];
  /** Access control's decision (v2-access.ts); absent in open mode, where everything is allowed. */
  authorize?: V2Authorizer;
  access: AccessControl;
  /** Answers `/v2/_gc` and `/v2/<name>/_gc`. */
  gc: GarbageCollector;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The API endpoint, for metrics labels and logs (bounded: never the repository name). */
    endpoint?: Endpoint;
  }
}

export function registerV2Routes(app: FastifyInstance, options: V2Options): void {
  // Declared up front so setting it keeps every request object's shape (V8 hidden class) the same.
  if (options.authorize) app.decorateRequest('identity', undefined);
  const handle = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    reply.header('Docker-Distribution-API-Version', 'registry/2.0');
    const path = routeV2(request);
    const method = request.method as Method;
    const query = request.query as Record<string, string | undefined>;
    const { authorize, access } = options;
    const mayPull = (canonicalName: string): boolean => request.identity === undefined || access.allows(request.identity, 'pull', canonicalName);
    if (path.endpoint === 'base') {
      await authorize?.(request, path, null);
      return reply.header('Content-Type', 'application/json').send('{}');
    }
    if (path.endpoint === 'catalog' || path.endpoint === 'allTags') {
      await authorize?.(request, path, null);
      // Listings show what the caller's rules let them pull: a token grants the listing
      // (registry:catalog:*), not each repository in it, so its repository grants do not filter.
      const identity = request.identity && { user: request.identity.user, admin: request.identity.admin };
      const mayList = (name: string): boolean => identity === undefined || access.allows(identity, 'pull', name);
      const list = path.endpoint === 'catalog' ? listCatalog : listAllTags;
      return list({ request, reply, path, registry: options.registry, observer: options.observer, query, manifestMaxBytes: options.manifestMaxBytes, mayPull: mayList });
    }
    if (path.endpoint === 'gc') {
      await authorize?.(request, path, null);
      return collectGarbage({ request, reply, path, registry: options.registry, observer: options.observer, query, manifestMaxBytes: options.manifestMaxBytes, mayPull }, options.gc);
    }
    const handler = TABLE[path.endpoint][method]!;
    let route: Route | RegistryError;
    try {
      route = options.registry.route(path.name, query.ns);
    } catch (e) {
      if (!(e instanceof RegistryError)) throw e;
      route = e;
    }
    await authorize?.(request, path, route);
    if (route instanceof RegistryError) throw route;
    const repository = options.registry.open(route);
    // Echoed only once routing accepted it, and only if it is a host name: never raw client bytes.
    if (query.ns !== undefined && HOST_NAME.test(query.ns)) reply.header('OCI-Namespace', query.ns);
    return handler({
      request,
      reply,
      path: path as Exclude<V2Path, { endpoint: 'base' | 'catalog' | 'allTags' }>,
      registry: options.registry,
      observer: options.observer,
      repository,
      query,
      manifestMaxBytes: options.manifestMaxBytes,
      ...(options.pulls ? { pulls: options.pulls } : {}),
      mayPull,
    });
  };
  // Explicit HEAD routes: Fastify's automatic HEAD would run the GET handler (and read blobs).
  app.route({ method: [...METHODS], url: '/v2', handler: handle, exposeHeadRoute: false });
  app.route({ method: [...METHODS], url: '/v2/*', handler: handle, exposeHeadRoute: false });
}

/** The methods an endpoint answers, for `Allow` on 405. */
function allowed(endpoint: Endpoint): string[] {
  if (endpoint === 'base') return ['GET', 'HEAD'];
  if (endpoint === 'catalog' || endpoint === 'allTags') return ['GET'];
  if (endpoint === 'gc') return ['POST'];
  return Object.keys(TABLE[endpoint]);
}

/**
 * The endpoint a request addresses, once its method is one the endpoint answers. A path that names
 * no endpoint is 404; a method the endpoint lacks — one of ours, or one Fastify never routes here
 * (OPTIONS, TRACE, PROPFIND…) — is 405 UNSUPPORTED with `Allow`, as RFC 9110 asks.
 */
export function routeV2(request: FastifyRequest): V2Path {
  const rawUrl = request.raw.url ?? '/';
  const queryStart = rawUrl.indexOf('?');
  const rawPath = (queryStart < 0 ? rawUrl : rawUrl.slice(0, queryStart)).replace(/^\/v2\/?/, '');
  const path = parseV2Path(rawPath, request.method);
  if (path === null) throw endpointUnknown(rawUrl);
  request.endpoint = path.endpoint;
  const methods = allowed(path.endpoint);
  if (!methods.includes(request.method)) {
    throw new RegistryError('UNSUPPORTED', { method: request.method, allowed: methods }, {
      message: `method ${request.method} is not supported here`,
      headers: { Allow: methods.join(', ') },
    });
  }
  return path;
}

/** The answer to requests no route took: a registry endpoint with an unrouted method is 405, anything else 404. */
export function answerUnrouted(request: FastifyRequest, reply: FastifyReply): never {
  const rawUrl = request.raw.url ?? '/';
  if (/^\/v2(\/|\?|$)/.test(rawUrl)) {
    reply.header('Docker-Distribution-API-Version', 'registry/2.0');
    routeV2(request);
  }
  throw endpointUnknown(rawUrl);
}
