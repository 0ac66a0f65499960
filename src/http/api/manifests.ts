import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Digest } from '../../oci/digest.js';
import { RegistryError } from '../../oci/errors.js';
import { cosignTag, platformName, referrerKind } from '../../oci/manifest-summary.js';
import type { Reference } from '../../oci/reference.js';
import type { RepositoryName } from '../../oci/repository-name.js';
import { evictCachedImage } from '../../registry/cache-eviction.js';
import { isoDate, routeOfCanonical, type ApiContext } from './context.js';
import { requireAllowed, viewerOf } from './guard.js';
import { permissionsOf, viewRepository } from './repositories.js';

/**
 * GET /api/v1/repositories/{name}/manifests/{tag or digest} — one manifest as stored: an index's
 * platforms (attestations apart), an image's layers, config and history, annotations, referrers
 * and cosign-style tags (the "signed" mark), and the raw JSON. What is not stored — a child never
 * pulled, a config no client fetched — is marked `cached: false`; nothing is fetched for a page.
 */
export async function getManifest(ctx: ApiContext, request: FastifyRequest, _reply: FastifyReply, path: { name: RepositoryName; reference: Reference }): Promise<unknown> {
  const { view, viewer } = await viewRepository(ctx, request, path.name);
  const { metadata, images, pulls } = ctx.services;
  const digest = path.reference.kind === 'digest' ? path.reference.digest : (await metadata.getTag(view.key, path.reference.tag))?.digest;
  const record = digest ? await metadata.getManifest(view.key, digest) : null;
  if (!record) throw new RegistryError('MANIFEST_UNKNOWN', path.reference.kind === 'tag' ? { tag: path.reference.tag } : { digest: path.reference.digest });
  const [bytes, summary, referrers, repositoryPulls] = await Promise.all([
    images.bytes(record.digest),
    images.manifest(record.digest, record.mediaType),
    metadata.listReferrers(view.key, record.digest),
    pulls.repository(view.key),
  ]);
  const stored = async (d: Digest): Promise<boolean> => (await ctx.services.storage.blobs.stat(d)) !== null;
  const childCached = async (d: Digest): Promise<boolean> => (await metadata.getManifest(view.key, d)) !== null;

  const referrerList = referrers.map((r) => ({
    digest: r.digest,
    mediaType: r.mediaType,
    artifactType: r.artifactType ?? null,
    kind: referrerKind(r.artifactType),
    size: r.size,
    annotations: r.annotations ?? {},
  }));
  const signatureTags = view.tags
    .map((t) => ({ tag: t.tag, about: cosignTag(t.tag) }))
    .filter((t) => t.about?.subject === record.digest)
    .map((t) => ({ tag: t.tag, kind: t.about!.kind }));
  const config = summary?.config ? await images.config(summary.config.digest) : null;
  const pullCount = repositoryPulls?.digests[record.digest];

  return {
    name: view.name,
    kind: view.kind,
    digest: record.digest,
    mediaType: record.mediaType,
    type: summary?.kind ?? null,
    artifactType: summary?.artifactType ?? record.artifactType ?? null,
    manifestSize: record.size,
    cached: bytes !== null,
    tags: view.tags.filter((t) => t.digest === record.digest).map((t) => t.tag),
    size: summary ? [...(summary.config ? [summary.config] : []), ...summary.layers].reduce((sum, d) => sum + d.size, 0) : null,
    platforms: summary
      ? await Promise.all(
          summary.platforms.map(async (c) => ({
            platform: platformName(c.platform),
            os: c.platform.os,
            architecture: c.platform.architecture,
            variant: c.platform.variant ?? null,
            digest: c.digest,
            mediaType: c.mediaType,
            size: c.size,
            cached: await childCached(c.digest),
          })),
        )
      : [],
    attestations: (summary?.attestations ?? []).map((a) => ({
      digest: a.digest,
      size: a.size,
      about: a.annotations?.['vnd.docker.reference.digest'] ?? null,
    })),
    layers: summary ? await Promise.all(summary.layers.map(async (l) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size, cached: await stored(l.digest) }))) : [],
    config: summary?.config
      ? {
          digest: summary.config.digest,
          mediaType: summary.config.mediaType,
          size: summary.config.size,
          cached: config !== null,
          ...(config ? { ...config, history: undefined, platform: config.os && config.architecture ? platformName({ os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) }) : null } : {}),
        }
      : null,
    history: config?.history ?? null,
    annotations: summary?.annotations ?? {},
    subject: summary?.subject ? { digest: summary.subject.digest, mediaType: summary.subject.mediaType } : null,
    referrers: referrerList,
    signatureTags,
    signed: referrerList.some((r) => r.kind === 'signature') || signatureTags.some((t) => t.kind === 'signature'),
    pinned: ctx.services.pins.isPinned(record.digest),
    pulls: pullCount?.pulls ?? 0,
    lastPulledAt: isoDate(pullCount?.lastPulledAt),
    permissions: permissionsOf(ctx, viewer, view),
    raw: bytes ? parseJson(bytes) : null,
  };
}

/** DELETE /api/v1/repositories/{name}/manifests/{digest} — the manifest and its tags, as the registry's DELETE. */
export async function deleteManifest(ctx: ApiContext, request: FastifyRequest, reply: FastifyReply, path: { name: RepositoryName; reference: Reference }): Promise<unknown> {
  const viewer = viewerOf(request);
  requireAllowed(ctx.access, viewer, 'pull', path.name);
  requireAllowed(ctx.access, viewer, 'delete', path.name);
  routeOfCanonical(ctx.services, path.name);
  await ctx.services.registry.repository(path.name).deleteManifest(path.reference);
  return reply.code(204).send();
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return bytes.toString('utf8');
  }
}

/**
 * POST /api/v1/repositories/{name}/manifests/{tag or digest}/evict — removes a cached image from
 * the cache (registry/cache-eviction.ts); the next pull fetches it again. Admins only.
 */
export async function evictManifest(ctx: ApiContext, request: FastifyRequest, _reply: FastifyReply, path: { name: RepositoryName; reference: Reference }): Promise<unknown> {
  const { view, viewer } = await viewRepository(ctx, request, path.name);
  if (view.kind !== 'cached') throw new RegistryError('UNSUPPORTED', { name: path.name }, { message: 'only cached images are evicted; delete hosted ones' });
  if (!viewer.admin) throw new RegistryError('DENIED', { name: path.name, action: 'evict' }, { message: 'evicting cached images is for admins' });
  const { metadata, images, storage } = ctx.services;
  const digest = path.reference.kind === 'digest' ? path.reference.digest : (await metadata.getTag(view.key, path.reference.tag))?.digest;
  if (!digest) throw new RegistryError('MANIFEST_UNKNOWN', { tag: path.reference.kind === 'tag' ? path.reference.tag : undefined });
  if (ctx.services.pins.isPinned(digest)) throw new RegistryError('PINNED', { digest }, { message: 'the image is pinned (never evicted): unpin it first' });
  const result = await evictCachedImage({ metadata, cache: storage.eviction, reader: images }, view.key, digest);
  return { digest, ...result };
}
