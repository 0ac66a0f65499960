import type { Digest } from '../oci/digest.js';
import type { Tag } from '../oci/reference.js';
import type { RepositoryKey } from '../storage/repository-key.js';

/**
 * The lock between what creates references to stored content — a manifest PUT, an upload's
 * commit, a mount, a client's HEAD or GET of a hosted blob — and the garbage collector, which
 * deletes what nothing references. Keys are digests (content) and tag keys (`tagKey`).
 *
 * - Writers `hold` the keys they rely on while they check and write. Holds of the same key run
 *   together; they only wait while the collector is deleting that very key.
 * - The collector opens a `UseJournal` before it reads what is referenced (the mark): from then on
 *   every held key is noted, and opening waits until the holds that began earlier have ended, so
 *   their writes are visible to the mark. It deletes each key with `sweep`, which waits for the
 *   key's holders, keeps new ones out, and refuses when the key was held since the journal opened
 *   — a reference the mark could not see. So a push that races a GC run either completes first
 *   (and its content is spared) or checks after the deletion (and is told the blob is unknown:
 *   the client uploads it again) — never a stored manifest with a deleted blob.
 *
 * One key per sweep: a holder that holds one key and waits for another can then never wait on a
 * sweep that waits on it. Implementations: LocalContentLock (one process); a cluster needs a shared
 * one (the journal and the sweep across replicas).
 */
export interface ContentLock {
  hold<T>(keys: readonly string[], task: () => Promise<T>): Promise<T>;
  openJournal(): Promise<UseJournal>;
  /** Runs `task` with `key` held by no one, unless it was held since `journal` opened: false then. */
  sweep(journal: UseJournal, key: string, task: () => Promise<void>): Promise<boolean>;
}

export interface UseJournal {
  usedSince(key: string): boolean;
  close(): void;
}

/** The lock key of a tag: a push that moves it and retention that removes it exclude each other. */
export const tagKey = (repository: RepositoryKey, tag: Tag): string => `${repository}:${tag}`;

/** Digest keys as they are: `sha256:<hex>` never collides with a tag key (`hosted/…:<tag>`). */
export const digestKeys = (digests: Iterable<Digest>): string[] => [...new Set(digests)];

interface KeyState {
  holders: number;
  /** Set while a sweep deletes the key: new holders wait for it. */
  sweeping: Promise<void> | null;
  /** Resolved when `holders` drops to 0 (a sweep waits for it). */
  drained: (() => void) | null;
}

/** The in-process ContentLock: per-key counters, nothing shared beyond this process. */
export class LocalContentLock implements ContentLock {
  private readonly keys = new Map<string, KeyState>();
  private readonly journals = new Set<Set<string>>();
  private readonly active = new Set<Promise<unknown>>();

  async hold<T>(keys: readonly string[], task: () => Promise<T>): Promise<T> {
    const held: string[] = [];
    const run = (async () => {
      try {
        for (const key of keys) {
          let state = this.keys.get(key);
          while (state?.sweeping) {
            await state.sweeping;
            state = this.keys.get(key);
          }
          if (!state) this.keys.set(key, (state = { holders: 0, sweeping: null, drained: null }));
          state.holders++;
          held.push(key);
          for (const journal of this.journals) journal.add(key);
        }
        return await task();
      } finally {
        for (const key of held) this.release(key);
      }
    })();
    this.active.add(run);
    const forget = (): void => void this.active.delete(run);
    run.then(forget, forget);
    return run;
  }

  async openJournal(): Promise<UseJournal> {
    const used = new Set<string>();
    this.journals.add(used);
    // Holds that began before the journal: their writes must be visible to the mark that follows.
    await Promise.allSettled([...this.active]);
    return { usedSince: (key) => used.has(key), close: () => void this.journals.delete(used) };
  }

  async sweep(journal: UseJournal, key: string, task: () => Promise<void>): Promise<boolean> {
    let state = this.keys.get(key);
    while (state?.sweeping) {
      await state.sweeping;
      state = this.keys.get(key);
    }
    if (!state) this.keys.set(key, (state = { holders: 0, sweeping: null, drained: null }));
    let done!: () => void;
    const sweeping = new Promise<void>((resolve) => (done = resolve));
    state.sweeping = sweeping;
    try {
      if (state.holders > 0) await new Promise<void>((resolve) => (state!.drained = resolve));
      if (journal.usedSince(key)) return false;
      await task();
      return true;
    } finally {
      state.sweeping = null;
      state.drained = null;
      if (state.holders === 0) this.keys.delete(key);
      done();
    }
  }

  private release(key: string): void {
    const state = this.keys.get(key);
    if (!state) return;
    state.holders--;
    if (state.holders > 0) return;
    if (state.drained) state.drained();
    else if (!state.sweeping) this.keys.delete(key);
  }
}
