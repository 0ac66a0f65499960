import type { Digest } from '../oci/digest.js';
import type { BlobInfo, BlobReader, BlobWriter, ByteRange } from './blob-store.js';
import type { RepositoryKey } from './repository-key.js';

/** Where a fill's bytes come from: recorded with the spool, so whoever finds it later knows. */
export interface FillOrigin {
  upstream: string;
  repository: RepositoryKey;
  /** The whole blob's size, when the upstream said. */
  size: number | null;
}

/** A fill that stopped before its blob was complete (a crash, or an upstream that gave up). */
export interface PartialFill {
  digest: Digest;
  /** Bytes spooled so far: the next fill of this digest asks the upstream for the rest. */
  bytes: number;
  origin: FillOrigin | null;
  /** The last write, epoch ms. */
  lastActive: number;
}

/**
 * The bytes of one fill in progress, in a local file that readers follow as it grows. Every write
 * is handed over to the blob store as well (a BlobWriter from the `SpoolHandOver`); `commit` is
 * that writer's commit — the digest is checked and the blob published there.
 */
export interface FillWriter {
  /** Bytes in the spool, including those a resumed fill found. The upstream download continues here. */
  readonly bytesWritten: number;
  /** What the fill that left the bytes recorded; null for a fresh spool. */
  readonly resumedFrom: FillOrigin | null;
  /** Records where the bytes come from, for a later resume. */
  record(origin: FillOrigin): Promise<void>;
  /** Appends the chunks (copied: the caller may reuse them). Sequential use only. */
  write(chunks: readonly Uint8Array[]): Promise<void>;
  /**
   * Publishes the blob if the bytes hash to `expected`; tail readers then get their last byte.
   * Otherwise throws DIGEST_INVALID, discards the spool and fails the readers.
   */
  commit(expected: Digest): Promise<BlobInfo>;
  /** Discards the spool (the bytes are wrong or useless); tail readers fail with `reason`. Idempotent. */
  abort(reason?: Error): Promise<void>;
  /** Stops writing but keeps the bytes for the next fill of this digest; tail readers fail with `reason`. */
  suspend(reason?: Error): Promise<void>;
  /**
   * A reader of `range` that follows the spool as it grows: it ends once every byte of the range
   * was written (the blob's last byte only after commit verified the digest) and fails if the
   * fill stops. Memory stays bounded per reader, whatever the blob size. Null once the blob is
   * committed: read it from the store then.
   */
  createTailReader(range: ByteRange): BlobReader | null;
}

/**
 * The local spool of blob fills: files on this machine that readers can tail, which an object
 * store cannot offer. The same spool serves every storage driver; what differs is the hand-over.
 * The behaviour is pinned by test/storage/contracts/fill-spool-contract.ts.
 */
export interface FillSpool {
  /**
   * The spool of `digest`, opened for writing. A partial fill of the same digest (left by a crash,
   * or suspended) is continued: its bytes are handed over again — re-hashed, never re-downloaded —
   * and `bytesWritten` says where the upstream download resumes. One writer per digest at a time:
   * a second `open` waits until the first writer committed, aborted or suspended.
   */
  open(digest: Digest): Promise<FillWriter>;
  /** Partial fills in the spool that no writer has open. */
  list(): Promise<PartialFill[]>;
  /** Deletes partial fills with no write for more than `maxAgeMs`; returns how many. */
  purgeIdle(maxAgeMs: number, now?: number): Promise<number>;
}

/**
 * How a spool's bytes reach the blob store: a BlobWriter fed with every byte as it is spooled,
 * whose `commit` verifies and publishes. `digest` is the blob the fill expects (the writer still
 * verifies at commit); `spoolFile` is the local file that will hold exactly those bytes.
 * - fs driver: a writer that only hashes, and at commit renames `spoolFile` into the blob layout
 *   (no second copy; readers keep following the same file through their open handle).
 * - s3 driver: a multipart upload to the blob's key started while the fill runs, its parts read
 *   back from `spoolFile` as they fill up (no part held in memory), completed by `commit` after the
 *   digest matched, aborted on a mismatch; a single PutObject could not hold blobs over 5 GiB.
 *   A resumed fill feeds the spooled bytes to a fresh writer.
 * - any store: `(digest) => store.createWriter(digestAlgorithm(digest))` (the contract suite runs it).
 */
export type SpoolHandOver = (digest: Digest, spoolFile: string) => Promise<BlobWriter>;
