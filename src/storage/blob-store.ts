import type { Writable } from 'node:stream';
import type { Digest, DigestAlgorithm } from '../oci/digest.js';

export interface BlobInfo {
  digest: Digest;
  size: number;
}

/** A blob as `BlobStore.list` yields it. */
export interface StoredBlob extends BlobInfo {
  /** When the blob was last used (epoch ms), where the backend keeps it (fs: the file's mtime). */
  lastUsed?: number;
}

/** An inclusive byte range, as in HTTP `Range: bytes=start-end`. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * The bytes of one blob (or one range of it) on their way to one destination, usually a response.
 * Exactly one of `pipeTo` or `close` is called.
 */
export interface BlobReader {
  /** Bytes `pipeTo` writes. */
  readonly length: number;
  /**
   * Resolves once the first byte can be sent (at once for a stored blob), and rejects if it never
   * can: a caller that waits for it before sending a response head can still answer a failure with
   * an error status instead of a cut connection.
   */
  ready(): Promise<void>;
  /**
   * Writes the bytes to `destination`, honouring its backpressure, then ends it. Rejects when the
   * bytes cannot be read or the destination closes first; the caller then destroys `destination`
   * (a cut connection: nothing partial ever looks complete).
   */
  pipeTo(destination: Writable): Promise<void>;
  /** Releases the reader without sending anything. */
  close(): Promise<void>;
}

/**
 * Bytes on their way into the store under a digest that is not known to be right yet. They are
 * hashed as they arrive; `commit` publishes them only if they hash to the expected digest, and
 * atomically: until then nothing is readable under that digest. Nothing here can be read back
 * while it is written — following a blob as it grows is the fill spool's job (fill-spool.ts), which
 * an object store could not do.
 */
export interface BlobWriter {
  readonly bytesWritten: number;
  /**
   * Appends the chunks, in order. The caller may reuse them once the promise settled.
   * Sequential use only: one write at a time.
   */
  write(chunks: readonly Uint8Array[]): Promise<void>;
  /**
   * Publishes the bytes under `expected`. Throws RegistryError DIGEST_INVALID (and discards them)
   * when they hash to anything else. A blob already stored under `expected` has the same bytes:
   * committing again is harmless.
   */
  commit(expected: Digest): Promise<BlobInfo>;
  /** Discards the bytes. Safe to call more than once, and after a failed commit. */
  abort(): Promise<void>;
}

/**
 * Content-addressed blob storage shared by every repository: bytes only. Which repository may serve
 * a blob is the MetadataStore's business, what may be evicted the EvictionIndex's, and which blobs
 * are being read right now the ReaderRegistry's. Implementations: FsBlobStore (a directory); an
 * object store (S3) implements the same, with `createWriter` as a multipart upload.
 * The behaviour every implementation must have is pinned by test/storage/contracts/blob-store-contract.ts.
 */
export interface BlobStore {
  /** Null when the blob is not stored. */
  stat(digest: Digest): Promise<BlobInfo | null>;
  /**
   * A reader of `range`, which comes from the caller's `stat` (the whole blob is `0`–`size - 1`):
   * no second stat per GET, and content found shorter than that is a cut response, never a short
   * complete one. Throws BLOB_UNKNOWN when absent. The caller owns the reader: it must pipe or close it.
   */
  openReader(digest: Digest, range: ByteRange): Promise<BlobReader>;
  /** Small blobs only (manifests): the whole content. Throws BLOB_UNKNOWN when absent. */
  readBytes(digest: Digest): Promise<Buffer>;
  /** Stores small bytes (manifests) at once. Throws DIGEST_INVALID, storing nothing, when they do not hash to `digest`. */
  putBytes(digest: Digest, bytes: Uint8Array): Promise<void>;
  /** A writer for bytes of any size whose digest is checked at `commit`. */
  createWriter(algorithm: DigestAlgorithm): Promise<BlobWriter>;
  /** Removes the blob; removing an absent blob is not an error. */
  delete(digest: Digest): Promise<void>;
  /** Every stored blob once, in no particular order. */
  list(): AsyncIterable<StoredBlob>;
  /**
   * Where a client may fetch a stored blob itself — a presigned URL of the object store, valid for
   * minutes, `Range` included — or null to have Stowage send the bytes (always, for fs; for s3 unless
   * `storage.s3.redirect`). The URL is a credential: it must never be logged.
   */
  directUrl(digest: Digest): Promise<string | null>;
}
