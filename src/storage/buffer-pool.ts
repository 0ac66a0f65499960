/**
 * Fixed-size buffers reused from one blob response to the next. Reading a 300 MB blob into a fresh
 * buffer per chunk made V8 track, collect and free ~300 MB of external memory per GET: a third of
 * the CPU of a warm GET went to the collector, and dead chunks kept tens of MiB of RSS alive between
 * collections (bench/, figures 1d and 5). A buffer is released only once nothing references it.
 */
export class BufferPool {
  private readonly idle: Buffer[] = [];

  constructor(
    readonly bufferSize: number,
    /** Idle buffers kept for reuse; beyond that, released buffers are left to the collector. */
    private readonly maxIdle: number,
  ) {}

  acquire(): Buffer {
    return this.idle.pop() ?? Buffer.allocUnsafeSlow(this.bufferSize);
  }

  release(buffer: Buffer): void {
    if (buffer.length === this.bufferSize && this.idle.length < this.maxIdle) this.idle.push(buffer);
  }
}
