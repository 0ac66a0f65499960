import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { DigestHasher, type Digest, type DigestAlgorithm } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import type { BlobInfo, BlobWriter } from './blob-store.js';
import type { Layout } from './layout.js';

type State = 'writing' | 'committed' | 'aborted';
const READ_CHUNK = 256 * 1024;

/**
 * A blob being written to `tmp/`. One file handle, opened for reading and writing, is shared by the
 * writer and every tail reader and closed when the last of them is done — so readers keep working
 * across the rename into `blobs/` and no reader can race the rename by opening a path.
 */
export class FsBlobWriter implements BlobWriter {
  bytesWritten = 0;
  private state: State = 'writing';
  private failure: Error | null = null;
  private readonly hasher: DigestHasher;
  private refs = 1;
  private waiters = new Set<() => void>();
  /**
   * The chunk written last and where it starts. Tail readers that keep up with the writer (the
   * usual case: every client of a fill) take their bytes from it instead of reading them back from
   * the file — no thread-pool read and no buffer per reader, since all of them share it.
   */
  private recent: { start: number; bytes: Buffer } | null = null;

  private constructor(
    private readonly handle: FileHandle,
    private readonly tmpPath: string,
    private readonly layout: Layout,
    algorithm: DigestAlgorithm,
  ) {
    this.hasher = new DigestHasher(algorithm);
  }

  static async create(layout: Layout, algorithm: DigestAlgorithm): Promise<FsBlobWriter> {
    const tmpPath = join(layout.tmp, `${randomBytes(16).toString('hex')}.blob`);
    const handle = await open(tmpPath, 'wx+');
    return new FsBlobWriter(handle, tmpPath, layout, algorithm);
  }

  /** The writer keeps a reference to `chunk` (tail readers may serve it): the caller must not modify it afterwards. */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.state !== 'writing') throw new Error(`blob writer is ${this.state}`);
    this.hasher.update(chunk);
    const start = this.bytesWritten;
    let offset = 0;
    while (offset < chunk.byteLength) {
      const { bytesWritten } = await this.handle.write(chunk, offset, chunk.byteLength - offset, this.bytesWritten);
      offset += bytesWritten;
      this.bytesWritten += bytesWritten;
    }
    this.recent = { start, bytes: Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) };
    this.wake();
  }

  async commit(expected: Digest): Promise<BlobInfo> {
    if (this.state !== 'writing') throw new Error(`blob writer is ${this.state}`);
    const actual = this.hasher.digest();
    if (actual !== expected) {
      const error = new RegistryError('DIGEST_INVALID', { expected, actual }, { message: 'content does not match digest' });
      await this.abort(error);
      throw error;
    }
    const target = this.layout.blob(expected);
    await mkdir(dirname(target), { recursive: true });
    await rename(this.tmpPath, target);
    this.state = 'committed';
    this.wake();
    await this.release();
    return { digest: expected, size: this.bytesWritten };
  }

  async abort(reason: Error = new Error('blob write aborted')): Promise<void> {
    if (this.state !== 'writing') return;
    this.state = 'aborted';
    this.failure = reason;
    this.recent = null;
    this.wake();
    await rm(this.tmpPath, { force: true });
    await this.release();
  }

  createTailReader(range: { start: number; end?: number | undefined }): Readable | null {
    if (this.state === 'aborted') throw this.failure ?? new Error('blob write aborted');
    if (this.state === 'committed') return null;
    this.refs++;
    let position = range.start;
    const limit = range.end === undefined ? Infinity : range.end + 1;
    let released = false;
    const release = (): void => {
      if (!released) {
        released = true;
        void this.release();
      }
    };
    const readable = new Readable({
      highWaterMark: READ_CHUNK,
      read: () => {
        const pump = async (): Promise<void> => {
          for (;;) {
            if (this.state === 'aborted') throw this.failure ?? new Error('blob write aborted');
            if (position >= limit) {
              readable.push(null);
              return;
            }
            // The last byte written is held back until commit verified the digest: a response that
            // reaches the blob's end is complete to the client, so it gets there only with verified
            // bytes, and a failed check cuts it at least one byte short. (A range that ends earlier
            // is released as soon as the bytes after it exist.)
            const releasable = this.state === 'committed' ? this.bytesWritten : this.bytesWritten - 1;
            if (position < releasable) {
              const recent = this.recent;
              if (recent && position >= recent.start && position < recent.start + recent.bytes.length) {
                const end = Math.min(releasable, limit, recent.start + recent.bytes.length);
                const bytes = recent.bytes.subarray(position - recent.start, end - recent.start);
                position = end;
                readable.push(bytes);
                return;
              }
              const length = Math.min(READ_CHUNK, releasable - position, limit - position);
              const buffer = Buffer.allocUnsafe(length);
              const { bytesRead } = await this.handle.read(buffer, 0, length, position);
              position += bytesRead;
              readable.push(bytesRead === length ? buffer : buffer.subarray(0, bytesRead));
              return;
            }
            if (this.state === 'committed') {
              readable.push(null);
              return;
            }
            await new Promise<void>((resolve) => this.waiters.add(resolve));
          }
        };
        pump().catch((e: unknown) => readable.destroy(e as Error));
      },
      destroy: (error, callback) => {
        release();
        callback(error);
      },
    });
    readable.once('end', release);
    return readable;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const resolve of waiters) resolve();
  }

  private async release(): Promise<void> {
    if (--this.refs > 0) return;
    this.recent = null;
    await this.handle.close().catch(() => {});
  }
}
