import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Digest } from '../../oci/digest.js';
import { BufferPool } from '../buffer-pool.js';
import { EVICTION_PROTECT_MS, LOW_WATERMARK } from '../eviction-index.js';
import { rebuildEvictionIndex } from '../eviction-index-rebuild.js';
import { LocalEvictionIndex } from '../local-eviction-index.js';
import { LocalFillSpool } from '../local-fill-spool.js';
import type { Storage, StorageHooks, StorageSettings } from '../open-storage.js';
import { ReaderRegistry } from '../reader-registry.js';
import { S3BlobStore } from './s3-blob-store.js';
import { S3Bucket, type S3Settings } from './s3-bucket.js';
import { S3_LAYOUT } from './s3-layout.js';
import { S3MetadataStore } from './s3-metadata-store.js';
import { S3PinStore } from './s3-pin-store.js';
import { S3PullStats } from './s3-pull-stats.js';
import { s3SpoolHandOver } from './s3-spool-hand-over.js';
import { S3UploadStore } from './s3-upload-store.js';

/** Spool buffers: as for fs (fs-storage.ts explains the sizes). */
const BUFFER_BYTES = 1024 * 1024;
const READ_BACK_BUFFER_BYTES = 256 * 1024;
const IDLE_BUFFERS = 16;

/**
 * The s3 driver: blobs, metadata, push sessions and pull counts in a bucket (s3-layout.ts), so
 * replicas sharing it see one registry; on local disk (`storage.path`) only what cannot live in an
 * object store — the spool of fills in progress, which readers tail — and temp files. Nothing here
 * needs Redis: one replica on S3 works alone; several add a cluster (coordination) on top.
 * The eviction index is this process's, rebuilt from the bucket at start (last use after a restart
 * is when the blob was stored: an object's time cannot be bumped on use) — or, with replicas, the
 * one they share (`hooks.sharedEviction`).
 */
export async function openS3Storage(settings: StorageSettings, s3: S3Settings, hooks: StorageHooks, now: () => number): Promise<Storage> {
  const root = resolve(settings.path);
  const tmp = join(root, 'tmp');
  // Anything in tmp/ is from a process that died mid-write. fills/ is kept: partial fills resume.
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });

  const bucket = new S3Bucket(s3, { debug: hooks.debug ?? (() => {}) });
  const pools = { chunks: new BufferPool(BUFFER_BYTES, IDLE_BUFFERS), readBack: new BufferPool(READ_BACK_BUFFER_BYTES, IDLE_BUFFERS) };
  const s3Blobs = new S3BlobStore(bucket, tmp, pools.chunks);
  const readers = new ReaderRegistry();
  const blobs = readers.track(s3Blobs);
  const metadata = new S3MetadataStore(bucket, now);
  const uploads = new S3UploadStore(bucket, blobs, tmp, settings.blobMaxBytes);
  const spool = await LocalFillSpool.open(join(root, 'fills'), tmp, s3SpoolHandOver(bucket), pools);
  const policy = { maxBytes: settings.maxSize, lowBytes: Math.floor(settings.maxSize * LOW_WATERMARK), protectMs: EVICTION_PROTECT_MS };
  const evictionHooks = { isInUse: (digest: Digest) => readers.isReading(digest), remove: (digest: Digest) => blobs.delete(digest), evicted: hooks.evicted, sizeChanged: hooks.sizeChanged };
  // Replicas share one budget for the bucket (an index in Redis), built once for all of them.
  const shared = hooks.sharedEviction?.(policy, evictionHooks, now);
  const eviction = shared ?? new LocalEvictionIndex(policy, evictionHooks, now);
  const rebuild = (): Promise<void> => rebuildEvictionIndex(blobs, metadata, eviction);
  const indexed = (shared ? shared.rebuildOnce(rebuild) : rebuild()).catch(hooks.rebuildFailed);
  const pulls = new S3PullStats(bucket);
  // Readiness: the bucket takes a write (and a delete) — reachable, credentials valid, not read-only.
  const probe = async (): Promise<void> => {
    const path = `${S3_LAYOUT.probe}${randomUUID()}`;
    await bucket.put(path, 'ok');
    await bucket.delete(path);
  };
  const pins = new S3PinStore(bucket);
  return { blobs, metadata, uploads, spool, eviction, pulls, pins, readers, scratchDir: tmp, contentOnLocalDisk: false, indexed, probe };
}
