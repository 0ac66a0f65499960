import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import type { Reference } from '../oci/reference.js';
import type { RepositoryName } from '../oci/repository-name.js';
import type { BlobReader, ByteRange } from '../storage/blob-store.js';
import type { RepositoryKey } from '../storage/repository-key.js';
import type { UploadSession } from '../storage/upload-store.js';

/** `Range: bytes=start-end` before it is checked against the blob's size; `end` absent = to the end. */
export type RangeRequest = { start: number; end?: number } | { suffix: number };

/** A blob to send: its bytes, or (`location`) the object store's URL where the client fetches them itself. */
export type BlobBody = StreamedBlob | RedirectedBlob;

export interface StreamedBlob {
  digest: Digest;
  /** Size of the whole blob. */
  size: number;
  /** The bytes `reader` carries when a range was asked for and satisfiable. */
  range?: ByteRange;
  /** The caller owns the reader: pipe it or close it. */
  reader: BlobReader;
  /** Where the bytes come from, for the bytes-served metric. */
  source: 'cache' | 'upstream';
}

/** A stored blob the object store serves (`storage.s3.redirect`): the client follows a 307 with its Range. */
export interface RedirectedBlob {
  digest: Digest;
  size: number;
  /** A presigned URL: never log it. */
  location: string;
}

export interface ManifestContent {
  digest: Digest;
  mediaType: string;
  size: number;
  /** Absent for HEAD, which must not read (or fetch) the body. */
  bytes?: Buffer;
  /** Set when the upstream failed and this is the last known version (stale-if-error). */
  stale?: boolean;
  subject?: Digest;
}

export interface ManifestRequest {
  /** Accepted media types (null = anything), from the client's Accept headers. */
  accept: ReadonlySet<string> | null;
  head: boolean;
  /**
   * Wait for a due tag revalidation however long it takes, instead of serving the cached manifest
   * after `revalidateBudget` (prefetch: it must see where the tag points now).
   */
  waitForRevalidation?: boolean;
}

/** The final chunk a completing PUT may carry, appended in the same step as the commit. */
export interface LastChunk {
  body: Readable;
  options: { start?: number; length?: number };
}

/** The descriptors of manifests whose subject is a digest. */
export interface ReferrerList {
  manifests: Descriptor[];
  /** Set when the upstream failed and this is the last known list (stale-if-error). */
  stale?: boolean;
}

export interface PutManifestResult {
  digest: Digest;
  subject?: Digest;
}

/**
 * One repository as clients see it. HostedRepository stores pushes; ProxiedRepository fills from an
 * upstream and is read-only. HTTP handlers talk only to this interface and never ask which it is.
 * Every method throws RegistryError for anything a client should see.
 */
export interface Repository {
  readonly name: RepositoryName;
  /** Where its metadata lives (hosted/<name>, proxied/<upstream>/<name>). */
  readonly key: RepositoryKey;

  statBlob(digest: Digest): Promise<{ digest: Digest; size: number }>;
  openBlob(digest: Digest, range: RangeRequest | null): Promise<BlobBody>;
  deleteBlob(digest: Digest): Promise<void>;

  getManifest(reference: Reference, request: ManifestRequest): Promise<ManifestContent>;
  /** `readBody` is called only once the repository accepts the push, so refusals read nothing. */
  putManifest(reference: Reference, readBody: () => Promise<Buffer>, contentType: string | undefined): Promise<PutManifestResult>;
  deleteManifest(reference: Reference): Promise<void>;

  /** Every tag, lexically sorted. */
  listTags(): Promise<string[]>;
  /** Descriptors of manifests whose subject is `digest`, unfiltered. */
  listReferrers(digest: Digest): Promise<ReferrerList>;

  startUpload(): Promise<UploadSession>;
  /** Links `digest` from `source` into this repository if `source` serves it; false otherwise. */
  mountBlob(digest: Digest, source: Repository): Promise<boolean>;
  getUpload(id: string): Promise<UploadSession>;
  appendUpload(id: string, body: Readable, options: { start?: number; length?: number }): Promise<UploadSession>;
  /** Appends `lastChunk` if given and commits; from its call on, the session is gone for other requests. */
  completeUpload(id: string, digest: Digest, lastChunk?: LastChunk): Promise<{ digest: Digest; size: number }>;
  cancelUpload(id: string): Promise<void>;
}

/** Whether `source` can serve `digest` to the caller — the check behind cross-repository mounts. */
export async function servesBlob(source: Repository, digest: Digest): Promise<boolean> {
  try {
    await source.statBlob(digest);
    return true;
  } catch {
    return false;
  }
}
