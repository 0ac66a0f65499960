import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../../oci/errors.js';
import type { RepositoryView } from '../../registry/repository-views.js';
import type { PullCount } from '../../storage/pull-stats.js';
import type { Identity } from '../../auth/access-control.js';
import { parseApiRepositoryPath, type ApiRepositoryPath } from './api-path.js';
import { isoDate, routeOfCanonical, type ApiContext } from './context.js';
import { requireAllowed, viewerOf } from './guard.js';
import { deleteManifest, evictManifest, getManifest } from './manifests.js';
import { nameMatcher, pageRequest, paginate, type SortColumns } from './paging.js';
import { pinManifest, unpinManifest } from './pins.js';
import { deleteTag, listTags, refreshTag } from './tags.js';

type Row = { view: RepositoryView; pulls: PullCount | undefined };

const COLUMNS: SortColumns<Row> = {
  name: (r) => r.view.name,
  pulled: (r) => r.pulls?.lastPulledAt ?? null,
  pushed: (r) => r.view.updatedAt,
  size: (r) => r.view.size,
  pulls: (r) => r.pulls?.pulls ?? 0,
  tags: (r) => r.view.tags.length,
};

/** The repository header shared by the list, the repository and its tags listing. */
export function repositoryJson(view: RepositoryView, pulls: PullCount | undefined | null) {
  return {
    name: view.name,
    kind: view.kind,
    upstream: view.upstream,
    remoteName: view.remoteName,
    tagCount: view.tags.length,
    size: view.size,
    storedBytes: view.storedBytes,
    updatedAt: isoDate(view.updatedAt),
    lastPulledAt: isoDate(pulls?.lastPulledAt),
    pulls: pulls?.pulls ?? 0,
  };
}

/** What the viewer may do with the repository, so the UI shows only those controls. */
export function permissionsOf(ctx: ApiContext, viewer: Identity, view: Pick<RepositoryView, 'name' | 'kind'>) {
  const hosted = view.kind === 'hosted';
  return {
    delete: hosted && ctx.access.allows(viewer, 'delete', view.name),
    refresh: !hosted && ctx.access.allows(viewer, 'pull', view.name),
    // Evicting cached content changes what everyone gets: admins (everyone in open mode).
    evict: !hosted && viewer.admin,
    pin: !hosted && viewer.admin,
  };
}

/**
 * GET /api/v1/repositories?q=&sort=&order=&kind=&upstream=&cursor=&limit= — hosted and cached
 * repositories the viewer may pull, from stored metadata only (no upstream request).
 * Everything under /api/v1/repositories/{name}/… is dispatched from here by its parsed path.
 */
export function registerRepositoryRoutes(api: FastifyInstance, ctx: ApiContext): void {
  api.get('/repositories', async (request) => {
    const query = request.query as Record<string, string | undefined>;
    const viewer = viewerOf(request);
    const page = pageRequest(query, COLUMNS, 'name');
    const kind = query.kind;
    if (kind !== undefined && kind !== 'hosted' && kind !== 'cached') {
      throw new RegistryError('PARAMETER_INVALID', { parameter: 'kind', value: kind, supported: ['hosted', 'cached'] }, { message: 'kind is hosted or cached' });
    }
    const matches = nameMatcher(query.q);
    const [views, totals] = await Promise.all([ctx.services.views.list(), ctx.services.pulls.totals()]);
    const rows: Row[] = views
      .filter((v) => (kind === undefined || v.kind === kind) && (query.upstream === undefined || v.upstream === query.upstream))
      .filter((v) => matches(v.name) && ctx.access.allows(viewer, 'pull', v.name))
      .map((view) => ({ view, pulls: totals.get(view.key) }));
    const result = paginate(rows, COLUMNS, (r) => r.view.name, page);
    return {
      repositories: result.items.map((r) => repositoryJson(r.view, r.pulls)),
      nextCursor: result.nextCursor,
      total: result.total,
    };
  });

  const dispatch = async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const rawUrl = request.raw.url ?? '';
    const rawPath = rawUrl.split('?')[0]!.replace(/^\/api\/v1\/repositories\//, '');
    const path = parseApiRepositoryPath(rawPath);
    const handler = HANDLERS[path.target][request.method];
    if (!handler) throw new RegistryError('UNSUPPORTED', { method: request.method }, { message: `method ${request.method} is not supported here` });
    return handler(ctx, request, reply, path as never);
  };
  api.route({ method: ['GET', 'POST', 'DELETE'], url: '/repositories/*', handler: dispatch });
}

type Handler<P extends ApiRepositoryPath> = (ctx: ApiContext, request: FastifyRequest, reply: FastifyReply, path: P) => Promise<unknown>;
type Target = ApiRepositoryPath['target'];

const HANDLERS: { [T in Target]: Partial<Record<string, Handler<Extract<ApiRepositoryPath, { target: T }>>>> } = {
  repository: { GET: getRepository },
  tags: { GET: listTags },
  tag: { DELETE: deleteTag },
  refresh: { POST: refreshTag },
  manifest: { GET: getManifest, DELETE: deleteManifest },
  evict: { POST: evictManifest },
  pin: { POST: pinManifest, DELETE: unpinManifest },
};

/** GET /api/v1/repositories/{name} */
async function getRepository(ctx: ApiContext, request: FastifyRequest, _reply: FastifyReply, path: { name: string }): Promise<unknown> {
  const { view, viewer } = await viewRepository(ctx, request, path.name);
  const pulls = await ctx.services.pulls.repository(view.key);
  return { ...repositoryJson(view, pulls), permissions: permissionsOf(ctx, viewer, view) };
}

/** The view of a repository the viewer may pull; 404 NAME_UNKNOWN when it holds nothing. */
export async function viewRepository(ctx: ApiContext, request: FastifyRequest, name: string): Promise<{ view: RepositoryView; viewer: Identity }> {
  const viewer = viewerOf(request);
  requireAllowed(ctx.access, viewer, 'pull', name);
  const route = routeOfCanonical(ctx.services, name);
  const view = await ctx.services.views.get(route.key);
  if (!view) throw new RegistryError('NAME_UNKNOWN', { name });
  return { view, viewer };
}
