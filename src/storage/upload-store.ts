import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';
import type { BlobInfo } from './blob-store.js';
import type { RepositoryKey } from './repository-key.js';

export interface UploadSession {
  id: string;
  repository: RepositoryKey;
  startedAt: number;
  /** Bytes received so far; the next chunk must start here. */
  offset: number;
}

/**
 * Push upload sessions (POST, PATCH…, PUT). Every call names the session by id, so the calls of one
 * upload may reach different instances of the store — after a restart, or on another replica of a
 * shared implementation (sessions in S3 + Redis: behind a round-robin balancer the POST, the PATCHes
 * and the PUT of one upload land on different replicas). The running digest is therefore either
 * persisted or recomputed from the stored bytes at completion. Once a session is completed or
 * cancelled it is gone: every later call is BLOB_UPLOAD_UNKNOWN and writes nothing.
 * Implementations: FsUploadStore. The behaviour is pinned by test/storage/contracts/upload-store-contract.ts.
 */
export interface UploadStore {
  create(repository: RepositoryKey): Promise<UploadSession>;
  /** The session, if `id` is well-formed and names a live session of `repository`; else BLOB_UPLOAD_UNKNOWN. */
  get(id: string, repository: RepositoryKey): Promise<UploadSession>;
  /**
   * Appends a chunk. `start`, when the client sent a Content-Range, must equal the current offset
   * (416 with the current `Range` otherwise). `length`, when known, must match what
   * arrived (SIZE_INVALID otherwise). A refused chunk leaves the session as it was. Chunks of one
   * session are applied one at a time.
   */
  append(session: UploadSession, source: Readable, options?: { start?: number; length?: number }): Promise<UploadSession>;
  /**
   * Verifies the whole upload against `expected` (DIGEST_INVALID otherwise, storing nothing) and
   * publishes it through the BlobStore; the session is gone afterwards.
   */
  complete(session: UploadSession, expected: Digest): Promise<BlobInfo>;
  cancel(session: UploadSession): Promise<void>;
  /** Live sessions, each once. */
  list(): Promise<UploadSession[]>;
  /**
   * Removes sessions idle — no chunk received — for more than `maxAgeMs`. Idle, not old: a slow
   * multi-GB push that keeps sending must not be purged mid-upload. Returns how many were removed.
   */
  purgeIdle(maxAgeMs: number, now?: number): Promise<number>;
}
