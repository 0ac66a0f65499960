import type { FileHandle } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { BlobReader } from './blob-store.js';
import type { BufferPool } from './buffer-pool.js';
import { DestinationWatch } from './destination-watch.js';

/** Buffers per reader: one is filled from the file while the other is being written to the socket. */
const BUFFERS_PER_READER = 2;

/**
 * Sends a byte range of an open blob file to one destination through pooled buffers. A buffer goes
 * back to the pool when the destination's write callback says it is done with it — the signal a
 * Readable handed to `pipe` never gets, which is why this is not a stream. Backpressure is the pool:
 * at most two buffers are in flight, so a slow client holds 2 MiB however large the blob.
 */
export class FileBlobReader implements BlobReader {
  private closed = false;

  constructor(
    private readonly handle: FileHandle,
    private readonly start: number,
    readonly length: number,
    private readonly pool: BufferPool,
  ) {}

  async ready(): Promise<void> {}

  async pipeTo(destination: Writable): Promise<void> {
    const free: Buffer[] = [];
    for (let i = 0; i < BUFFERS_PER_READER; i++) free.push(this.pool.acquire());
    let finished = false;
    const watch = new DestinationWatch(destination);
    let position = this.start;
    const end = this.start + this.length;
    try {
      while (position < end) {
        while (free.length === 0 && watch.open) await watch.next();
        watch.assertOpen();
        const buffer = free.pop()!;
        const { bytesRead } = await this.handle.read(buffer, 0, Math.min(buffer.length, end - position), position);
        if (bytesRead === 0) throw new Error(`blob file ends ${end - position} bytes short of its size`);
        position += bytesRead;
        watch.assertOpen();
        destination.write(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead), (error) => {
          // On error the socket may still hold the chunk: leave that buffer to the collector.
          if (error) return;
          if (finished) this.pool.release(buffer);
          else free.push(buffer);
          watch.signal();
        });
      }
      destination.end();
    } finally {
      finished = true;
      watch.dispose();
      for (const buffer of free) this.pool.release(buffer);
      await this.close();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close().catch(() => {});
  }
}
