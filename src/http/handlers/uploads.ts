import type { FastifyRequest } from 'fastify';
import { parseDigest, type Digest } from '../../oci/digest.js';
import { RegistryError } from '../../oci/errors.js';
import { isRepositoryName } from '../../oci/repository-name.js';
import type { Repository } from '../../registry/repository.js';
import type { UploadSession } from '../../storage/upload-store.js';
import { parseContentRange } from '../range-header.js';
import { requestBody, requestLength, type HandlerContext } from './context.js';

type UploadsPath = { name: string };
type UploadPath = { name: string; id: string };

const uploadLocation = (name: string, id: string): string => `/v2/${name}/blobs/uploads/${id}`;

function sendProgress(ctx: HandlerContext<unknown>, name: string, session: UploadSession, status: number): void {
  ctx.reply
    .code(status)
    .header('Location', uploadLocation(name, session.id))
    .header('Range', `0-${Math.max(session.offset - 1, 0)}`)
    .header('Docker-Upload-UUID', session.id)
    .header('Blob-Upload-Session-ID', session.id)
    .header('Content-Length', 0)
    .send();
}

function sendCreated(ctx: HandlerContext<unknown>, name: string, digest: string): void {
  ctx.reply
    .code(201)
    .header('Location', `/v2/${name}/blobs/${digest}`)
    .header('Docker-Content-Digest', digest)
    .header('Content-Length', 0)
    .send();
}

async function mountFrom(ctx: HandlerContext<UploadsPath>, from: string, digest: Digest): Promise<boolean> {
  const source = mountSource(ctx, from);
  return source !== null && ctx.repository.mountBlob(digest, source);
}

/**
 * The repository `?from=` names, or null when it names none we could mount from (an invalid name, an
 * upstream that is not configured, a repository the caller may not pull): the spec asks for a plain
 * upload session (202) whenever a mount cannot be done, so a bad `from` is not an error.
 */
function mountSource(ctx: HandlerContext<UploadsPath>, from: string): Repository | null {
  if (!isRepositoryName(from)) return null;
  try {
    const route = ctx.registry.route(from);
    return ctx.mayPull(route.canonical) ? ctx.registry.open(route) : null;
  } catch (e) {
    if (e instanceof RegistryError && e.status < 500) return null;
    throw e;
  }
}

/**
 * A mount without `from` (the spec's automatic content discovery): the first repository known to
 * link the blob that the caller may pull. Only those: a repository serves only blobs it links, so
 * a mount must never hand out a blob the caller could not have read anyway.
 */
async function discoveredMount(ctx: HandlerContext<UploadsPath>, digest: Digest): Promise<boolean> {
  for (const holder of ctx.registry.holdersOf(digest)) {
    const source = mountSource(ctx, holder); // null unless the caller may pull it
    if (source && (await ctx.repository.mountBlob(digest, source))) return true;
  }
  return false;
}

/**
 * POST: start a session; `?digest=` uploads monolithically; `?mount=` links an existing blob, from
 * the repository `from` names or, without `from`, from one the caller may pull (201); a mount
 * that cannot be done is a plain session (202), as the spec asks.
 */
export async function startUpload(ctx: HandlerContext<UploadsPath>): Promise<void> {
  const { repository, request, query, path } = ctx;
  if (query.mount !== undefined) {
    const digest = parseDigest(query.mount);
    const mounted = query.from === undefined
      ? await discoveredMount(ctx, digest)
      : await mountFrom(ctx, query.from, digest);
    if (mounted) return sendCreated(ctx, path.name, digest);
  }
  // Validate before creating a session, so a bad ?digest= leaves nothing behind.
  const digest = query.digest === undefined ? null : parseDigest(query.digest);
  const session = await repository.startUpload();
  if (digest === null) return sendProgress(ctx, path.name, session, 202);
  const length = requestLength(request);
  try {
    await repository.appendUpload(session.id, requestBody(request), length === undefined ? {} : { length });
    const blob = await repository.completeUpload(session.id, digest);
    return sendCreated(ctx, path.name, blob.digest);
  } catch (e) {
    // The client was never told this session's id, so nobody could resume or cancel it: drop it now
    // rather than leave its bytes on disk until the abandoned-upload purge.
    await repository.cancelUpload(session.id).catch(() => {});
    throw e;
  }
}

/**
 * Where a chunk goes and how long it is, from `Content-Range` (checked against Content-Length) and
 * Content-Length. Shared by PATCH and by a closing PUT that carries the last chunk, so both apply
 * the same rules.
 */
function chunkOptions(request: FastifyRequest): { start?: number; length?: number } {
  const range = parseContentRange(request.headers['content-range'] as string | undefined);
  if (range === 'invalid') throw new RegistryError('BLOB_UPLOAD_INVALID', { reason: 'malformed Content-Range' }, { message: 'malformed Content-Range' });
  const length = requestLength(request);
  if (range && length !== undefined && length !== range.end - range.start + 1) {
    throw new RegistryError('SIZE_INVALID', { reason: 'Content-Range and Content-Length disagree' });
  }
  return { ...(range ? { start: range.start, length: range.end - range.start + 1 } : {}), ...(length !== undefined ? { length } : {}) };
}

/** A chunk out of order (416) also says where the session lives. */
async function locatingChunkErrors<T>(ctx: HandlerContext<UploadPath>, step: Promise<T>): Promise<T> {
  try {
    return await step;
  } catch (e) {
    if (e instanceof RegistryError && e.kind === 'CHUNK_OUT_OF_ORDER') e.headers.Location = uploadLocation(ctx.path.name, ctx.path.id);
    throw e;
  }
}

/** PATCH: a chunk, with `Content-Range` (checked against the offset) or without (docker push). */
export async function patchUpload(ctx: HandlerContext<UploadPath>): Promise<void> {
  const { repository, request, path } = ctx;
  const session = await locatingChunkErrors(ctx, repository.appendUpload(path.id, requestBody(request), chunkOptions(request)));
  return sendProgress(ctx, path.name, session, 202);
}

/** PUT `?digest=`: an optional last chunk, then verify and commit. */
export async function completeUpload(ctx: HandlerContext<UploadPath>): Promise<void> {
  const { repository, request, query, path } = ctx;
  const digest = parseDigest(query.digest);
  const length = requestLength(request);
  const hasBody = (length !== undefined && length > 0) || request.headers['transfer-encoding'] !== undefined;
  const lastChunk = hasBody ? { body: requestBody(request), options: chunkOptions(request) } : undefined;
  const blob = await locatingChunkErrors(ctx, repository.completeUpload(path.id, digest, lastChunk));
  return sendCreated(ctx, path.name, blob.digest);
}

export async function uploadStatus(ctx: HandlerContext<UploadPath>): Promise<void> {
  const session = await ctx.repository.getUpload(ctx.path.id);
  return sendProgress(ctx, ctx.path.name, session, 204);
}

export async function cancelUpload(ctx: HandlerContext<UploadPath>): Promise<void> {
  await ctx.repository.cancelUpload(ctx.path.id);
  ctx.reply.code(204).send();
}
