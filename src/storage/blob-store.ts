import { pipeline } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
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
   * Writes the bytes to `destination`, honouring its backpressure, then ends it. Rejects when the
   * bytes cannot be read or the destination closes first; the caller then destroys `destination`
   * (a cut connection: nothing partial ever looks complete).
   */
  pipeTo(destination: Writable): Promise<void>;
  /** Releases the reader without sending anything. */
  close(): Promise<void>;
}

/** A BlobReader over a stream that carries exactly `length` bytes. */
export function streamBlobReader(stream: Readable, length: number): BlobReader {
  return {
    length,
    pipeTo: (destination) => pipeline(stream, destination),
    close: async () => {
      stream.destroy();
    },
  };
}

/**
 * Bytes being written under a digest that is not known to be right yet. Writes are hashed as they
 * land; `commit` publishes the blob only if the bytes hash to the expected digest.
 */
export interface BlobWriter {
  readonly bytesWritten: number;
  /** Resolves when the chunk is durable enough to be read back by tail readers. Sequential use only. */
  write(chunk: Uint8Array): Promise<void>;
  /** Publishes atomically. Throws RegistryError DIGEST_INVALID (and discards) when the bytes differ. */
  commit(expected: Digest): Promise<BlobInfo>;
  /** Discards the bytes; tail readers fail with `reason`. Safe to call more than once. */
  abort(reason?: Error): Promise<void>;
  /**
   * A stream of the bytes from `range.start` (to `range.end` inclusive, or the end), following the writer as it grows: it ends once the writer
   * committed and every byte was read, and errors if the writer aborts. Memory stays bounded: bytes
   * are read back from storage, not buffered per reader. Returns null once the blob is committed:
   * read it from the store then.
   */
  createTailReader(range: ByteRange | { start: number; end?: undefined }): Readable | null;
}

/** Content-addressed blob storage shared by every repository. Implementations: disk (FsBlobStore). */
export interface BlobStore {
  stat(digest: Digest): Promise<BlobInfo | null>;
  /** Throws BLOB_UNKNOWN when absent. The caller owns the reader: it must pipe or close it. */
  openReader(digest: Digest, range?: ByteRange): Promise<BlobReader>;
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
