/**
 * What every BlobStore must do (src/storage/blob-store.ts). A driver runs it with one line:
 *   blobStoreContract('fs', async () => ({ blobs, cleanup }));
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../../src/storage/blob-store.js';
import { content, digestOf, drain, listAll, readBlob } from './support.js';

export interface BlobStoreSubject {
  blobs: BlobStore;
  cleanup(): Promise<void>;
}

export function blobStoreContract(driver: string, open: () => Promise<BlobStoreSubject>): void {
  describe(`BlobStore contract: ${driver}`, () => {
    let subject: BlobStoreSubject;
    let blobs: BlobStore;
    beforeEach(async () => {
      subject = await open();
      blobs = subject.blobs;
    });
    afterEach(() => subject.cleanup());

    it('an absent blob: stat is null, reads are BLOB_UNKNOWN, delete is harmless', async () => {
      const { digest } = content(10);
      expect(await blobs.stat(digest)).toBeNull();
      await expect(blobs.openReader(digest, { start: 0, end: 9 })).rejects.toMatchObject({ code: 'BLOB_UNKNOWN', status: 404 });
      await expect(blobs.readBytes(digest)).rejects.toMatchObject({ code: 'BLOB_UNKNOWN', status: 404 });
      await blobs.delete(digest);
    });

    it('putBytes stores verified bytes; the wrong digest is DIGEST_INVALID and stores nothing', async () => {
      const { bytes, digest } = content(5000);
      await blobs.putBytes(digest, bytes);
      expect(await blobs.stat(digest)).toEqual({ digest, size: 5000 });
      expect((await blobs.readBytes(digest)).equals(bytes)).toBe(true);

      const other = content(100);
      await expect(blobs.putBytes(other.digest, bytes)).rejects.toMatchObject({ code: 'DIGEST_INVALID', status: 400 });
      expect(await blobs.stat(other.digest)).toBeNull();
    });

    it('a writer publishes nothing until commit, then exactly the bytes, atomically', async () => {
      const { bytes, digest } = content(3 * 1024 * 1024 + 7);
      const writer = await blobs.createWriter('sha256');
      for (let i = 0; i < bytes.length; i += 1_000_000) {
        await writer.write([bytes.subarray(i, i + 500_000), bytes.subarray(i + 500_000, i + 1_000_000)]);
        expect(await blobs.stat(digest)).toBeNull();
      }
      expect(writer.bytesWritten).toBe(bytes.length);
      expect(await writer.commit(digest)).toEqual({ digest, size: bytes.length });
      expect(await blobs.stat(digest)).toEqual({ digest, size: bytes.length });
      expect((await readBlob(blobs, digest)).equals(bytes)).toBe(true);
      await writer.abort(); // after a commit: harmless, the blob stays
      expect(await blobs.stat(digest)).not.toBeNull();
    });

    it('a writer whose bytes do not match is DIGEST_INVALID and leaves nothing, under either digest', async () => {
      const { bytes, digest: actual } = content(200_000);
      const claimed = content(10).digest;
      const writer = await blobs.createWriter('sha256');
      await writer.write([bytes]);
      await expect(writer.commit(claimed)).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
      expect(await blobs.stat(claimed)).toBeNull();
      expect(await blobs.stat(actual)).toBeNull();
      expect(await listAll(blobs.list())).toEqual([]);
      await writer.abort();
    });

    it('an aborted writer leaves nothing', async () => {
      const { bytes, digest } = content(10_000);
      const writer = await blobs.createWriter('sha256');
      await writer.write([bytes]);
      await writer.abort();
      await writer.abort();
      expect(await blobs.stat(digest)).toBeNull();
      expect(await listAll(blobs.list())).toEqual([]);
    });

    it('sha512 blobs are verified with sha512', async () => {
      const { bytes, digest } = content(70_000, 'sha512');
      const writer = await blobs.createWriter('sha512');
      await writer.write([bytes]);
      await writer.commit(digest);
      expect((await readBlob(blobs, digest)).equals(bytes)).toBe(true);
      await expect(blobs.putBytes(digestOf(bytes, 'sha512'), bytes.subarray(1))).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
    });

    it('concurrent writers of the same digest: both commit, one blob, the right bytes', async () => {
      const { bytes, digest } = content(2 * 1024 * 1024);
      const writers = await Promise.all([1, 2, 3].map(() => blobs.createWriter('sha256')));
      await Promise.all(
        writers.map(async (writer, n) => {
          for (let i = 0; i < bytes.length; i += 100_000 * (n + 1)) await writer.write([bytes.subarray(i, i + 100_000 * (n + 1))]);
        }),
      );
      const infos = await Promise.all(writers.map((writer) => writer.commit(digest)));
      expect(infos).toEqual([1, 2, 3].map(() => ({ digest, size: bytes.length })));
      expect((await readBlob(blobs, digest)).equals(bytes)).toBe(true);
      expect(await listAll(blobs.list())).toEqual([expect.objectContaining({ digest, size: bytes.length })]);
    });

    it('range reads: a middle, the end, one byte; a reader can be closed unread', async () => {
      const { bytes, digest } = content(2 * 1024 * 1024 + 333);
      await blobs.putBytes(digest, bytes);
      for (const [start, end] of [[1_000_000, 1_500_123], [bytes.length - 10, bytes.length - 1], [42, 42]] as const) {
        const reader = await blobs.openReader(digest, { start, end });
        expect(reader.length).toBe(end - start + 1);
        await reader.ready();
        const { bytes: got, ended, error } = await drain(reader);
        expect(error).toBeNull();
        expect(ended).toBe(true);
        expect(got.equals(bytes.subarray(start, end + 1))).toBe(true);
      }
      await (await blobs.openReader(digest, { start: 0, end: 10 })).close();
    });

    it('a reader promised more than is stored fails rather than ending short', async () => {
      const { bytes, digest } = content(10_000);
      await blobs.putBytes(digest, bytes);
      const { bytes: got, ended, error } = await drain(await blobs.openReader(digest, { start: 0, end: bytes.length + 99 }));
      expect(error).toBeInstanceOf(Error);
      expect(ended).toBe(false);
      expect(got.length).toBeLessThanOrEqual(bytes.length);
    });

    it('list yields every blob once with its size; delete removes one', async () => {
      const stored = [content(1), content(1000), content(300_000)];
      for (const { bytes, digest } of stored) await blobs.putBytes(digest, bytes);
      await blobs.putBytes(stored[1]!.digest, stored[1]!.bytes); // again: still one blob
      const listed = await listAll(blobs.list());
      expect(listed.map(({ digest, size }) => ({ digest, size })).sort((a, b) => a.size - b.size)).toEqual(
        stored.map(({ bytes, digest }) => ({ digest, size: bytes.length })),
      );
      for (const blob of listed) if (blob.lastUsed !== undefined) expect(blob.lastUsed).toBeGreaterThan(0);

      await blobs.delete(stored[0]!.digest);
      expect(await blobs.stat(stored[0]!.digest)).toBeNull();
      expect((await listAll(blobs.list())).map((b) => b.digest).sort()).toEqual([stored[1]!.digest, stored[2]!.digest].sort());
    });
  });
}
