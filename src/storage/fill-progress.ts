/** Where a fill stands: writing, or ended with verified bytes (committed) or without (aborted). */
export type FillState = 'writing' | 'committed' | 'aborted';

/**
 * How far a fill's readers may send. The last byte written is held back until commit verified the
 * digest: a response that reaches the blob's end is complete to the client, so it gets there only
 * with verified bytes, and a failed check cuts it at least one byte short. (A range that ends
 * earlier is released as soon as the bytes after it exist.) Both fill writers — the local spool
 * and the pass-through one — send by this rule.
 */
export function releasableEnd(state: FillState, bytesWritten: number): number {
  return state === 'committed' ? bytesWritten : bytesWritten - 1;
}

/** Callbacks waiting for a fill to move (bytes written, commit, abort), woken all at once. */
export class FillWaiters {
  private waiting = new Set<() => void>();

  add(callback: () => void): void {
    this.waiting.add(callback);
  }

  delete(callback: () => void): void {
    this.waiting.delete(callback);
  }

  /** Resolves at the next wake(). */
  next(): Promise<void> {
    return new Promise<void>((resolve) => this.waiting.add(resolve));
  }

  /** Wakes everyone waiting now; those who wait again join the next round. */
  wake(): void {
    const waiting = this.waiting;
    this.waiting = new Set();
    for (const callback of waiting) callback();
  }
}
