import type { Logger } from 'pino';
import { digestAlgorithm, type Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import type { BlobInfo, BlobReader, BlobStore, BlobWriter, ByteRange } from '../storage/blob-store.js';
import type { BlobResponse } from '../upstream/upstream.js';
import type { RegistryObserver } from './registry-observer.js';
import { toRegistryError } from './upstream-errors.js';

/**
 * One upstream download of one blob into the store, shared by every client that wants it.
 *
 * The fill is detached from its clients: it pumps the upstream body into a BlobWriter at the
 * upstream's pace, and each client reads the growing file through its own tail reader at its own
 * pace — so a slow or vanished client never slows or cancels the download, and memory does not grow
 * with blob size or client count. The blob becomes visible in the store only after its digest
 * matched; on a mismatch or upstream failure the bytes are discarded and every reader errors (a cut
 * connection, never a wrong blob).
 */
export class BlobFill {
  /** Total size, known once the upstream answered. */
  size: number | null = null;
  /** Settles when the upstream answered (ok: readers may attach) or failed before sending bytes. */
  readonly started: Promise<void>;
  /** Settles when the blob is committed, or fails. Always handled, so it never goes unobserved. */
  readonly done: Promise<BlobInfo>;
  /** Set as soon as the download has failed: the fill must not be joined any more. */
  failed = false;
  private writer: BlobWriter | null = null;

  /** Bytes downloaded so far (for the stats page). */
  get bytesDone(): number {
    return this.writer?.bytesWritten ?? 0;
  }

  get upstream(): string {
    return this.deps.upstream;
  }

  constructor(
    readonly digest: Digest,
    fetch: () => Promise<BlobResponse>,
    private readonly deps: { blobs: BlobStore; observer: RegistryObserver; logger: Logger; upstream: string },
  ) {
    let markStarted!: () => void;
    let failStart!: (e: unknown) => void;
    this.started = new Promise((resolve, reject) => {
      markStarted = resolve;
      failStart = reject;
    });
    this.started.catch(() => {});
    this.done = this.run(fetch, markStarted, failStart);
    this.done.catch(() => {});
  }

  /**
   * A reader of `range` of the blob; bytes flow as soon as they are on disk. Null when the fill has
   * just committed: the caller reads the store instead.
   */
  createReader(range: ByteRange): BlobReader | null {
    if (!this.writer) throw new Error('fill has not started');
    let reader: BlobReader | null;
    try {
      reader = this.writer.createTailReader(range);
    } catch (e) {
      throw fillFailure(e, this.digest); // the fill failed since this client joined it
    }
    if (!reader) return null;
    const { observer } = this.deps;
    observer.fillReaders(1);
    let counted = true;
    const uncount = (): void => {
      if (counted) observer.fillReaders(-1);
      counted = false;
    };
    const tail = reader;
    return {
      length: tail.length,
      ready: () => tail.ready().catch((e: unknown) => Promise.reject(fillFailure(e, this.digest))),
      pipeTo: (destination) => tail.pipeTo(destination).finally(uncount),
      close: () => {
        uncount();
        return tail.close();
      },
    };
  }

  private async run(fetch: () => Promise<BlobResponse>, markStarted: () => void, failStart: (e: unknown) => void): Promise<BlobInfo> {
    const { blobs, observer, logger, upstream } = this.deps;
    observer.fillsInProgress(1);
    let response: BlobResponse | null = null;
    try {
      response = await fetch();
      // The body can fail before the loop below reads it (while the writer is being created): an
      // 'error' event without a listener would crash the process. The loop still sees the error.
      response.body.on('error', () => {});
      this.size = response.size;
      this.writer = await blobs.createWriter(digestAlgorithm(this.digest));
    } catch (e) {
      this.failed = true;
      response?.body.destroy();
      observer.fillsInProgress(-1);
      failStart(e);
      throw e;
    }
    markStarted();
    const writer = this.writer;
    try {
      await writeCoalesced(response.body as AsyncIterable<Buffer>, writer);
      if (this.size !== null && writer.bytesWritten !== this.size) {
        throw new RegistryError('UPSTREAM_UNAVAILABLE', { digest: this.digest }, { message: `upstream sent ${writer.bytesWritten} of ${this.size} bytes` });
      }
      const info = await writer.commit(this.digest);
      logger.debug({ digest: this.digest, size: info.size, upstream }, 'blob cached');
      return info;
    } catch (e) {
      this.failed = true;
      if (e instanceof RegistryError && e.kind === 'DIGEST_INVALID') {
        observer.digestMismatch({ upstream, kind: 'blob' });
        logger.warn({ digest: this.digest, upstream, detail: e.detail }, 'upstream blob did not match its digest; discarded');
      } else {
        logger.warn({ digest: this.digest, upstream, err: e }, 'blob fill failed; discarded');
      }
      response.body.destroy();
      // Readers that have not sent a response head yet render this error: make it one for clients.
      const failure = fillFailure(e, this.digest);
      await writer.abort(failure);
      throw failure;
    } finally {
      observer.fillsInProgress(-1);
    }
  }
}

/**
 * Bound on the bytes received but not yet handed to the writer (a slow disk slows the download),
 * and so on the size of one write: the writer's pooled buffers are 1 MiB, so one write fills one.
 */
const MAX_PENDING_BYTES = 1024 * 1024;

/**
 * Copies `body` into `writer`. Upstream chunks are small (undici hands over ≤ 64 KiB): writing each
 * on its own costs a thread-pool round trip per chunk and makes the download wait for every write.
 * Instead, what arrives while a write is in flight is coalesced into the next one — at most one
 * write in flight, as BlobWriter requires. A slow upstream still gets each chunk written at once.
 * Resolves once everything is written; rejects with the body's or the writer's error, and never
 * while a write is still running (the caller may abort the writer right after).
 */
async function writeCoalesced(body: AsyncIterable<Buffer>, writer: BlobWriter): Promise<void> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let writing: Promise<void> | null = null;
  let failure: { error: unknown } | null = null;
  const drain = async (): Promise<void> => {
    while (pendingBytes > 0) {
      const chunks = pending;
      pending = [];
      pendingBytes = 0;
      await writer.write(chunks);
    }
  };
  const startDrain = (): void => {
    writing = drain().then(
      () => {
        writing = null;
        if (pendingBytes > 0) startDrain(); // a chunk queued as the last write finished
      },
      (error: unknown) => {
        failure = { error };
        writing = null;
      },
    );
  };
  try {
    for await (const chunk of body) {
      if (failure) break;
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (!writing) startDrain();
      if (pendingBytes >= MAX_PENDING_BYTES) await writing;
    }
  } finally {
    while (writing) await writing; // never rejects: failures land in `failure`
  }
  if (failure) throw (failure as { error: unknown }).error;
}

/** What a client sees when a fill fails: never a raw upstream error, never "your digest is invalid". */
function fillFailure(error: unknown, digest: Digest): RegistryError {
  if (error instanceof RegistryError && error.kind === 'DIGEST_INVALID') {
    return new RegistryError('UPSTREAM_UNAVAILABLE', { digest, reason: 'the upstream sent bytes that do not match the digest' });
  }
  return toRegistryError(error, 'BLOB_UNKNOWN', { digest });
}
