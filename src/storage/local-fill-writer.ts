import type { FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import type { BlobInfo, BlobReader, BlobWriter, ByteRange } from './blob-store.js';
import type { BufferPool } from './buffer-pool.js';
import { DestinationWatch } from './destination-watch.js';
import { FillWaiters, releasableEnd, type FillState } from './fill-progress.js';
import type { FillOrigin, FillWriter } from './fill-spool.js';
import { RecentChunks, type TailCursor } from './recent-chunks.js';
import { SharedChunk } from './shared-chunk.js';


export interface SpoolPools {
  /** For the chunks written (and shared with the readers that keep up). */
  chunks: BufferPool;
  /**
   * For readers that lag and read the file back. Smaller: when many clients share one fill most of
   * them lag, and two buffers each of these are what they hold.
   */
  readBack: BufferPool;
}

/** What the spool directory does for one of its writers (local-fill-spool.ts). */
export interface SpoolFileOps {
  record(origin: FillOrigin): Promise<void>;
  /** Deletes the spool file and its record (after a commit the file may be gone already). */
  remove(): Promise<void>;
  /** The writer is done (committed, aborted or suspended): the next writer of the digest may open. */
  settled(): void;
}

/** Writes a tail reader may have on its destination at once: bounds what a slow client holds. */
const MAX_IN_FLIGHT = 2;
/**
 * Chunks written last that stay in memory for readers a little behind (recent-chunks.ts): 4 MiB
 * per fill at most with the 1 MiB chunks of fs-storage.ts, and only while a reader needs them.
 * With 4, a curl reading a cold 300 MB GET read back 0–0.2 MB from the spool; with the last chunk
 * only, 143–292 MB (bench/, figure 2's fills, instrumented).
 */
const RECENT_CHUNKS = 4;

/**
 * One fill's spool file. One file handle, opened for reading and writing, is shared by the writer
 * and every tail reader and closed when the last of them is done — so readers keep working after
 * the file is moved into the blob layout (fs) or deleted (object stores), and no reader can race
 * that by opening a path.
 *
 * Bytes are copied into pooled buffers (no allocation per chunk), written to the file and handed to
 * the store's writer (`sink`: it hashes and, for an object store, uploads). The chunks written last
 * stay shared while a reader needs them: tail readers that keep up with the writer, or are a few
 * chunks behind (the usual case: every client of a fill), send straight from memory, all of them
 * from the same buffers; readers further behind read the file back into pooled buffers of their own.
 */
export class LocalFillWriter implements FillWriter {
  private state: FillState = 'writing';
  private failure: Error | null = null;
  private refs = 1;
  private readonly waiters = new FillWaiters();
  private readonly recent = new RecentChunks(RECENT_CHUNKS);

  constructor(
    private readonly handle: FileHandle,
    private readonly sink: BlobWriter,
    private readonly pools: SpoolPools,
    private readonly files: SpoolFileOps,
    /** Bytes already in the file (and handed to `sink`) when a partial fill is resumed. */
    public bytesWritten: number,
    readonly resumedFrom: FillOrigin | null,
  ) {}

  record(origin: FillOrigin): Promise<void> {
    return this.files.record(origin);
  }

  async write(chunks: readonly Uint8Array[]): Promise<void> {
    let index = 0;
    let offset = 0;
    while (index < chunks.length) {
      const buffer = this.pools.chunks.acquire();
      let filled = 0;
      while (index < chunks.length && filled < buffer.length) {
        const chunk = chunks[index]!;
        const n = Math.min(chunk.byteLength - offset, buffer.length - filled);
        buffer.set(chunk.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (offset === chunk.byteLength) {
          index++;
          offset = 0;
        }
      }
      if (filled === 0) {
        this.pools.chunks.release(buffer);
        continue;
      }
      await this.writeChunk(new SharedChunk(this.bytesWritten, buffer.subarray(0, filled), buffer, this.pools.chunks));
    }
  }

  private async writeChunk(chunk: SharedChunk): Promise<void> {
    if (this.state !== 'writing') {
      chunk.release();
      throw new Error(`fill writer is ${this.state}`);
    }
    const position = this.bytesWritten;
    let offset = 0;
    while (offset < chunk.bytes.length) {
      const { bytesWritten } = await this.handle.write(chunk.bytes, offset, chunk.bytes.length - offset, position + offset);
      offset += bytesWritten;
    }
    this.bytesWritten += offset;
    this.recent.push(chunk);
    this.waiters.wake();
    // Readers follow the file; the store's writer gets the same bytes (it may take longer: an upload).
    await this.sink.write([chunk.bytes]);
  }

  async commit(expected: Digest): Promise<BlobInfo> {
    if (this.state !== 'writing') throw new Error(`fill writer is ${this.state}`);
    let info: BlobInfo;
    try {
      info = await this.sink.commit(expected);
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      await this.stop(error, true);
      throw error;
    }
    // The spool is gone before readers get their last byte: a client that has the whole blob
    // never sees the fill still in progress.
    await this.files.remove().catch(() => {});
    this.state = 'committed';
    this.waiters.wake();
    this.files.settled();
    await this.release();
    return info;
  }

  abort(reason: Error = new Error('blob fill aborted')): Promise<void> {
    return this.stop(reason, true);
  }

  suspend(reason: Error = new Error('blob fill suspended')): Promise<void> {
    return this.stop(reason, false);
  }

  private async stop(reason: Error, discard: boolean): Promise<void> {
    if (this.state !== 'writing') return;
    this.state = 'aborted';
    this.failure = reason;
    this.waiters.wake();
    try {
      await this.sink.abort();
      if (discard) await this.files.remove();
    } finally {
      this.files.settled();
      await this.release();
    }
  }

  createTailReader(range: ByteRange): BlobReader | null {
    if (this.state === 'aborted') throw this.failure ?? new Error('blob fill aborted');
    if (this.state === 'committed') return null;
    this.refs++;
    // Followed from now on, not from pipeTo: the chunks it starts with are kept while the client
    // waits for its response head.
    const cursor = { position: range.start };
    const unfollow = this.recent.follow(cursor);
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      unfollow();
      await this.release();
    };
    return {
      length: range.end - range.start + 1,
      ready: () => this.readable(range.start),
      // Resolves when the bytes are sent, not when the shared file handle is closed after them.
      pipeTo: (destination) => this.sendTail(cursor, range.end + 1, destination).finally(() => void release()),
      close: release,
    };
  }

  /** Resolves once the byte at `position` may be sent (releasableEnd); rejects on abort. */
  private async readable(position: number): Promise<void> {
    for (;;) {
      if (this.state === 'aborted') throw this.failure ?? new Error('blob fill aborted');
      if (this.state === 'committed' || position < releasableEnd(this.state, this.bytesWritten)) return;
      await this.waiters.next();
    }
  }

  /** Sends the bytes from `cursor` up to `limit` to `destination` as they become available, then ends it. */
  private async sendTail(cursor: TailCursor, limit: number, destination: Writable): Promise<void> {
    const own: Buffer[] = [];
    let inFlight = 0;
    let finished = false;
    const watch = new DestinationWatch(destination);
    try {
      while (cursor.position < limit) {
        const position = cursor.position;
        if (this.state === 'aborted') throw this.failure ?? new Error('blob fill aborted');
        watch.assertOpen();
        const releasable = releasableEnd(this.state, this.bytesWritten);
        if (position >= releasable && this.state === 'committed') throw new Error(`blob ended at ${this.bytesWritten}, before ${limit}`);
        if (position >= releasable || inFlight >= MAX_IN_FLIGHT) {
          this.waiters.add(watch.signal);
          await watch.next();
          continue;
        }
        const shared = this.recent.at(position);
        if (shared) {
          const end = Math.min(releasable, limit, shared.end);
          shared.retain();
          inFlight++;
          destination.write(shared.bytes.subarray(position - shared.start, end - shared.start), () => {
            shared.release();
            inFlight--;
            watch.signal();
          });
          cursor.position = end;
          continue;
        }
        const buffer = own.pop() ?? this.pools.readBack.acquire();
        // Up to the kept chunks at most: from there on the bytes come from memory again.
        const length = Math.min(buffer.length, releasable - position, limit - position, this.recent.start - position);
        const { bytesRead } = await this.handle.read(buffer, 0, length, position);
        if (bytesRead === 0) throw new Error(`blob file ends at ${position}`);
        watch.assertOpen();
        cursor.position += bytesRead;
        inFlight++;
        destination.write(buffer.subarray(0, bytesRead), (error) => {
          inFlight--;
          // On error the socket may still hold the bytes: leave that buffer to the collector.
          if (!error) {
            if (finished) this.pools.readBack.release(buffer);
            else own.push(buffer);
          }
          watch.signal();
        });
      }
      destination.end();
    } finally {
      finished = true;
      this.waiters.delete(watch.signal);
      watch.dispose();
      for (const buffer of own) this.pools.readBack.release(buffer);
    }
  }


  private async release(): Promise<void> {
    if (--this.refs > 0) return;
    this.recent.clear();
    await this.handle.close().catch(() => {});
  }
}
