import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';

/**
 * The contract between the registry layer and a remote registry. One `Upstream` per configured
 * upstream; it owns authentication (token challenges), redirects, retries, timeouts and the
 * concurrency cap. Repository names here are the *upstream's* names (`library/alpine`).
 */
export interface UpstreamSettings {
  /** The name clients use: the containerd `ns` value and the path prefix (`docker.io`). */
  name: string;
  /** Base URL of the registry API (`https://registry-1.docker.io`). */
  url: string;
  username?: string;
  password?: string;
  /** Max requests in flight to this upstream (p-limit). */
  concurrency: number;
  connectTimeoutMs: number;
  /** Time to response headers, per attempt. */
  headersTimeoutMs: number;
  /** Time to the final response headers of one logical request: token rounds, redirects, retries included. */
  requestDeadlineMs: number;
  /** Max idle time between body chunks. */
  bodyTimeoutMs: number;
  /** Retries for idempotent requests on network errors, 5xx and 429 (with backoff / Retry-After). */
  retries: number;
  /** Resumes (`Range: bytes=N-`) of an interrupted blob body before giving up. */
  blobResumes: number;
  /** Upper bound for a manifest body; larger answers fail with kind 'invalid'. */
  maxManifestBytes: number;
}

export interface ManifestHead {
  /** From `Docker-Content-Digest`; null when the upstream did not send it. */
  digest: Digest | null;
  mediaType: string;
  size: number | null;
}

export interface ManifestResponse {
  /** Exactly the bytes the upstream sent; never re-serialised. */
  bytes: Buffer;
  mediaType: string;
  /** From `Docker-Content-Digest`, if the upstream sent one. */
  digest: Digest | null;
}

export interface BlobResponse {
  /**
   * The blob bytes from `offset` to the end. The caller owns the stream: it must consume it to the
   * end or destroy it. Interrupted bodies are resumed transparently with `Range`; when resuming is
   * impossible the stream errors (it never ends early without an error).
   */
  body: Readable;
  /** Total blob size when known (Content-Length / Content-Range), else null. */
  size: number | null;
  offset: number;
}

export interface TagPage {
  tags: string[];
  /** The `last` value for the next page, from the upstream's `Link` header; null at the end. */
  next: string | null;
}

export type UpstreamErrorKind =
  | 'not-found' // 404, or Docker Hub's 401 for a repository that does not exist
  | 'unauthorized' // credentials rejected
  | 'rate-limited' // 429 after retries
  | 'unavailable' // network error, timeout, 5xx after retries
  | 'timeout' // no final response headers within the request deadline
  | 'invalid'; // the upstream answered something unusable (bad redirect, oversized manifest, ...)

export class UpstreamError extends Error {
  constructor(
    readonly kind: UpstreamErrorKind,
    message: string,
    readonly options: { status?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'UpstreamError';
  }
}

export interface Upstream {
  readonly name: string;
  headManifest(repository: string, reference: string, signal?: AbortSignal): Promise<ManifestHead>;
  getManifest(repository: string, reference: string, signal?: AbortSignal): Promise<ManifestResponse>;
  headBlob(repository: string, digest: Digest, signal?: AbortSignal): Promise<{ size: number }>;
  getBlob(repository: string, digest: Digest, options?: { offset?: number; signal?: AbortSignal }): Promise<BlobResponse>;
  listTags(repository: string, options?: { n?: number; last?: string; signal?: AbortSignal }): Promise<TagPage>;
  /**
   * The referrers of `digest` from the upstream's referrers API, unfiltered, all pages. Null when the
   * upstream has no such API (the caller reads the referrers tag instead); 'not-found' for an
   * unknown repository.
   */
  referrers(repository: string, digest: Digest, signal?: AbortSignal): Promise<Descriptor[] | null>;
  close(): Promise<void>;
}

/** Hooks for metrics. Labels are bounded: never a repository, tag or digest. */
export interface UpstreamObserver {
  request(event: { upstream: string; method: string; status: number | 'error'; seconds: number }): void;
  rateLimit(event: { upstream: string; limit: number | null; remaining: number | null }): void;
  retry(event: { upstream: string; reason: string }): void;
  resume(event: { upstream: string }): void;
  bytes(event: { upstream: string; bytes: number }): void;
}

export const NOOP_UPSTREAM_OBSERVER: UpstreamObserver = {
  request() {},
  rateLimit() {},
  retry() {},
  resume() {},
  bytes() {},
};
