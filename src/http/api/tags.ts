import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../../oci/errors.js';
import type { Tag } from '../../oci/reference.js';
import type { RepositoryName } from '../../oci/repository-name.js';
import type { RepositoryView, TagView } from '../../registry/repository-views.js';
import type { PullCount } from '../../storage/pull-stats.js';
import { isoDate, routeOfCanonical, type ApiContext } from './context.js';
import { requireAllowed, viewerOf } from './guard.js';
import { nameMatcher, pageRequest, paginate, type SortColumns } from './paging.js';
import { permissionsOf, repositoryJson, viewRepository } from './repositories.js';

type Row = { tag: TagView; pulls: PullCount | undefined };

const COLUMNS: SortColumns<Row> = {
  name: (r) => r.tag.tag,
  digest: (r) => r.tag.digest,
  type: (r) => r.tag.kind,
  platforms: (r) => r.tag.platforms.length,
  size: (r) => r.tag.size,
  created: (r) => r.tag.created,
  pushed: (r) => r.tag.updatedAt,
  pulled: (r) => r.pulls?.lastPulledAt ?? null,
  pulls: (r) => r.pulls?.pulls ?? 0,
  revalidated: (r) => r.tag.checkedAt,
};

/**
 * GET /api/v1/repositories/{name}/tags?q=&sort=&order=&cursor=&limit= — the stored tags (for a
 * cached repository: the tags clients pulled through Stowage; the upstream is not asked for more).
 */
export async function listTags(ctx: ApiContext, request: FastifyRequest, _reply: FastifyReply, path: { name: RepositoryName }): Promise<unknown> {
  const query = request.query as Record<string, string | undefined>;
  const page = pageRequest(query, COLUMNS, 'name');
  const { view, viewer } = await viewRepository(ctx, request, path.name);
  const pulls = await ctx.services.pulls.repository(view.key);
  const matches = nameMatcher(query.q);
  const rows = view.tags.filter((t) => matches(t.tag)).map((tag) => ({ tag, pulls: pulls?.tags[tag.tag] }));
  const result = paginate(rows, COLUMNS, (r) => r.tag.tag, page);
  const freshness = tagFreshness(ctx, view);
  return {
    ...repositoryJson(view, pulls),
    permissions: permissionsOf(ctx, viewer, view),
    tags: result.items.map((r) => ({ ...tagJson(r.tag, r.pulls), pinned: ctx.services.pins.isPinned(r.tag.digest), ...freshness(r.tag) })),
    nextCursor: result.nextCursor,
    total: result.total,
  };
}

export function tagJson(tag: TagView, pulls: PullCount | undefined) {
  return {
    tag: tag.tag,
    digest: tag.digest,
    mediaType: tag.mediaType,
    type: tag.kind,
    artifactType: tag.artifactType,
    platforms: tag.platforms,
    platformsCached: tag.platformsCached,
    size: tag.size,
    created: tag.created,
    updatedAt: isoDate(tag.updatedAt),
    lastPulledAt: isoDate(pulls?.lastPulledAt),
    pulls: pulls?.pulls ?? 0,
    signed: tag.signed,
  };
}

/**
 * For cached tags: when the tag was last revalidated, when it will be next, and whether it is being
 * served stale — past its TTL while its upstream's latest request failed (stale-if-error).
 */
function tagFreshness(ctx: ApiContext, view: RepositoryView): (tag: TagView) => Record<string, unknown> {
  if (view.kind !== 'cached' || view.upstream === null) return () => ({});
  const ttl = ctx.services.config.upstreams[view.upstream]?.tagTtl ?? 0;
  const traffic = ctx.services.traffic.snapshot().upstreams[view.upstream];
  const failing = !!traffic?.lastError && traffic.lastError.at >= (traffic.lastSuccessAt ?? 0);
  const now = Date.now();
  return (tag) => ({
    revalidatedAt: isoDate(tag.checkedAt),
    expiresAt: isoDate(tag.checkedAt + ttl),
    stale: now - tag.checkedAt >= ttl && failing,
  });
}

/** DELETE /api/v1/repositories/{name}/tags/{tag} — untags, as the registry's DELETE by tag. */
export async function deleteTag(ctx: ApiContext, request: FastifyRequest, reply: FastifyReply, path: { name: RepositoryName; tag: Tag }): Promise<unknown> {
  const viewer = viewerOf(request);
  requireAllowed(ctx.access, viewer, 'pull', path.name);
  requireAllowed(ctx.access, viewer, 'delete', path.name);
  routeOfCanonical(ctx.services, path.name);
  // The registry's own semantics and refusals: a cached repository answers 405 UNSUPPORTED.
  await ctx.services.registry.repository(path.name).deleteManifest({ kind: 'tag', tag: path.tag });
  return reply.code(204).send();
}

/**
 * POST /api/v1/repositories/{name}/tags/{tag}/refresh — revalidate a cached tag now: the tag is
 * marked due, then resolved as a client's request would be (an upstream HEAD, a GET only if it
 * moved; served stale if the upstream fails). The one API call that may contact an upstream.
 */
export async function refreshTag(ctx: ApiContext, request: FastifyRequest, _reply: FastifyReply, path: { name: RepositoryName; tag: Tag }): Promise<unknown> {
  const { view } = await viewRepository(ctx, request, path.name);
  if (view.kind !== 'cached') throw new RegistryError('UNSUPPORTED', { name: path.name }, { message: 'only cached tags are refreshed; hosted tags change by push' });
  const { metadata } = ctx.services;
  const record = await metadata.getTag(view.key, path.tag);
  if (!record) throw new RegistryError('MANIFEST_UNKNOWN', { tag: path.tag });
  await metadata.setTag(view.key, path.tag, { ...record, checkedAt: 0 });
  const manifest = await ctx.services.registry.repository(path.name).getManifest({ kind: 'tag', tag: path.tag }, { accept: null, head: true });
  return { tag: path.tag, digest: manifest.digest, changed: manifest.digest !== record.digest, stale: manifest.stale === true };
}
