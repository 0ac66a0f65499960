import type { BlobStore } from './blob-store.js';
import type { EvictionIndex } from './eviction-index.js';
import type { FillSpool } from './fill-spool.js';
import { openFsStorage } from './fs-storage.js';
import type { MetadataStore } from './metadata-store.js';
import type { PullStatsStore } from './pull-stats.js';
import type { ReaderRegistry } from './reader-registry.js';
import type { UploadStore } from './upload-store.js';

export interface StorageSettings {
  /** `fs`: everything under `path`. (An `s3` driver adds an object store for blobs and Redis for the rest.) */
  driver: 'fs';
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
  /** Which blobs this process is sending right now. */
  readers: ReaderRegistry;
  /** A local directory this process writes (temp files, the spool): what readiness probes. */
  scratchDir: string;
  /** Settles when the eviction index is ready (rebuilt from the stores, for the fs driver). */
  indexed: Promise<void>;
}

/** Opens the storage `settings.driver` names. */
export function openStorage(settings: StorageSettings, hooks: StorageHooks, now: () => number = Date.now): Promise<Storage> {
  switch (settings.driver) {
    case 'fs':
      return openFsStorage(settings, hooks, now);
  }
}
