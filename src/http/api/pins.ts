import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../../oci/errors.js';
import type { Reference } from '../../oci/reference.js';
import type { RepositoryName } from '../../oci/repository-name.js';
import type { ApiContext } from './context.js';
import { viewRepository } from './repositories.js';

/**
 * POST /api/v1/repositories/{name}/manifests/{tag or digest}/pin — pins a cached image: it is never
 * evicted, whatever storage.maxSize (a tag pin follows the tag when it moves); DELETE unpins one
 * pinned this way (pins from prefetch.images are the config's). Admins only; kept across restarts.
 */
export async function pinManifest(ctx: ApiContext, request: FastifyRequest, _reply: FastifyReply, path: { name: RepositoryName; reference: Reference }): Promise<unknown> {
  const key = await pinnable(ctx, request, path);
  const { metadata, pins, storage } = ctx.services;
  const digest = path.reference.kind === 'digest' ? path.reference.digest : (await metadata.getTag(key, path.reference.tag))?.digest;
  if (!digest || !(await metadata.getManifest(key, digest))) throw new RegistryError('MANIFEST_UNKNOWN', path.reference.kind === 'tag' ? { tag: path.reference.tag } : { digest: path.reference.digest });
  await pins.add(key, path.reference);
  return { pinned: true, digest, pinnedBytes: (await storage.eviction.totals()).pinnedBytes };
}

export async function unpinManifest(ctx: ApiContext, request: FastifyRequest, reply: FastifyReply, path: { name: RepositoryName; reference: Reference }): Promise<unknown> {
  const key = await pinnable(ctx, request, path);
  await ctx.services.pins.remove(key, path.reference);
  return reply.code(204).send();
}

async function pinnable(ctx: ApiContext, request: FastifyRequest, path: { name: RepositoryName }) {
  const { view, viewer } = await viewRepository(ctx, request, path.name);
  if (view.kind !== 'cached') throw new RegistryError('UNSUPPORTED', { name: path.name }, { message: 'hosted content is never evicted: there is nothing to pin' });
  if (!viewer.admin) throw new RegistryError('DENIED', { name: path.name, action: 'pin' }, { message: 'pinning cached images is for admins' });
  return view.key;
}
