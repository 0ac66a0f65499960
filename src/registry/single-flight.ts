/**
 * Coalesces concurrent calls with the same key into one: the first caller runs `task`, everyone
 * who asks while it runs shares its promise. Nothing is remembered after it settles.
 */
export class SingleFlight<K, V> {
  private readonly inFlight = new Map<K, Promise<V>>();

  /** `joined` tells the caller whether it rode on someone else's call. */
  run(key: K, task: () => Promise<V>): { promise: Promise<V>; joined: boolean } {
    const existing = this.inFlight.get(key);
    if (existing) return { promise: existing, joined: true };
    const promise = task().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, promise);
    return { promise, joined: false };
  }

  get size(): number {
    return this.inFlight.size;
  }
}
