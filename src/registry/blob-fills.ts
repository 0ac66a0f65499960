import type { Logger } from 'pino';
import type { Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import type { BlobInfo, BlobStore } from '../storage/blob-store.js';
import type { FillSpool } from '../storage/fill-spool.js';
import { BlobFill, type FetchBlob, type FillRequester } from './blob-fill.js';
import { bytesToSend, resolveRange } from './byte-range.js';
import type { PeerBlob } from './fill-coordinator.js';
import type { RegistryObserver } from './registry-observer.js';
import type { RangeRequest } from './repository.js';
import { toRegistryError } from './upstream-errors.js';

/**
 * The fills in progress, by digest, across all upstreams and repositories: the same digest is the
 * same bytes wherever it comes from, so one download serves them all.
 */
export class BlobFills {
  private readonly active = new Map<Digest, BlobFill>();
  private readonly followUps = new Set<Promise<void>>();

  constructor(
    private readonly deps: {
      spool: FillSpool;
      blobs: BlobStore;
      observer: RegistryObserver;
      logger: Logger;
      /** While true (the disk is short of space), new fills go through `passThroughSpool` and store nothing. */
      passThrough?: () => boolean;
      passThroughSpool?: FillSpool;
      /** A fill's write failed for want of space (ENOSPC). */
      storageFull?: () => void;
      /** Whether a blob of this size can be stored and still leave storage.minFreeSpace. */
      fits?: (size: number) => boolean;
    },
  ) {}

  /** Whether a fill of `digest` runs in this process (one that has not failed). */
  has(digest: Digest): boolean {
    const fill = this.active.get(digest);
    return fill !== undefined && !fill.failed;
  }

  /**
   * Joins the fill of `digest`, or starts one that fetches with `fetch` (from where an interrupted
   * earlier fill stopped, if one did). `joined` is true for a coalesced request.
   */
  join(digest: Digest, requester: FillRequester, fetch: FetchBlob): { fill: BlobFill; joined: boolean } {
    const existing = this.active.get(digest);
    // A failed fill stays in the map until its clean-up finished; a newcomer starts afresh, and so
    // does one too late for a passed-through blob (its first bytes are gone).
    if (existing?.joinable) return { fill: existing, joined: true };
    const passThrough = this.deps.passThroughSpool !== undefined && (this.deps.passThrough?.() ?? false);
    const fill = new BlobFill(digest, fetch, {
      spool: passThrough ? this.deps.passThroughSpool! : this.deps.spool,
      observer: this.deps.observer,
      logger: this.deps.logger,
      requester,
      stored: !passThrough,
      ...(this.deps.storageFull ? { storageFull: this.deps.storageFull } : {}),
      ...(this.deps.fits && this.deps.passThroughSpool ? { fits: this.deps.fits, passThroughSpool: this.deps.passThroughSpool } : {}),
    });
    this.active.set(digest, fill);
    const forget = (): void => {
      if (this.active.get(digest) === fill) this.active.delete(digest);
    };
    fill.done.then(forget, forget);
    return { fill, joined: false };
  }

  /**
   * `range` of the blob `fill` downloads, as its bytes arrive (from the store once it committed).
   * Throws what a client should see when the fill fails before it started.
   */
  async read(fill: BlobFill, range: RangeRequest | null): Promise<PeerBlob> {
    const { digest } = fill;
    try {
      await fill.started;
    } catch (e) {
      throw toRegistryError(e, 'BLOB_UNKNOWN', { digest });
    }
    if (fill.size === null && !fill.stored) {
      // Not stored, so it cannot be read back once complete, and no length to promise up front.
      throw new RegistryError('UPSTREAM_UNAVAILABLE', { digest }, { message: 'the upstream sent no length for a blob that cannot be cached now (the disk is short of space)' });
    }
    // Without a length we cannot promise a complete response up front: wait for the whole blob.
    const size = fill.size ?? (await fill.done.catch((e: unknown) => Promise.reject(toRegistryError(e, 'BLOB_UNKNOWN', { digest })))).size;
    const resolved = range ? resolveRange(range, size) : undefined;
    const tail = fill.size === null ? null : fill.createReader(bytesToSend(resolved, size));
    const reader = tail ?? (await this.deps.blobs.openReader(digest, bytesToSend(resolved, size)));
    return { size, reader, ...(resolved ? { range: resolved } : {}) };
  }

  /**
   * `digest` for another replica (cluster/peer-client.ts): from the fill running here, or from the
   * store once that fill committed; null when this process neither downloads nor has it.
   */
  async readForPeer(digest: Digest, range: RangeRequest | null): Promise<PeerBlob | null> {
    const fill = this.active.get(digest);
    if (fill?.joinable) return this.read(fill, range);
    const info = await this.deps.blobs.stat(digest);
    if (!info) return null;
    const resolved = range ? resolveRange(range, info.size) : undefined;
    const reader = await this.deps.blobs.openReader(digest, bytesToSend(resolved, info.size));
    return { size: info.size, reader, ...(resolved ? { range: resolved } : {}) };
  }

  /**
   * Runs `task` once `fill` committed its blob (linking it, indexing it). Failures are the task's
   * own business. `settled` waits for these too, so shutdown never races a link being written.
   */
  afterCommit(fill: BlobFill, task: (info: BlobInfo) => Promise<void>): void {
    const followUp: Promise<void> = fill.done.then(task).catch(() => {}).finally(() => this.followUps.delete(followUp));
    this.followUps.add(followUp);
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
    await Promise.allSettled([...this.followUps]);
  }
}
