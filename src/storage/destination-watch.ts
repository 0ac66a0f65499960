import type { Writable } from 'node:stream';

/**
 * What a blob reader waits on between writes: a write callback (a buffer is free again), the blob
 * growing, or the destination closing — whichever comes first calls `signal`. Tracks closing itself
 * rather than trusting `destination.destroyed`, which an HTTP/2 response does not have.
 */
export class DestinationWatch {
  private closed = false;
  private wake: (() => void) | null = null;
  readonly signal = (): void => {
    const resolve = this.wake;
    this.wake = null;
    resolve?.();
  };
  private readonly onClose = (): void => {
    this.closed = true;
    this.signal();
  };

  constructor(private readonly destination: Writable) {
    destination.once('close', this.onClose);
  }

  get open(): boolean {
    return !this.closed && !this.destination.destroyed;
  }

  /** Throws when the destination is gone: nothing more can be sent. */
  assertOpen(): void {
    if (!this.open) throw new Error('the client closed the connection');
  }

  /** Resolves at the next `signal` (or at once if the destination is gone). */
  next(): Promise<void> {
    if (!this.open) return Promise.resolve();
    return new Promise((resolve) => (this.wake = resolve));
  }

  dispose(): void {
    this.destination.off('close', this.onClose);
  }
}
