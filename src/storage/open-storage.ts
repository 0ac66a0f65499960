import type { BlobStore } from './blob-store.js';
import type { EvictionIndex, EvictionPolicy, SharedEvictionIndex } from './eviction-index.js';
import type { FillSpool } from './fill-spool.js';
import { openFsStorage } from './fs-storage.js';
import type { EvictionHooks } from './local-eviction-index.js';
import type { MetadataStore } from './metadata-store.js';
import type { PinStore } from './pin-store.js';
import type { PullStatsStore } from './pull-stats.js';
import type { ReaderRegistry } from './reader-registry.js';
import type { UploadStore } from './upload-store.js';
import type { S3Settings } from './s3/s3-bucket.js';
import { openS3Storage } from './s3/s3-storage.js';

export interface StorageSettings {
  /** `fs`: everything under `path`. `s3`: content and metadata in a bucket, the fill spool under `path`. */
  driver: 'fs' | 's3';
  /** The bucket, for the s3 driver. */
  s3?: S3Settings | null;
  /** The data directory: the whole store for `fs`, the local fill spool for shared drivers. */
  path: string;
  /** Budget for cached content in bytes; 0 = unbounded. */
  maxSize: number;
  blobMaxBytes: number;
}

export interface StorageHooks {
  evicted(bytes: number): void;
  sizeChanged(bytes: number, objects: number): void;
  rebuildFailed(error: unknown): void;
  /** Chatter of the object store's client (its retries), for the debug log. */
  debug?(details: object, message: string): void;
  /** Replicas: the eviction index they share, for a store they share (s3); otherwise each process keeps its own. */
  sharedEviction?(policy: EvictionPolicy, hooks: EvictionHooks, now: () => number): SharedEvictionIndex;
}

/**
 * What the registry layer stores things in — interfaces only; which driver implements them is
 * decided here and nowhere else (docs/architecture.md, "Storage").
 */
export interface Storage {
  /** Content, shared by every repository. Readers it opens are counted in `readers`. */
  blobs: BlobStore;
  metadata: MetadataStore;
  uploads: UploadStore;
  /** Fills in progress, which readers tail; always local to this process. */
  spool: FillSpool;
  eviction: EvictionIndex;
  pulls: PullStatsStore;
  /** Images pinned through the API (lifecycle/pins.ts). */
  pins: PinStore;
  /** Which blobs this process is sending right now. */
  readers: ReaderRegistry;
  /** A local directory this process writes (temp files, the spool): what readiness probes. */
  scratchDir: string;
  /** Whether content lives on `scratchDir`'s disk (fs): then evicting cached content frees space there. */
  contentOnLocalDisk: boolean;
  /** Settles when the eviction index is ready (rebuilt from the stores at start). */
  indexed: Promise<void>;
  /** Checks that the shared store takes writes (readiness; the caller bounds and caches it); null when `scratchDir` is the store. */
  probe: (() => Promise<void>) | null;
}

/** Opens the storage `settings.driver` names. */
export function openStorage(settings: StorageSettings, hooks: StorageHooks, now: () => number = Date.now): Promise<Storage> {
  switch (settings.driver) {
    case 'fs':
      return openFsStorage(settings, hooks, now);
    case 's3':
      if (!settings.s3) throw new Error('storage.driver s3 needs storage.s3');
      return openS3Storage(settings, settings.s3, hooks, now);
  }
}
