import type { Writable } from 'node:stream';
import { DigestHasher, digestAlgorithm, type Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import type { BlobInfo, BlobReader, ByteRange } from './blob-store.js';
import { DestinationWatch } from './destination-watch.js';
import { FillWaiters, releasableEnd, type FillState } from './fill-progress.js';
import type { FillSpool, FillWriter, PartialFill } from './fill-spool.js';

/** Bytes held ahead of the slowest reader: the download waits beyond it (memory stays bounded). */
const WINDOW_BYTES = 8 * 1024 * 1024;

/** A writer of the pass-through spool: can a newcomer still read its blob from the start? */
export interface PassThroughWriter extends FillWriter {
  readonly joinable: boolean;
}

/**
 * The spool used while the disk is short of space (lifecycle/free-space.ts): nothing is written
 * anywhere. A fill's bytes are held in memory only until every reader has sent them; the blob is
 * verified as it streams and the last byte is held back until the digest matched, exactly as from
 * the local spool, so a client gets the whole verified blob or a cut — never wrong bytes. Nothing
 * is stored: `commit` verifies and publishes nothing, and the next request fetches again.
 * Readers that join before a byte was dropped share the download; a later one starts its own
 * (registry/blob-fills.ts asks `joinable`). The slowest reader paces the download here — the price
 * of not spooling to disk, paid only while space is low.
 */
export class PassThroughSpool implements FillSpool {
  async open(digest: Digest): Promise<PassThroughWriter> {
    return new MemoryFillWriter(digest);
  }

  async list(): Promise<PartialFill[]> {
    return [];
  }

  async purgeIdle(): Promise<number> {
    return 0;
  }
}

interface Reader {
  position: number;
}

class MemoryFillWriter implements PassThroughWriter {
  bytesWritten = 0;
  readonly resumedFrom = null;
  private readonly hasher: DigestHasher;
  /** Held chunks, in order; the first starts at `heldFrom`. */
  private chunks: Array<{ start: number; bytes: Buffer }> = [];
  private heldFrom = 0;
  private readonly readers = new Set<Reader>();
  private attached = false;
  private state: FillState = 'writing';
  private failure: Error | null = null;
  private readonly waiters = new FillWaiters();

  constructor(private readonly digest: Digest) {
    this.hasher = new DigestHasher(digestAlgorithm(digest));
  }

  get joinable(): boolean {
    return this.state === 'writing' && this.heldFrom === 0;
  }

  async record(): Promise<void> {}

  async write(chunks: readonly Uint8Array[]): Promise<void> {
    if (this.state !== 'writing') throw new Error(`fill writer is ${this.state}`);
    for (const chunk of chunks) {
      const bytes = Buffer.from(chunk); // the caller reuses its buffers
      this.hasher.update(bytes);
      this.chunks.push({ start: this.bytesWritten, bytes });
      this.bytesWritten += bytes.length;
    }
    this.waiters.wake();
    // Backpressure: wait while more than the window is held ahead of the slowest reader.
    for (;;) {
      if (this.attached && this.readers.size === 0) throw new RegistryError('UPSTREAM_UNAVAILABLE', { digest: this.digest }, { message: 'every client left a blob passed through without caching' });
      const slowest = this.readers.size > 0 ? Math.min(...[...this.readers].map((r) => r.position)) : this.heldFrom;
      if (this.bytesWritten - slowest <= WINDOW_BYTES) return;
      if (this.readers.size === 0) throw new RegistryError('UPSTREAM_UNAVAILABLE', { digest: this.digest }, { message: 'nobody reads a blob passed through without caching' });
      await this.waiters.next();
      if (this.state !== 'writing') throw this.failure ?? new Error(`fill writer is ${this.state}`);
    }
  }

  async commit(expected: Digest): Promise<BlobInfo> {
    const actual = this.hasher.digest();
    if (actual !== expected) {
      const error = new RegistryError('DIGEST_INVALID', { expected, actual }, { message: 'content does not match digest' });
      await this.abort(error);
      throw error;
    }
    this.state = 'committed';
    this.waiters.wake();
    return { digest: expected, size: this.bytesWritten };
  }

  async abort(reason: Error = new Error('blob fill aborted')): Promise<void> {
    if (this.state !== 'writing') return;
    this.state = 'aborted';
    this.failure = reason;
    this.chunks = [];
    this.waiters.wake();
  }

  suspend(reason?: Error): Promise<void> {
    return this.abort(reason); // nothing on disk to resume from
  }

  createTailReader(range: ByteRange): BlobReader | null {
    if (this.state === 'aborted') throw this.failure ?? new Error('blob fill aborted');
    if (range.start < this.heldFrom || this.state === 'committed') {
      throw new RegistryError('UPSTREAM_UNAVAILABLE', null, { message: 'the blob was passed through to other clients and is not stored: ask again' });
    }
    const reader: Reader = { position: range.start };
    this.readers.add(reader);
    this.attached = true;
    let done = false;
    const leave = (): void => {
      if (done) return;
      done = true;
      this.readers.delete(reader);
      this.drop();
      this.waiters.wake();
    };
    return {
      length: range.end - range.start + 1,
      ready: () => this.readable(range.start),
      pipeTo: (destination) => this.send(reader, range, destination).finally(leave),
      close: async () => leave(),
    };
  }

  private async readable(position: number): Promise<void> {
    for (;;) {
      if (this.state === 'aborted') throw this.failure ?? new Error('blob fill aborted');
      if (this.state === 'committed' || position < releasableEnd(this.state, this.bytesWritten)) return;
      await this.waiters.next();
    }
  }

  /** Sends the range as bytes arrive; the blob's last byte only once the digest matched. */
  private async send(reader: Reader, range: ByteRange, destination: Writable): Promise<void> {
    const limit = range.end + 1;
    const watch = new DestinationWatch(destination);
    try {
      while (reader.position < limit) {
        if (this.state === 'aborted') throw this.failure ?? new Error('blob fill aborted');
        watch.assertOpen();
        const releasable = releasableEnd(this.state, this.bytesWritten);
        if (reader.position >= releasable && this.state === 'committed') throw new Error(`blob ended at ${this.bytesWritten}, before ${limit}`);
        const chunk = this.chunks.find((c) => reader.position >= c.start && reader.position < c.start + c.bytes.length);
        if (reader.position >= releasable || !chunk || destination.writableNeedDrain) {
          this.waiters.add(watch.signal);
          await watch.next();
          continue;
        }
        const end = Math.min(releasable, limit, chunk.start + chunk.bytes.length);
        destination.write(chunk.bytes.subarray(reader.position - chunk.start, end - chunk.start), () => watch.signal());
        reader.position = end;
        this.drop();
        this.waiters.wake();
      }
      destination.end();
    } finally {
      this.waiters.delete(watch.signal);
      watch.dispose();
    }
  }

  /** Lets go of the chunks every reader has sent. */
  private drop(): void {
    if (this.readers.size === 0) return;
    const slowest = Math.min(...[...this.readers].map((r) => r.position));
    while (this.chunks.length > 0 && this.chunks[0]!.start + this.chunks[0]!.bytes.length <= slowest) {
      const first = this.chunks.shift()!;
      this.heldFrom = first.start + first.bytes.length;
    }
  }

}
