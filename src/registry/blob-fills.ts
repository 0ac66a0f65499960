import type { Logger } from 'pino';
import type { Digest } from '../oci/digest.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { BlobResponse } from '../upstream/upstream.js';
import { BlobFill } from './blob-fill.js';
import type { RegistryObserver } from './registry-observer.js';

/**
 * The fills in progress, by digest, across all upstreams and repositories: the same digest is the
 * same bytes wherever it comes from, so one download serves them all.
 */
export class BlobFills {
  private readonly active = new Map<Digest, BlobFill>();

  constructor(private readonly deps: { blobs: BlobStore; observer: RegistryObserver; logger: Logger }) {}

  /** Joins the fill of `digest`, or starts one with `fetch`. `joined` is true for a coalesced request. */
  join(digest: Digest, upstream: string, fetch: () => Promise<BlobResponse>): { fill: BlobFill; joined: boolean } {
    const existing = this.active.get(digest);
    // A failed fill stays in the map until its clean-up finished; a newcomer starts afresh.
    if (existing && !existing.failed) return { fill: existing, joined: true };
    const fill = new BlobFill(digest, fetch, { ...this.deps, upstream });
    this.active.set(digest, fill);
    const forget = (): void => {
      if (this.active.get(digest) === fill) this.active.delete(digest);
    };
    fill.done.then(forget, forget);
    return { fill, joined: false };
  }

  get inProgress(): number {
    return this.active.size;
  }

  /** The downloads running now, with bytes done of total (null: the upstream sent no length). */
  progress(): Array<{ digest: Digest; upstream: string; bytesDone: number; size: number | null }> {
    return [...this.active.values()].filter((f) => !f.failed).map((f) => ({ digest: f.digest, upstream: f.upstream, bytesDone: f.bytesDone, size: f.size }));
  }

  /** Resolves when every fill has settled (for shutdown and tests). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.active.values()].map((f) => f.done));
  }
}
