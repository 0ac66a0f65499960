import type { Readable, Writable } from 'node:stream';
import type { BlobReader } from '../blob-store.js';

/**
 * A GET response of the object store on its way to one destination. Written as it arrives, with
 * the destination's backpressure pausing the store's response; a body that ends short of `length`
 * (the store cut it) rejects instead of ending the destination, so the client sees a cut
 * connection, never a short blob that looks complete.
 */
export class S3BlobReader implements BlobReader {
  private closed = false;

  constructor(
    private readonly body: Readable,
    readonly length: number,
  ) {}

  async ready(): Promise<void> {}

  async pipeTo(destination: Writable): Promise<void> {
    let sent = 0;
    let closed = false;
    const onClose = (): void => {
      closed = true;
    };
    destination.once('close', onClose);
    try {
      for await (const chunk of this.body as AsyncIterable<Buffer>) {
        if (closed || destination.destroyed) throw new Error('the client closed the connection');
        sent += chunk.length;
        if (sent > this.length) throw new Error(`the object store sent more than ${this.length} bytes`);
        if (!destination.write(chunk)) await drained(destination);
      }
      if (sent !== this.length) throw new Error(`the object store ended the blob ${this.length - sent} bytes short`);
      destination.end();
    } finally {
      destination.off('close', onClose);
      await this.close();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Unread bytes would keep the store's connection busy: drop it instead.
    if (!this.body.readableEnded) this.body.destroy();
  }
}

/** Resolves when `destination` wants more, or is gone (the next write check notices). */
function drained(destination: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      destination.off('drain', done);
      destination.off('close', done);
      resolve();
    };
    destination.once('drain', done);
    destination.once('close', done);
  });
}
