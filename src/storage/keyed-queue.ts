/**
 * Tasks run one at a time per key, in the order they were queued; different keys run in parallel.
 * What keeps the writes of one record (metadata) or one upload session in order within a process.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `task` after every earlier task of `key` has settled (whether it failed or not). */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const next = (this.tails.get(key) ?? Promise.resolve()).catch(() => {}).then(task);
    this.tails.set(key, next);
    const done = (): void => {
      if (this.tails.get(key) === next) this.tails.delete(key);
    };
    next.then(done, done);
    return next;
  }

  /** Whether a task of `key` is queued or running. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }
}

/** `task` for every item, `batch` at a time (enough to keep the thread pool or the store busy, few enough to be fair); results in the items' order. */
export async function inBatches<T, R>(items: readonly T[], task: (item: T) => Promise<R>, batch = 256): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += batch) results.push(...(await Promise.all(items.slice(i, i + batch).map(task))));
  return results;
}
