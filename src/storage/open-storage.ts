import { resolve } from 'node:path';
import { CacheIndex } from './cache-index.js';
import { rebuildCacheIndex } from './cache-index-rebuild.js';
import { FsBlobStore } from './fs-blob-store.js';
import { FsMetadataStore } from './fs-metadata-store.js';
import { FsPullStats } from './fs-pull-stats.js';
import { Layout } from './layout.js';
import type { PullStatsStore } from './pull-stats.js';
import { UploadStore } from './upload-store.js';

export interface StorageSettings {
  path: string;
  /** Budget for cached content in bytes; 0 = unbounded. */
  maxSize: number;
  blobMaxBytes: number;
}

export interface Storage {
  layout: Layout;
  blobs: FsBlobStore;
  metadata: FsMetadataStore;
  uploads: UploadStore;
  cache: CacheIndex;
  pulls: PullStatsStore;
  /** Settles when the eviction index has been rebuilt from disk. */
  indexed: Promise<void>;
}

/** Eviction brings the cache down to this fraction of the budget, so it does not run on every fill. */
const LOW_WATERMARK = 0.9;
/** Content served within this window is never evicted: a pull in progress keeps its layers. */
export const EVICTION_PROTECT_MS = 10 * 60_000;

/** Opens the disk storage under `settings.path`; the one place that knows the stores are files. */
export async function openStorage(
  settings: StorageSettings,
  hooks: { evicted(bytes: number): void; sizeChanged(bytes: number, objects: number): void; rebuildFailed(error: unknown): void },
  now: () => number = Date.now,
): Promise<Storage> {
  const layout = new Layout(resolve(settings.path));
  const blobs = await FsBlobStore.open(layout);
  const metadata = new FsMetadataStore(layout);
  const uploads = new UploadStore(layout, settings.blobMaxBytes);
  const cache = new CacheIndex(
    { maxBytes: settings.maxSize, lowBytes: Math.floor(settings.maxSize * LOW_WATERMARK), protectMs: EVICTION_PROTECT_MS },
    {
      isInUse: (digest) => blobs.isReading(digest),
      remove: (digest) => blobs.delete(digest),
      evicted: hooks.evicted,
      sizeChanged: hooks.sizeChanged,
    },
    now,
  );
  const indexed = rebuildCacheIndex(layout, blobs, cache).catch(hooks.rebuildFailed);
  const pulls = new FsPullStats(`${layout.root}/pulls`, layout.tmp);
  return { layout, blobs, metadata, uploads, cache, pulls, indexed };
}
