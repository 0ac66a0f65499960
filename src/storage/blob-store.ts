import type { Writable } from 'node:stream';
import type { Digest, DigestAlgorithm } from '../oci/digest.js';

export interface BlobInfo {
  digest: Digest;
  size: number;
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
 * Bytes being written under a digest that is not known to be right yet. Writes are hashed as they
 * land; `commit` publishes the blob only if the bytes hash to the expected digest.
 */
export interface BlobWriter {
  readonly bytesWritten: number;
  /**
   * Appends the chunks, in order, as one write. They are copied: the caller may reuse them. Resolves
   * when the bytes can be read back by tail readers. Sequential use only.
   */
  write(chunks: readonly Uint8Array[]): Promise<void>;
  /** Publishes atomically. Throws RegistryError DIGEST_INVALID (and discards) when the bytes differ. */
  commit(expected: Digest): Promise<BlobInfo>;
  /** Discards the bytes; tail readers fail with `reason`. Safe to call more than once. */
  abort(reason?: Error): Promise<void>;
  /**
   * A reader of `range` that follows the writer as it grows: it ends once every byte of the range
   * was written (the blob's last byte only after commit verified the digest) and fails if the writer
   * aborts. Memory stays bounded per reader, whatever the blob size. Returns null once the blob is
   * committed: read it from the store then.
   */
  createTailReader(range: ByteRange): BlobReader | null;
}

/** Content-addressed blob storage shared by every repository. Implementations: disk (FsBlobStore). */
export interface BlobStore {
  stat(digest: Digest): Promise<BlobInfo | null>;
  /** Throws BLOB_UNKNOWN when absent. The caller owns the reader: it must pipe or close it. */
  /**
   * `range` comes from the caller's `stat` (the whole blob is `0`–`size - 1`): no second stat per
   * GET, and a file found shorter than that is a cut response, never a short complete one.
   */
  openReader(digest: Digest, range: ByteRange): Promise<BlobReader>;
  /** Small blobs only (manifests): the whole content. Throws BLOB_UNKNOWN when absent. */
  readBytes(digest: Digest): Promise<Buffer>;
  /** Stores bytes whose digest the caller computed or verified. */
  putBytes(digest: Digest, bytes: Uint8Array): Promise<void>;
  createWriter(algorithm: DigestAlgorithm): Promise<BlobWriter>;
  delete(digest: Digest): Promise<void>;
  /** Whether a reader of the blob is open. */
  isReading(digest: Digest): boolean;
  /** Marks a blob as recently used (for LRU eviction across restarts). */
  touch(digest: Digest): void;
  /** Every stored blob with its size and last use, for rebuilding the eviction index at start. */
  list(): AsyncIterable<BlobInfo & { lastUsed: number }>;
}
