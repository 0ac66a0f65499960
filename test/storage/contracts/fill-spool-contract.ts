/**
 * What every FillSpool must do (src/storage/fill-spool.ts), whatever store its fills are handed
 * over to. A driver runs it with one line:
 *   fillSpoolContract('fs', async () => ({ spool, blobs, reopen, cleanup }));
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { digestAlgorithm } from '../../../src/oci/digest.js';
import { BufferPool } from '../../../src/storage/buffer-pool.js';
import { LocalFillSpool } from '../../../src/storage/local-fill-spool.js';
import type { BlobStore } from '../../../src/storage/blob-store.js';
import type { FillOrigin, FillSpool } from '../../../src/storage/fill-spool.js';
import type { RepositoryKey } from '../../../src/storage/repository-key.js';
import { slowSink } from '../../support/slow-sink.js';
import { content, drain, eventually, listAll, readBlob } from './support.js';

export interface FillSpoolSubject {
  spool: FillSpool;
  /** The store committed fills land in. */
  blobs: BlobStore;
  /** A new spool on the same backing, as the next process after a crash sees it. */
  reopen(): Promise<FillSpool>;
  cleanup(): Promise<void>;
}

/**
 * A spool in a temp directory of its own whose fills reach `blobs` through the generic hand-over,
 * `BlobStore.createWriter` (every byte streamed into it, committed after the digest matched).
 */
