import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../oci/errors.js';
import type { Registry } from '../registry/registry.js';
import type { RegistryObserver } from '../registry/registry-observer.js';
import { deleteBlob, getBlob, headBlob } from './handlers/blobs.js';
import type { HandlerContext } from './handlers/context.js';
import { listCatalog, listReferrers, listTags } from './handlers/listings.js';
import { deleteManifest, getManifest, putManifest } from './handlers/manifests.js';
import { cancelUpload, completeUpload, patchUpload, startUpload, uploadStatus } from './handlers/uploads.js';
import { notFound, parseV2Path, type Endpoint, type V2Path } from './v2-path.js';

const HOST_NAME = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$/i;

type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
type Handler = (ctx: HandlerContext<any>) => Promise<void>;

/** The endpoint × method table of the distribution API. A missing entry is 405 UNSUPPORTED. */
const TABLE: Partial<Record<Endpoint, Partial<Record<Method, Handler>>>> = {
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
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The API endpoint, for metrics labels and logs (bounded: never the repository name). */
    endpoint?: Endpoint;
  }
}

export function registerV2Routes(app: FastifyInstance, options: V2Options): void {
  const handle = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    reply.header('Docker-Distribution-API-Version', 'registry/2.0');
    const rawUrl = request.raw.url ?? '/';
    const queryStart = rawUrl.indexOf('?');
    const rawPath = (queryStart < 0 ? rawUrl : rawUrl.slice(0, queryStart)).replace(/^\/v2\/?/, '');
    const path = parseV2Path(rawPath, request.method);
    if (path === null) throw notFound();
    request.endpoint = path.endpoint;
    const method = request.method as Method;
    const query = request.query as Record<string, string | undefined>;
    if (path.endpoint === 'base') {
      if (method !== 'GET' && method !== 'HEAD') throw unsupported(method);
      return reply.header('Content-Type', 'application/json').send('{}');
    }
    if (path.endpoint === 'catalog') {
      if (method !== 'GET') throw unsupported(method);
      return listCatalog({ request, reply, path, registry: options.registry, observer: options.observer, query, manifestMaxBytes: options.manifestMaxBytes });
    }
    const handler = TABLE[path.endpoint]?.[method];
    if (!handler) throw unsupported(method);
    const repository = options.registry.repository(path.name, query.ns);
    // Echoed only once routing accepted it, and only if it is a host name: never raw client bytes.
    if (query.ns !== undefined && HOST_NAME.test(query.ns)) reply.header('OCI-Namespace', query.ns);
    return handler({
      request,
      reply,
      path: path as Exclude<V2Path, { endpoint: 'base' | 'catalog' }>,
      registry: options.registry,
      observer: options.observer,
      repository,
      query,
      manifestMaxBytes: options.manifestMaxBytes,
    });
  };
  const methods: Method[] = ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'];
  // Explicit HEAD routes: Fastify's automatic HEAD would run the GET handler (and read blobs).
  app.route({ method: methods, url: '/v2', handler: handle, exposeHeadRoute: false });
  app.route({ method: methods, url: '/v2/*', handler: handle, exposeHeadRoute: false });
}

const unsupported = (method: string): RegistryError =>
  new RegistryError('UNSUPPORTED', { method }, { message: `method ${method} is not supported here` });
