/**
 * What every UploadStore must do (src/storage/upload-store.ts). A driver runs it with one line:
 *   uploadStoreContract('fs', async () => ({ uploads, blobs, reopen, cleanup }));
 * `reopen` gives a second instance on the same backing: a restarted process, or another replica.
 */
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../../src/storage/blob-store.js';
import type { RepositoryKey } from '../../../src/storage/repository-key.js';
import type { UploadStore } from '../../../src/storage/upload-store.js';
import { content, listAll, readBlob } from './support.js';

export interface UploadStoreSubject {
  uploads: UploadStore;
  /** Where completed uploads are published. */
  blobs: BlobStore;
  reopen(): Promise<UploadStore>;
  cleanup(): Promise<void>;
}

const REPO = 'hosted/team/app' as RepositoryKey;
const OTHER = 'hosted/team/other' as RepositoryKey;
const body = (...chunks: Buffer[]): Readable => Readable.from(chunks);

export function uploadStoreContract(driver: string, open: () => Promise<UploadStoreSubject>): void {
  describe(`UploadStore contract: ${driver}`, () => {
    let subject: UploadStoreSubject;
    let uploads: UploadStore;
    beforeEach(async () => {
      subject = await open();
      uploads = subject.uploads;
    });
    afterEach(() => subject.cleanup());

    it('chunks append in order and complete publishes the verified blob; the session is gone after', async () => {
      const { bytes, digest } = content(2 * 1024 * 1024 + 3);
      let session = await uploads.create(REPO);
      expect(session).toMatchObject({ repository: REPO, offset: 0 });
      expect(await uploads.get(session.id, REPO)).toEqual(session);
      session = await uploads.append(session, body(bytes.subarray(0, 1_000_000)), { start: 0, length: 1_000_000 });
      expect(session.offset).toBe(1_000_000);
      session = await uploads.append(session, body(bytes.subarray(1_000_000, 1_500_000), bytes.subarray(1_500_000)));
      expect((await uploads.get(session.id, REPO)).offset).toBe(bytes.length);
      expect(await subject.blobs.stat(digest)).toBeNull();

      expect(await uploads.complete(session, digest)).toEqual({ digest, size: bytes.length });
      expect((await readBlob(subject.blobs, digest)).equals(bytes)).toBe(true);
      await expect(uploads.get(session.id, REPO)).rejects.toMatchObject({ code: 'BLOB_UPLOAD_UNKNOWN', status: 404 });
      // A late chunk is refused and written nowhere.
      await expect(uploads.append(session, body(Buffer.from('late')))).rejects.toMatchObject({ code: 'BLOB_UPLOAD_UNKNOWN' });
      expect(await uploads.list()).toEqual([]);
      expect((await listAll(subject.blobs.list())).map((b) => b.digest)).toEqual([digest]);
    });

    it('unknown, malformed and other-repository ids are BLOB_UPLOAD_UNKNOWN', async () => {
      const session = await uploads.create(REPO);
      for (const [id, repo] of [[session.id, OTHER], ['not-an-id', REPO], ['../../etc', REPO], ['0f0f0f0f-0f0f-4f0f-8f0f-0f0f0f0f0f0f', REPO]] as const) {
        await expect(uploads.get(id, repo)).rejects.toMatchObject({ code: 'BLOB_UPLOAD_UNKNOWN', status: 404 });
      }
    });

    it('a chunk that does not start at the offset is 416 with the current Range, and changes nothing', async () => {
      let session = await uploads.create(REPO);
      session = await uploads.append(session, body(Buffer.alloc(100, 1)));
      const refused = await uploads.append(session, body(Buffer.alloc(10, 2)), { start: 0 }).catch((e: unknown) => e);
      expect(refused).toMatchObject({ status: 416, headers: { Range: '0-99' } });
      expect((await uploads.get(session.id, REPO)).offset).toBe(100);
    });

    it('a chunk shorter than announced is SIZE_INVALID and leaves the offset where it was', async () => {
      let session = await uploads.create(REPO);
      session = await uploads.append(session, body(Buffer.alloc(100, 1)));
      await expect(uploads.append(session, body(Buffer.alloc(10, 2)), { start: 100, length: 20 })).rejects.toMatchObject({ code: 'SIZE_INVALID' });
      expect((await uploads.get(session.id, REPO)).offset).toBe(100);
    });

    it('two chunks sent for the same offset at once: one lands, the other is refused', async () => {
      const session = await uploads.create(REPO);
      const results = await Promise.allSettled([1, 2].map((n) => uploads.append(session, body(Buffer.alloc(1000, n)), { start: 0 })));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'rejected')).toEqual([expect.objectContaining({ reason: expect.objectContaining({ status: 416 }) })]);
      expect((await uploads.get(session.id, REPO)).offset).toBe(1000);
    });

    it('a wrong digest at completion is DIGEST_INVALID and publishes nothing', async () => {
      const { bytes, digest } = content(50_000);
      const claimed = content(10).digest;
      let session = await uploads.create(REPO);
      session = await uploads.append(session, body(bytes));
      await expect(uploads.complete(session, claimed)).rejects.toMatchObject({ code: 'DIGEST_INVALID', status: 400 });
      expect(await subject.blobs.stat(claimed)).toBeNull();
      expect(await subject.blobs.stat(digest)).toBeNull();
    });

    it('cancel ends the session', async () => {
      const session = await uploads.create(REPO);
      await uploads.append(session, body(Buffer.alloc(10)));
      await uploads.cancel(session);
      await expect(uploads.get(session.id, REPO)).rejects.toMatchObject({ code: 'BLOB_UPLOAD_UNKNOWN' });
      expect(await uploads.list()).toEqual([]);
    });

    it('sessions survive a new store instance: progress, the next chunk, verification (sha256 and sha512)', async () => {
      const { bytes, digest } = content(1_500_000);
      const sha512 = content(70_000, 'sha512');
      let session = await uploads.create(REPO);
      session = await uploads.append(session, body(bytes.subarray(0, 700_000)));
      let other = await uploads.create(OTHER);
      other = await uploads.append(other, body(sha512.bytes));

      const again = await subject.reopen();
      expect((await again.list()).map((s) => [s.id, s.offset]).sort()).toEqual([[session.id, 700_000], [other.id, 70_000]].sort());
      const resumed = await again.get(session.id, REPO);
      expect(resumed.offset).toBe(700_000);
      const whole = await again.append(resumed, body(bytes.subarray(700_000)), { start: 700_000 });
      await expect(again.complete(whole, content(5).digest)).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
      expect(await again.complete(whole, digest)).toEqual({ digest, size: bytes.length });
      expect((await readBlob(subject.blobs, digest)).equals(bytes)).toBe(true);
      expect(await again.complete(await again.get(other.id, OTHER), sha512.digest)).toEqual({ digest: sha512.digest, size: 70_000 });
      // The first instance sees the sessions gone too.
      await expect(uploads.get(session.id, REPO)).rejects.toMatchObject({ code: 'BLOB_UPLOAD_UNKNOWN' });
    });

    it('purgeIdle removes sessions idle longer than the limit, not active ones', async () => {
      const idle = await uploads.create(REPO);
      const active = await uploads.create(REPO);
      expect(await uploads.purgeIdle(60_000)).toBe(0);
      const later = Date.now() + 120_000;
      expect(await uploads.purgeIdle(60_000, later)).toBe(2);
      expect(await uploads.list()).toEqual([]);
      await expect(uploads.get(idle.id, REPO)).rejects.toMatchObject({ code: 'BLOB_UPLOAD_UNKNOWN' });
      await expect(uploads.get(active.id, REPO)).rejects.toMatchObject({ code: 'BLOB_UPLOAD_UNKNOWN' });
      const fresh = await uploads.create(REPO);
      await uploads.append(fresh, body(Buffer.alloc(10)));
      expect(await uploads.purgeIdle(60_000)).toBe(0);
      expect((await uploads.list()).map((s) => s.id)).toEqual([fresh.id]);
    });
  });
}
