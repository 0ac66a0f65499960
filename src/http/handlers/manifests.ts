import { parseAccept } from '../../oci/accept.js';
import type { Reference } from '../../oci/reference.js';
import { readBody } from '../read-body.js';
import { requestBody, type HandlerContext } from './context.js';

type ManifestPath = { name: string; reference: Reference };

export async function getManifest(ctx: HandlerContext<ManifestPath>, head: boolean): Promise<void> {
  const { repository, request, reply, path } = ctx;
  const manifest = await repository.getManifest(path.reference, { accept: parseAccept(request.headers.accept), head });
  const etag = `"${manifest.digest}"`;
  reply
    .header('Content-Type', manifest.mediaType)
    .header('Docker-Content-Digest', manifest.digest)
    .header('ETag', etag)
    .header('Content-Length', manifest.size);
  // The distribution spec allows only warn-code 299 with agent `-`.
  if (manifest.stale) reply.header('Warning', '299 - "Response is stale: the upstream registry is unavailable"');
  // A pull is a manifest GET (HEADs are free, as on Docker Hub): one Map update, stored in batches.
  if (!head) ctx.pulls?.pulled(repository.key, manifest.digest, path.reference.kind === 'tag' ? path.reference.tag : undefined);
  const ifNoneMatch = request.headers['if-none-match'];
  if (ifNoneMatch !== undefined && ifNoneMatch.split(',').some((v) => v.trim() === etag || v.trim() === '*')) {
    reply.code(304).removeHeader('Content-Length');
    return reply.send();
  }
  return reply.send(head ? undefined : manifest.bytes);
}

export async function putManifest(ctx: HandlerContext<ManifestPath>): Promise<void> {
  const { repository, request, reply, path, manifestMaxBytes } = ctx;
  const result = await repository.putManifest(
    path.reference,
    () => readBody(requestBody(request), manifestMaxBytes),
    request.headers['content-type'],
  );
  reply
    .code(201)
    .header('Location', `/v2/${path.name}/manifests/${result.digest}`)
    .header('Docker-Content-Digest', result.digest)
    .header('Content-Length', 0);
  if (result.subject) reply.header('OCI-Subject', result.subject);
  return reply.send();
}

export async function deleteManifest({ repository, reply, path }: HandlerContext<ManifestPath>): Promise<void> {
  await repository.deleteManifest(path.reference);
  reply.code(202).header('Content-Length', 0).send();
}
