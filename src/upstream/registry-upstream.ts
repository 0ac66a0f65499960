import type { Logger } from 'pino';
import { parseDigest, type Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { UPSTREAM_MANIFEST_ACCEPT } from '../oci/media-types.js';
import { parseReference, referenceString } from '../oci/reference.js';
import { parseRepositoryName } from '../oci/repository-name.js';
import { destroyBody } from './destroy-body.js';
import { discardBody } from './http-exchange.js';
import { readBodyWithLimit } from './read-body.js';
import { fetchReferrers } from './referrers-pages.js';
import type { RegistryClient } from './registry-client.js';
import { contentLength, dockerContentDigest, headerValue, mediaTypeOf, parseContentRange } from './response-headers.js';
import { ResumableBlobBody, type BlobSource } from './resumable-blob-body.js';
import { failWithStatus } from './status-error.js';
import { parseTagPage } from './tag-page.js';
import {
  UpstreamError,
  type BlobResponse,
  type ManifestHead,
  type ManifestResponse,
  type TagPage,
  type Upstream,
  type UpstreamObserver,
  type UpstreamSettings,
} from './upstream.js';

/** Tag lists are unpaginated on some registries; thousands of tags fit comfortably in this. */
const MAX_TAG_LIST_BYTES = 8 * 1024 * 1024;

/**
 * `Upstream` over the registry API (distribution spec): builds paths, reads and checks answers.
 * Transport concerns — auth, redirects, retries, limits — live in RegistryClient and below.
 * Repository names, references and digests are validated before they reach a URL (RegistryError
 * NAME_INVALID / TAG_INVALID / DIGEST_INVALID from oci/ otherwise).
 */
export class RegistryUpstream implements Upstream {
  readonly name: string;

  constructor(
    private readonly settings: UpstreamSettings,
    private readonly client: RegistryClient,
    private readonly observer: UpstreamObserver,
    private readonly logger: Logger,
    private readonly onClose: () => Promise<void>,
  ) {
    this.name = settings.name;
  }

  async headManifest(repository: string, reference: string, signal?: AbortSignal): Promise<ManifestHead> {
    const what = `HEAD manifest ${repository}:${reference}`;
    const { response } = await this.client.request({
      method: 'HEAD',
      path: manifestPath(repository, reference),
      repository,
      headers: { accept: UPSTREAM_MANIFEST_ACCEPT },
      signal,
    });
    if (response.statusCode !== 200) return failWithStatus(response, what);
    await discardBody(response);
    const mediaType = mediaTypeOf(response.headers);
    if (mediaType === null) throw new UpstreamError('invalid', `${what}: no Content-Type`);
    return { digest: dockerContentDigest(response.headers), mediaType, size: contentLength(response.headers) };
  }

  async getManifest(repository: string, reference: string, signal?: AbortSignal): Promise<ManifestResponse> {
    const what = `manifest ${repository}:${reference}`;
    const { response } = await this.client.request({
      method: 'GET',
      path: manifestPath(repository, reference),
      repository,
      headers: { accept: UPSTREAM_MANIFEST_ACCEPT },
      signal,
    });
    if (response.statusCode !== 200) return failWithStatus(response, what);
    const limit = this.settings.maxManifestBytes;
    const declared = contentLength(response.headers);
    if (declared !== null && declared > limit) {
      destroyBody(response.body);
      throw new UpstreamError('invalid', `${what}: ${declared} bytes exceeds the ${limit}-byte manifest limit`);
    }
    const bytes = await readBodyWithLimit(response.body, limit, what, signal);
    const mediaType = mediaTypeOf(response.headers) ?? embeddedMediaType(bytes);
    if (mediaType === null) throw new UpstreamError('invalid', `${what}: no Content-Type and no mediaType field`);
    return { bytes, mediaType, digest: dockerContentDigest(response.headers) };
  }

  async headBlob(repository: string, digest: Digest, signal?: AbortSignal): Promise<{ size: number }> {
    const what = `HEAD blob ${repository}@${digest}`;
    const { response } = await this.client.request({ method: 'HEAD', path: blobPath(repository, digest), repository, signal });
    if (response.statusCode !== 200) return failWithStatus(response, what);
    await discardBody(response);
    const size = contentLength(response.headers);
    if (size === null) throw new UpstreamError('invalid', `${what}: no Content-Length`);
    return { size };
  }

  async getBlob(repository: string, digest: Digest, options: { offset?: number; signal?: AbortSignal } = {}): Promise<BlobResponse> {
    const offset = options.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`invalid blob offset ${offset}`);
    const describe = `${repository}@${digest}`;
    const path = blobPath(repository, digest);
    const open = (position: number, signal: AbortSignal | undefined): Promise<BlobSource> =>
      this.openBlob(repository, path, position, describe, signal);

    const first = await open(offset, options.signal);
    const body = new ResumableBlobBody({
      first,
      start: offset,
      reopen: open,
      resumes: this.settings.blobResumes,
      onResume: ({ position, reason }) => {
        this.logger.warn({ blob: describe, position, reason }, 'blob body interrupted; resuming with Range');
        this.observer.resume({ upstream: this.name });
      },
      onBytes: (bytes) => this.observer.bytes({ upstream: this.name, bytes }),
      signal: options.signal,
      describe,
    });
    return { body, size: first.total, offset };
  }

  async listTags(repository: string, options: { n?: number; last?: string; signal?: AbortSignal } = {}): Promise<TagPage> {
    const what = `tags of ${repository}`;
    const query = new URLSearchParams();
    if (options.n !== undefined) query.set('n', String(options.n));
    if (options.last !== undefined) query.set('last', options.last);
    const search = query.size > 0 ? `?${query.toString()}` : '';
    const { response, url } = await this.client.request({
      method: 'GET',
      path: `/v2/${parseRepositoryName(repository)}/tags/list${search}`,
      repository,
      headers: { accept: 'application/json' },
      signal: options.signal,
    });
    if (response.statusCode !== 200) return failWithStatus(response, what);
    const body = await readBodyWithLimit(response.body, MAX_TAG_LIST_BYTES, what, options.signal);
    return parseTagPage(body, headerValue(response.headers, 'link'), url, what);
  }

  referrers(repository: string, digest: Digest, signal?: AbortSignal): Promise<Descriptor[] | null> {
    return fetchReferrers(this.client, { repository, digest, maxPageBytes: this.settings.maxManifestBytes, ...(signal ? { signal } : {}) });
  }

  close(): Promise<void> {
    return this.onClose();
  }

  /** One blob GET from `position`: 200 (whole blob, `position` bytes to skip) or 206 starting exactly there. */
  private async openBlob(repository: string, path: string, position: number, describe: string, signal?: AbortSignal): Promise<BlobSource> {
    const headers: Record<string, string> = position > 0 ? { range: `bytes=${position}-` } : {};
    const { response } = await this.client.request({ method: 'GET', path, repository, headers, signal });
    if (response.statusCode === 200) {
      return { body: response.body, total: contentLength(response.headers), skip: position };
    }
    if (response.statusCode === 206 && position > 0) {
      const range = parseContentRange(response.headers);
      if (range === null || range.start !== position) {
        destroyBody(response.body);
        const got = range === null ? 'no valid Content-Range' : `Content-Range starting at ${range.start}`;
        throw new UpstreamError('invalid', `blob ${describe}: asked for bytes from ${position}, got ${got}`, { status: 206 });
      }
      const length = contentLength(response.headers);
      return { body: response.body, total: range.total ?? (length === null ? null : position + length), skip: 0 };
    }
    return failWithStatus(response, `blob ${describe}`);
  }
}

function manifestPath(repository: string, reference: string): string {
  return `/v2/${parseRepositoryName(repository)}/manifests/${referenceString(parseReference(reference))}`;
}

const blobPath = (repository: string, digest: Digest): string => `/v2/${parseRepositoryName(repository)}/blobs/${parseDigest(digest)}`;

/** The payload's own `mediaType` field, for upstreams that send no Content-Type. */
function embeddedMediaType(bytes: Buffer): string | null {
  try {
    const value = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
    return typeof value === 'string' && value !== '' ? value : null;
  } catch {
    return null;
  }
}
