/**
 * The s3 driver on the real Ceph RGW of the `s3` test project (test/support/ceph-rgw.global.ts):
 * its stores against the storage contracts (test/storage/contracts/), one line each, then what only an object store has (multipart uploads,
 * copies inside the store, the key prefix). Each subject gets a bucket of its own; `reopen` is
 * another process (or replica) on the same bucket.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { RepositoryKey } from '../../src/storage/repository-key.js';
import { BufferPool } from '../../src/storage/buffer-pool.js';
import { openStorage, type Storage } from '../../src/storage/open-storage.js';
import { S3BlobStore } from '../../src/storage/s3/s3-blob-store.js';
import { S3Bucket } from '../../src/storage/s3/s3-bucket.js';
import { createTestBucket, type TestBucket } from '../support/s3-test-bucket.js';
import { slowSink } from '../support/slow-sink.js';
import { blobStoreContract } from '../storage/contracts/blob-store-contract.js';
import { fillSpoolContract, spoolThroughWriter } from '../storage/contracts/fill-spool-contract.js';
import { metadataStoreContract } from '../storage/contracts/metadata-store-contract.js';
import { pinStoreContract } from '../storage/contracts/pin-store-contract.js';
import { pullStatsContract } from '../storage/contracts/pull-stats-contract.js';
import { uploadStoreContract } from '../storage/contracts/upload-store-contract.js';
import { content, eventually, readBlob } from '../storage/contracts/support.js';

const HOOKS = { evicted: () => {}, sizeChanged: () => {}, rebuildFailed: (e: unknown) => Promise.reject(e) };
const rgw = inject('s3Store');

/** An s3 Storage on a fresh bucket (and local spool directory), and a way to open another one on both. */
async function s3Storage(now?: () => number, prefix = 'stowage/'): Promise<{ storage: Storage; bucket: TestBucket; reopen: () => Promise<Storage>; cleanup: () => Promise<void> }> {
  const bucket = await createTestBucket(rgw!, undefined, { prefix });
  const dir = await mkdtemp(join(tmpdir(), 'stowage-s3-contract-'));
  const open = async (): Promise<Storage> => {
    const storage = await openStorage({ driver: 's3', s3: bucket.settings, path: dir, maxSize: 0, blobMaxBytes: 0 }, HOOKS, now);
    await storage.indexed;
    return storage;
  };
  return {
    storage: await open(),
    bucket,
    reopen: open,
    cleanup: async () => {
      await bucket.remove();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe.skipIf(!rgw)('s3 driver on Ceph RGW', () => {
  blobStoreContract('s3', async () => {
    const { storage, cleanup } = await s3Storage();
    return { blobs: storage.blobs, cleanup };
  });

  fillSpoolContract('s3 (multipart upload while spooling)', async () => {
    const { storage, reopen, cleanup } = await s3Storage();
    return { spool: storage.spool, blobs: storage.blobs, reopen: async () => (await reopen()).spool, cleanup };
  });

  fillSpoolContract('s3 store through BlobStore.createWriter', async () => {
    const { storage, cleanup } = await s3Storage(undefined, '');
    return spoolThroughWriter(storage.blobs, cleanup);
  });

  uploadStoreContract('s3', async () => {
    const { storage, reopen, cleanup } = await s3Storage();
    return { uploads: storage.uploads, blobs: storage.blobs, reopen: async () => (await reopen()).uploads, cleanup };
  });

  metadataStoreContract('s3', async (now) => {
    const { storage, reopen, cleanup } = await s3Storage(now);
    return { metadata: storage.metadata, reopen: async () => (await reopen()).metadata, cleanup };
  });

  pullStatsContract('s3', async () => {
    const { storage, reopen, cleanup } = await s3Storage();
    return { store: storage.pulls, reopen: async () => (await reopen()).pulls, close: cleanup };
  });

  pinStoreContract('s3', async () => {
    const { storage, reopen, cleanup } = await s3Storage();
    return { store: storage.pins, reopen: async () => (await reopen()).pins, close: cleanup };
  });

  describe('what only an object store has', () => {
    const MiB = 1024 * 1024;
    const REPO = 'hosted/team/app' as RepositoryKey;
    let subject: Awaited<ReturnType<typeof s3Storage>>;
    afterEach(() => subject.cleanup());
    const blobKey = (digest: string): string => `stowage/blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}`;

    it('a fill of several parts is one multipart upload straight to the blob key, invisible until the digest matched', async () => {
      subject = await s3Storage();
      const { bytes, digest } = content(40 * MiB + 3);
      const writer = await subject.storage.spool.open(digest);
      await writer.write([bytes.subarray(0, 20 * MiB)]);
      // The first part goes up while the fill runs.
      await eventually(async () => (await subject.bucket.pendingUploads()).includes(blobKey(digest)), 'a multipart upload in progress', 10_000);
      expect(await subject.storage.blobs.stat(digest)).toBeNull();
      await writer.write([bytes.subarray(20 * MiB)]);
      expect(await writer.commit(digest)).toEqual({ digest, size: bytes.length });
      expect(await subject.bucket.pendingUploads()).toEqual([]);
      expect((await readBlob(subject.storage.blobs, digest)).equals(bytes)).toBe(true);
      expect(await subject.bucket.keys()).toEqual([blobKey(digest)]);
    });

    it('a multipart fill whose bytes do not match is aborted: nothing stored, no upload left behind', async () => {
      subject = await s3Storage();
      const { bytes } = content(36 * MiB);
      const claimed = content(10).digest;
      const writer = await subject.storage.spool.open(claimed);
      await writer.write([bytes]);
      await expect(writer.commit(claimed)).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
      expect(await subject.bucket.pendingUploads()).toEqual([]);
      expect(await subject.bucket.keys()).toEqual([]);
    });

    it('a push in chunks of 6, 6 and 1 MiB is copied into place inside the store, also when another replica completes it', async () => {
      subject = await s3Storage();
      const { bytes, digest } = content(13 * MiB);
      let session = await subject.storage.uploads.create(REPO);
      for (const [start, end] of [[0, 6 * MiB], [6 * MiB, 12 * MiB], [12 * MiB, 13 * MiB]] as const) {
        session = await subject.storage.uploads.append(session, Readable.from([bytes.subarray(start, end)]), { start });
      }
      const other = (await subject.reopen()).uploads; // holds no running digest: re-hashes from the store
      await expect(other.complete(await other.get(session.id, REPO), content(3).digest)).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
      expect(await other.complete(await other.get(session.id, REPO), digest)).toEqual({ digest, size: bytes.length });
      expect((await readBlob(subject.storage.blobs, digest)).equals(bytes)).toBe(true);
      expect(await subject.bucket.keys()).toEqual([blobKey(digest)]);
    });

    it('chunks under the 5 MiB part minimum are streamed through once at completion and verified on the way', async () => {
      subject = await s3Storage();
      const { bytes, digest } = content(3 * MiB);
      let session = await subject.storage.uploads.create(REPO);
      for (let start = 0; start < bytes.length; start += MiB) {
        session = await subject.storage.uploads.append(session, Readable.from([bytes.subarray(start, start + MiB)]));
      }
      await expect(subject.storage.uploads.complete(session, content(3).digest)).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
      expect(await subject.storage.uploads.complete(session, digest)).toEqual({ digest, size: bytes.length });
      expect((await readBlob(subject.storage.blobs, digest)).equals(bytes)).toBe(true);
      expect(await subject.bucket.keys()).toEqual([blobKey(digest)]);
      expect(await subject.bucket.pendingUploads()).toEqual([]);
    });

    it('reads through pooled 1 MiB buffers to a slow client are exactly the bytes, whole and in ranges across buffer edges', async () => {
      subject = await s3Storage();
      const { bytes, digest } = content(5 * MiB + 123);
      await subject.storage.blobs.putBytes(digest, bytes);
      for (const [start, end] of [[0, bytes.length - 1], [MiB - 1, 3 * MiB + 1], [bytes.length - 10, bytes.length - 1], [7, 7]] as const) {
        const { sink, received } = slowSink();
        const finished = new Promise((resolve) => sink.once('finish', resolve));
        await (await subject.storage.blobs.openReader(digest, { start, end })).pipeTo(sink);
        await finished;
        expect(received().equals(bytes.subarray(start, end + 1)), `bytes ${start}-${end}`).toBe(true);
      }
    });

    it('a store that refuses a blob GET is UNAVAILABLE naming its error, never BLOB_UNKNOWN, and no signature shows', async () => {
      subject = await s3Storage();
      const { bytes, digest } = content(1000);
      await subject.storage.blobs.putBytes(digest, bytes);
      const settings = { ...subject.bucket.settings, secretAccessKey: 'not-the-secret' };
      const refused = new S3BlobStore(new S3Bucket(settings, { debug() {} }), tmpdir(), new BufferPool(MiB, 1));
      const error = await refused.openReader(digest, { start: 0, end: 999 }).then(() => null, (e: unknown) => e);
      expect(error).toMatchObject({ code: 'UNAVAILABLE', status: 503, message: expect.stringContaining('SignatureDoesNotMatch') });
      const cause = (error as Error).cause as Error;
      expect(`${String(error)} ${String(cause)} ${cause.stack} ${JSON.stringify(error)}`).not.toMatch(/Signature=|X-Amz-Credential|not-the-secret/i);
    });

    it('the readiness probe writes to the bucket, and fails when the bucket is gone', async () => {
      subject = await s3Storage();
      await subject.storage.probe!();
      expect(await subject.bucket.keys()).toEqual([]);
      const bucket = subject.bucket;
      await bucket.remove();
      await expect(subject.storage.probe!()).rejects.toMatchObject({ status: 503, message: expect.stringContaining('NoSuchBucket') });
      subject = { ...subject, cleanup: async () => {} };
    });
  });
});
