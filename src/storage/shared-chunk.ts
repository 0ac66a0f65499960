import type { BufferPool } from './buffer-pool.js';

/**
 * A pooled buffer holding a run of blob bytes that several destinations may be writing from at
 * once (every client of one fill sends the same chunk). It goes back to the pool when the writer
 * and every destination that took it have let go; a destination that never calls back (a socket
 * torn down mid-write) only costs the pool that buffer, which the collector then frees.
 */
export class SharedChunk {
  private refs = 1;

  constructor(
    /** Blob position of `bytes[0]`. */
    readonly start: number,
    readonly bytes: Buffer,
    private readonly buffer: Buffer,
    private readonly pool: BufferPool,
  ) {}

  get end(): number {
    return this.start + this.bytes.length;
  }

  retain(): void {
    this.refs++;
  }

  release(): void {
    if (--this.refs === 0) this.pool.release(this.buffer);
  }
}
