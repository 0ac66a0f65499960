import type { Logger } from 'pino';
import type { Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import type { BlobInfo, BlobReader, ByteRange } from '../storage/blob-store.js';
import type { FillSpool, FillWriter } from '../storage/fill-spool.js';
import type { PassThroughWriter } from '../storage/pass-through-spool.js';
import { isStorageFull } from '../storage/storage-full.js';
import type { RepositoryKey } from '../storage/repository-key.js';
import { UpstreamError, type BlobResponse } from '../upstream/upstream.js';
import type { RegistryObserver } from './registry-observer.js';
import { toRegistryError } from './upstream-errors.js';

/** Fetches the blob from `offset` to its end (a `Range` request when `offset` > 0). */
export type FetchBlob = (offset: number) => Promise<BlobResponse>;

/** Who asked for a fill first: recorded with its spool, so a resumed fill knows where it came from. */
export interface FillRequester {
  upstream: string;
  repository: RepositoryKey;
}

/**
 * One upstream download of one blob into the store, shared by every client that wants it.
 *
 * The fill is detached from its clients: it pumps the upstream body into the fill spool at the
 * upstream's pace, and each client reads the growing spool file through its own tail reader at its
 * own pace — so a slow or vanished client never slows or cancels the download, and memory does not
 * grow with blob size or client count. The blob becomes visible in the store only after its digest
 * matched; on a mismatch the bytes are discarded and every reader errors (a cut connection, never a
 * wrong blob).
 *
 * A fill the upstream gave up on mid-way, or that a crash stopped, leaves its bytes in the spool:
 * the next fill of the digest continues from there with a `Range` request, whichever repository
 * asks (the same digest is the same bytes; they are verified at the end all the same).
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
  private writer: FillWriter | null = null;

  /** Bytes downloaded so far (for the stats page). */
  get bytesDone(): number {
    return this.writer?.bytesWritten ?? 0;
  }

  get upstream(): string {
    return this.deps.requester.upstream;
  }

  /** Whether a newcomer can still read this fill from its start (a passed-through blob drops what was sent). */
  get joinable(): boolean {
    return !this.failed && (this.stored || this.writer === null || (this.writer as PassThroughWriter).joinable);
  }

  /**
   * False for a fill through the pass-through spool (the disk is short of space, or the blob is
   * larger than the space left): its blob is streamed to the readers who joined and verified, but
   * not stored. Settled once the upstream answered.
   */
  stored: boolean;

  constructor(
    readonly digest: Digest,
    fetch: FetchBlob,
    private readonly deps: {
      spool: FillSpool;
      observer: RegistryObserver;
      logger: Logger;
      requester: FillRequester;
      stored: boolean;
      /** A write failed for want of space (ENOSPC). */
      storageFull?: () => void;
      /** Whether a blob of this size can be stored and still leave storage.minFreeSpace. */
      fits?: (size: number) => boolean;
      passThroughSpool?: FillSpool;
    },
  ) {
    this.stored = deps.stored;
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
   * A reader of `range` of the blob; bytes flow as soon as they are spooled. Null when the fill has
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

  private async run(fetch: FetchBlob, markStarted: () => void, failStart: (e: unknown) => void): Promise<BlobInfo> {
    const { observer, logger, requester } = this.deps;
    observer.fillsInProgress(1);
    let response: BlobResponse | null = null;
    let writer: FillWriter | null = null;
    // Where the bytes come from, written beside the spool while they flow (a resumed fill can do
    // without it, so a failure is only logged). Settled before the writer ends: that removes it.
    let recorded: Promise<void> = Promise.resolve();
    try {
      writer = await this.deps.spool.open(this.digest);
      const complete = writer.bytesWritten > 0 && writer.resumedFrom?.size === writer.bytesWritten;
      if (complete) {
        this.size = writer.bytesWritten; // a crash came between the last byte and the commit
      } else {
        ({ writer, response } = await this.openUpstream(writer, fetch));
        // The body can fail before the loop below reads it: an 'error' event without a listener
        // would crash the process. The loop still sees the error.
        response.body.on('error', () => {});
        this.size = response.size;
        if (this.stored && response.size !== null && writer.bytesWritten === 0 && this.deps.passThroughSpool && this.deps.fits?.(response.size) === false) {
          // Larger than the space left above storage.minFreeSpace: streamed through, never stored
          // (it would run the disk full half-way and serve nobody).
          logger.info({ digest: this.digest, size: response.size, upstream: requester.upstream }, 'blob too large for the free disk space: passed through without caching');
          await writer.abort();
          writer = await this.deps.passThroughSpool.open(this.digest);
          this.stored = false;
        }
        recorded = writer.record({ ...requester, size: response.size }).catch((err: unknown) => {
          logger.warn({ digest: this.digest, err }, 'could not record where a blob fill comes from');
        });
      }
      this.writer = writer;
    } catch (e) {
      this.failed = true;
      response?.body.destroy();
      observer.fillsInProgress(-1);
      await recorded;
      await (writer && keepsBytes(e, writer) ? writer.suspend(fillFailure(e, this.digest)) : writer?.abort(fillFailure(e, this.digest)));
      failStart(e);
      throw e;
    }
    markStarted();
    try {
      if (response) await writeCoalesced(response.body as AsyncIterable<Buffer>, writer);
      await recorded;
      if (this.size !== null && writer.bytesWritten !== this.size) {
        throw new RegistryError('UPSTREAM_UNAVAILABLE', { digest: this.digest }, { message: `upstream sent ${writer.bytesWritten} of ${this.size} bytes` });
      }
      const info = await writer.commit(this.digest);
      logger.debug({ digest: this.digest, size: info.size, upstream: requester.upstream }, 'blob cached');
      return info;
    } catch (e) {
      this.failed = true;
      const upstream = requester.upstream;
      if (isStorageFull(e)) this.deps.storageFull?.();
      if (e instanceof RegistryError && e.kind === 'DIGEST_INVALID') {
        observer.digestMismatch({ upstream, kind: 'blob' });
        logger.warn({ digest: this.digest, upstream, detail: e.detail }, 'upstream blob did not match its digest; discarded');
      } else {
        logger.warn({ digest: this.digest, upstream, err: e, spooled: writer.bytesWritten }, 'blob fill failed');
      }
      response?.body.destroy();
      // Readers that have not sent a response head yet render this error: make it one for clients.
      const failure = fillFailure(e, this.digest);
      // A digest mismatch discards (the writer did already); an upstream that gave up keeps the bytes.
      await recorded;
      await (keepsBytes(e, writer) ? writer.suspend(failure) : writer.abort(failure));
      throw failure;
    } finally {
      observer.fillsInProgress(-1);
    }
  }

  /**
   * The upstream body from where the spool ends. An upstream that refuses that `Range` as invalid
   * (416: the spooled bytes are not a prefix of what it has) gets asked for the whole blob instead.
   */
  private async openUpstream(writer: FillWriter, fetch: FetchBlob): Promise<{ writer: FillWriter; response: BlobResponse }> {
    const resumeAt = writer.bytesWritten;
    if (resumeAt === 0) return { writer, response: await fetch(0) };
    const { logger, requester } = this.deps;
    logger.info({ digest: this.digest, upstream: requester.upstream, from: resumeAt, origin: writer.resumedFrom }, 'resuming an interrupted blob fill with Range');
    try {
      return { writer, response: await fetch(resumeAt) };
    } catch (e) {
      if (!(e instanceof UpstreamError && e.kind === 'invalid')) throw e;
      logger.warn({ digest: this.digest, upstream: requester.upstream, err: e }, 'the upstream refused to resume the fill; starting over');
      await writer.abort();
      const fresh = await this.deps.spool.open(this.digest);
      return { writer: fresh, response: await fetch(0) };
    }
  }
}

/**
 * Whether a failed fill's bytes are worth keeping for the next one: they came from the upstream
 * before it failed in a way that says nothing about them (unreachable, cut, rate limited). Bytes
 * that failed their digest, or an upstream that sent something invalid, are discarded.
 */
function keepsBytes(error: unknown, writer: FillWriter): boolean {
  return writer.bytesWritten > 0 && error instanceof UpstreamError && error.kind !== 'invalid';
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
 * write in flight, as FillWriter requires. A slow upstream still gets each chunk written at once.
 * Resolves once everything is written; rejects with the body's or the writer's error, and never
 * while a write is still running (the caller may abort the writer right after).
 */
async function writeCoalesced(body: AsyncIterable<Buffer>, writer: FillWriter): Promise<void> {
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