export async function spoolThroughWriter(blobs: BlobStore, cleanup: () => Promise<void>): Promise<FillSpoolSubject> {
  const dir = await mkdtemp(join(tmpdir(), 'stowage-spool-'));
  const pools = { chunks: new BufferPool(64 * 1024, 4), readBack: new BufferPool(16 * 1024, 4) };
  const open = (): Promise<LocalFillSpool> => LocalFillSpool.open(join(dir, 'fills'), dir, (digest) => blobs.createWriter(digestAlgorithm(digest)), pools);
  return {
    spool: await open(),
    blobs,
    reopen: open,
    cleanup: async () => {
      await cleanup();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const origin = (size: number | null): FillOrigin => ({ upstream: 'docker.io', repository: 'proxied/docker.io/library/app' as RepositoryKey, size });
const tick = (ms = 20): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function fillSpoolContract(driver: string, open: () => Promise<FillSpoolSubject>): void {
  describe(`FillSpool contract: ${driver}`, () => {
    let subject: FillSpoolSubject;
    let spool: FillSpool;
    beforeEach(async () => {
      subject = await open();
      spool = subject.spool;
    });
    afterEach(() => subject.cleanup());

    it('tail readers get bytes while the fill runs, the last byte only after commit, and the blob appears only then', async () => {
      const { bytes, digest } = content(3 * 1024 * 1024 + 5);
      const writer = await spool.open(digest);
      expect(writer.bytesWritten).toBe(0);
      expect(writer.resumedFrom).toBeNull();
      await writer.record(origin(bytes.length));
      const whole = slowSink(0);
      const reading = writer.createTailReader({ start: 0, end: bytes.length - 1 })!.pipeTo(whole.sink);
      const middle = writer.createTailReader({ start: 1_000_000, end: 1_000_099 })!;
      await writer.write([bytes.subarray(0, 2_000_000)]);
      expect((await drain(middle)).bytes.equals(bytes.subarray(1_000_000, 1_000_100))).toBe(true);
      await writer.write([bytes.subarray(2_000_000)]);
      await eventually(() => whole.received().length === bytes.length - 1, 'every byte but the last');
      await tick();
      expect(whole.received().length).toBe(bytes.length - 1); // the last one waits for the digest
      expect(await subject.blobs.stat(digest)).toBeNull();

      expect(await writer.commit(digest)).toEqual({ digest, size: bytes.length });
      await reading;
      await eventually(() => whole.received().length === bytes.length, 'the last byte');
      expect(whole.received().equals(bytes)).toBe(true);
      expect((await readBlob(subject.blobs, digest)).equals(bytes)).toBe(true);
      expect(writer.createTailReader({ start: 0, end: 0 })).toBeNull(); // read the store now
      expect(await spool.list()).toEqual([]);
    });

    it('a digest mismatch is DIGEST_INVALID: readers fail short of the end, nothing is stored or kept', async () => {
      const { bytes } = content(500_000);
      const claimed = content(8).digest;
      const writer = await spool.open(claimed);
      const reader = writer.createTailReader({ start: 0, end: bytes.length - 1 })!;
      const reading = drain(reader);
      await writer.write([bytes]);
      await expect(writer.commit(claimed)).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
      const { bytes: got, ended, error } = await reading;
      expect(error).toMatchObject({ code: 'DIGEST_INVALID' });
      expect(ended).toBe(false);
      expect(got.length).toBeLessThan(bytes.length);
      expect(await subject.blobs.stat(claimed)).toBeNull();
      expect(await listAll(subject.blobs.list())).toEqual([]);
      expect(await spool.list()).toEqual([]);
      const next = await spool.open(claimed);
      expect(next.bytesWritten).toBe(0);
      await next.abort();
    });

    it('abort fails the readers with its reason and discards the bytes', async () => {
      const { bytes, digest } = content(100_000);
      const writer = await spool.open(digest);
      await writer.write([bytes]);
      const reading = drain(writer.createTailReader({ start: 0, end: bytes.length - 1 })!);
      const reason = new Error('upstream lied');
      await writer.abort(reason);
      await writer.abort();
      expect((await reading).error).toBe(reason);
      expect(() => writer.createTailReader({ start: 0, end: 1 })).toThrow(reason);
      expect(await spool.list()).toEqual([]);
      expect(await subject.blobs.stat(digest)).toBeNull();
    });

    it('a suspended fill keeps its bytes and origin; the next open of the digest resumes after them', async () => {
      const { bytes, digest } = content(2 * 1024 * 1024 + 11);
      const first = await spool.open(digest);
      await first.record(origin(bytes.length));
      await first.write([bytes.subarray(0, 1_200_000)]);
      const reading = drain(first.createTailReader({ start: 0, end: bytes.length - 1 })!);
      await first.suspend(new Error('upstream gone'));
      expect((await reading).error).toMatchObject({ message: 'upstream gone' });
      expect(await spool.list()).toEqual([{ digest, bytes: 1_200_000, origin: origin(bytes.length), lastActive: expect.any(Number) }]);

      const second = await spool.open(digest);
      expect(second.bytesWritten).toBe(1_200_000);
      expect(second.resumedFrom).toEqual(origin(bytes.length));
      const early = drain(second.createTailReader({ start: 0, end: 999 })!);
      expect((await early).bytes.equals(bytes.subarray(0, 1000))).toBe(true);
      await second.write([bytes.subarray(1_200_000)]);
      await second.commit(digest);
      expect((await readBlob(subject.blobs, digest)).equals(bytes)).toBe(true);
      expect(await spool.list()).toEqual([]);
    });

    it('after a crash, a new spool on the same backing resumes the partial fill and verifies the whole blob', async () => {
      const { bytes, digest } = content(1024 * 1024 + 99);
      const crashed = await spool.open(digest);
      await crashed.record(origin(bytes.length));
      await crashed.write([bytes.subarray(0, 400_000)]);
      // The process dies here: no commit, abort or suspend.
      const restarted = await subject.reopen();
      expect((await restarted.list()).map((p) => [p.digest, p.bytes])).toEqual([[digest, 400_000]]);
      const resumed = await restarted.open(digest);
      expect(resumed.bytesWritten).toBe(400_000);
      await resumed.write([bytes.subarray(400_000)]);
      await resumed.commit(digest);
      expect((await readBlob(subject.blobs, digest)).equals(bytes)).toBe(true);
      await crashed.abort(); // only to close the dead process's file handle
    });

    it('resumed bytes count in the digest: a partial that is not a prefix of the blob fails verification', async () => {
      const { bytes, digest } = content(300_000);
      const first = await spool.open(digest);
      await first.write([Buffer.alloc(1000, 7)]); // not the blob's first bytes
      await first.suspend();
      const second = await spool.open(digest);
      await second.write([bytes.subarray(1000)]);
      await expect(second.commit(digest)).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
      expect(await subject.blobs.stat(digest)).toBeNull();
      expect(await spool.list()).toEqual([]);
    });

    it('a partial longer than its recorded size is dropped, not resumed', async () => {
      const { bytes, digest } = content(10_000);
      const first = await spool.open(digest);
      await first.record(origin(5_000));
      await first.write([bytes]);
      await first.suspend();
      const next = await spool.open(digest);
      expect(next.bytesWritten).toBe(0);
      await next.abort();
    });

    it('one writer per digest: a second open waits until the first settled', async () => {
      const { bytes, digest } = content(50_000);
      const first = await spool.open(digest);
      await first.write([bytes.subarray(0, 20_000)]);
      let opened = false;
      const second = spool.open(digest).then((writer) => {
        opened = true;
        return writer;
      });
      await tick(50);
      expect(opened).toBe(false);
      expect(await spool.list()).toEqual([]); // open: not a partial fill
      await first.suspend();
      const writer = await second;
      expect(writer.bytesWritten).toBe(20_000);
      await writer.write([bytes.subarray(20_000)]);
      await writer.commit(digest);
      expect((await readBlob(subject.blobs, digest)).equals(bytes)).toBe(true);
    });

    it('purgeIdle removes partial fills idle longer than the limit, never one being written', async () => {
      const idle = content(1000);
      const active = content(1000);
      const left = await spool.open(idle.digest);
      await left.write([idle.bytes.subarray(0, 500)]);
      await left.suspend();
      const writing = await spool.open(active.digest);
      await writing.write([active.bytes.subarray(0, 500)]);

      expect(await spool.purgeIdle(60_000)).toBe(0);
      expect(await spool.purgeIdle(60_000, Date.now() + 120_000)).toBe(1);
      expect(await spool.list()).toEqual([]);
      const next = await spool.open(idle.digest);
      expect(next.bytesWritten).toBe(0);
      await next.abort();
      await writing.write([active.bytes.subarray(500)]);
      await writing.commit(active.digest);
      expect(await subject.blobs.stat(active.digest)).toEqual({ digest: active.digest, size: 1000 });
    });
  });
}
