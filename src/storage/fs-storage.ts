import { mkdir, rm, utimes } from 'node:fs/promises';
import { resolve } from 'node:path';
import { BufferPool } from './buffer-pool.js';
import { EVICTION_PROTECT_MS, LOW_WATERMARK } from './eviction-index.js';
import { rebuildEvictionIndex } from './eviction-index-rebuild.js';
import { FsBlobStore } from './fs-blob-store.js';
import { FsMetadataStore } from './fs-metadata-store.js';
import { FsPinStore } from './fs-pin-store.js';
import { FsPullStats } from './fs-pull-stats.js';
import { fsSpoolHandOver } from './fs-spool-hand-over.js';
import { FsUploadStore } from './fs-upload-store.js';
import { Layout } from './layout.js';
import { LocalEvictionIndex } from './local-eviction-index.js';
import { LocalFillSpool } from './local-fill-spool.js';
import type { Storage, StorageHooks, StorageSettings } from './open-storage.js';
import { ReaderRegistry } from './reader-registry.js';

// Pooled 1 MiB buffers for what moves blob bytes in bulk: reads for responses and fill writes.
// Large chunks keep syscalls low for multi-GB layers (256 KiB ones cost ~25% more CPU per warm GET,
// bench/ figure 1d). Memory scales with concurrent readers (two buffers each), never with blob size.
// Readers that lag behind a fill read back through 256 KiB buffers instead: with 20 clients on one
// fill most of them lag, and 1 MiB each put the peak RSS ~25 MiB higher (bench/, figure 5c).
const BUFFER_BYTES = 1024 * 1024;
const READ_BACK_BUFFER_BYTES = 256 * 1024;
/** Idle buffers kept per pool for the next responses (16 MiB + 4 MiB at most). */
const IDLE_BUFFERS = 16;

/** The fs driver: every store in one data directory (layout.ts has the tree). */
export async function openFsStorage(settings: StorageSettings, hooks: StorageHooks, now: () => number): Promise<Storage> {
  const layout = new Layout(resolve(settings.path));
  await Promise.all([layout.blobs, layout.uploads, layout.repositories].map((dir) => mkdir(dir, { recursive: true })));
  // Anything in tmp/ is from a process that died mid-write: never a finished blob.
  await rm(layout.tmp, { recursive: true, force: true });
  await mkdir(layout.tmp, { recursive: true });

  const pools = { chunks: new BufferPool(BUFFER_BYTES, IDLE_BUFFERS), readBack: new BufferPool(READ_BACK_BUFFER_BYTES, IDLE_BUFFERS) };
  const fsBlobs = new FsBlobStore(layout, pools.chunks);
  const readers = new ReaderRegistry();
  const blobs = readers.track(fsBlobs);
  const metadata = new FsMetadataStore(layout, now);
  const uploads = new FsUploadStore(layout, fsBlobs, settings.blobMaxBytes);
  const spool = await LocalFillSpool.open(layout.fills, layout.tmp, fsSpoolHandOver(fsBlobs), pools);
  const eviction = new LocalEvictionIndex(
    { maxBytes: settings.maxSize, lowBytes: Math.floor(settings.maxSize * LOW_WATERMARK), protectMs: EVICTION_PROTECT_MS },
    {
      isInUse: (digest) => readers.isReading(digest),
      remove: (digest) => blobs.delete(digest),
      evicted: hooks.evicted,
      sizeChanged: hooks.sizeChanged,
      // The blob's mtime is its last use across restarts (the rebuild orders by it).
      recordUse: (digest, at) => void utimes(layout.blob(digest), at / 1000, at / 1000).catch(() => {}),
    },
    now,
  );
  const indexed = rebuildEvictionIndex(blobs, metadata, eviction).catch(hooks.rebuildFailed);
  const pulls = new FsPullStats(layout.pulls, layout.tmp);
  const pins = new FsPinStore(layout.pins, layout.tmp);
  return { blobs, metadata, uploads, spool, eviction, pulls, pins, readers, scratchDir: layout.tmp, contentOnLocalDisk: true, indexed, probe: null };
}
