/**
 * Timing windows of BlobFill that black-box tests only hit by luck, pinned down with a real disk
 * store and hand-made upstream bodies.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { digestOf, type Digest } from '../../src/oci/digest.js';
import { RegistryError } from '../../src/oci/errors.js';
import { BlobFills } from '../../src/registry/blob-fills.js';
import { NOOP_REGISTRY_OBSERVER } from '../../src/registry/registry-observer.js';
import type { FillSpool, FillWriter } from '../../src/storage/fill-spool.js';
import { openStorage, type Storage } from '../../src/storage/open-storage.js';
import type { RepositoryKey } from '../../src/storage/repository-key.js';
import { UpstreamError } from '../../src/upstream/upstream.js';

/** `spool`, with each fill's origin recorded `delayMs` late: the window between the upstream's answer and the first write. */
function slowRecords(spool: FillSpool, delayMs: () => number): FillSpool {
  return {
    list: () => spool.list(),
    purgeIdle: (maxAgeMs, now) => spool.purgeIdle(maxAgeMs, now),
    open: async (digest) => {
      const writer = await spool.open(digest);
      const slow: FillWriter = {
        get bytesWritten() {
          return writer.bytesWritten;
        },
        resumedFrom: writer.resumedFrom,
        record: async (origin) => {
          await new Promise((resolve) => setTimeout(resolve, delayMs()));
          return writer.record(origin);
        },
        write: (chunks) => writer.write(chunks),
        commit: (expected) => writer.commit(expected),
        abort: (reason) => writer.abort(reason),
        suspend: (reason) => writer.suspend(reason),
        createTailReader: (range) => writer.createTailReader(range),
      };
      return slow;
    },
  };
}

const REQUESTER = { upstream: 'up', repository: 'proxied/up/app' as RepositoryKey };

describe('BlobFill timing windows', () => {
  let dir: string;
  let storage: Storage;
  let recordDelayMs = 0;
  let fills: BlobFills;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stowage-fill-'));
    storage = await openStorage({ driver: 'fs', path: dir, maxSize: 0, blobMaxBytes: 0 }, { evicted() {}, sizeChanged() {}, rebuildFailed() {} });
    recordDelayMs = 0;
    fills = new BlobFills({ spool: slowRecords(storage.spool, () => recordDelayMs), blobs: storage.blobs, observer: NOOP_REGISTRY_OBSERVER, logger: pino({ level: 'silent' }) });
  });
  afterEach(async () => {
    await fills.settled();
    await rm(dir, { recursive: true, force: true });
  });

  it('an upstream body that fails while the fill is being set up is not an unhandled error', async () => {
    recordDelayMs = 50;
    const bytes = randomBytes(1000);
    const digest = digestOf(bytes);
    const { fill } = fills.join(digest, REQUESTER, async () => {
      const body = new Readable({ read() {} });
      setTimeout(() => body.destroy(new UpstreamError('unavailable', 'cut')), 5);
      return { body, size: bytes.length, offset: 0 };
    });
    const failure = await fill.done.then(() => null, (e: unknown) => e);
    expect(failure).toBeInstanceOf(RegistryError);
    expect((failure as RegistryError).status).toBe(502);
  });

  it('a client arriving after a fill failed starts a new one instead of joining the dead one', async () => {
    const bytes = randomBytes(1000);
    const digest = digestOf(bytes);
    const offsets: number[] = [];
    const fetch = async (offset: number): Promise<{ body: Readable; size: number; offset: number }> => {
      offsets.push(offset);
      if (offsets.length === 1) {
        // Ten bytes, then a cut once the fill asks for more (so the ten were taken, and spooled).
        let reads = 0;
        const body: Readable = new Readable({
          read() {
            if (reads++ === 0) body.push(bytes.subarray(0, 10));
            else setImmediate(() => body.destroy(new UpstreamError('unavailable', 'cut')));
          },
        });
        return { body, size: bytes.length, offset };
      }
      return { body: Readable.from([bytes.subarray(offset)]), size: bytes.length, offset };
    };
    const first = fills.join(digest, REQUESTER, fetch).fill;
    await first.started;
    const reader = first.createReader({ start: 0, end: bytes.length - 1 })!;
    const readerFailure = await reader.pipeTo(new PassThrough().resume()).then(() => null, (e: unknown) => e);
    expect(readerFailure).toBeInstanceOf(RegistryError);
    // The reader saw the failure; the fill is still cleaning up, but must not be handed out again.
    const second = fills.join(digest, REQUESTER, fetch);
    expect(second.joined).toBe(false);
    expect((await second.fill.done).digest).toBe(digest as Digest);
    // ...and continues after the 10 bytes the failed one spooled.
    expect(offsets).toEqual([0, 10]);
    expect((await storage.blobs.readBytes(digest)).equals(bytes)).toBe(true);
  });

  it('readers of a mismatching blob never reach its end: the last byte waits for the digest check', async () => {
    const bytes = randomBytes(1000);
    const claimed = digestOf(randomBytes(8));
    const { fill } = fills.join(claimed, REQUESTER, async () => ({ body: Readable.from([bytes]), size: bytes.length, offset: 0 }));
    await fill.started;
    const reader = fill.createReader({ start: 0, end: bytes.length - 1 })!;
    let received = 0;
    const sink = new PassThrough().on('data', (chunk: Buffer) => (received += chunk.length));
    const error = await reader.pipeTo(sink).then(() => null, (e: unknown) => e);
    expect(received).toBeLessThan(bytes.length);
    expect(sink.writableEnded).toBe(false);
    expect(error).toBeInstanceOf(RegistryError);
    await expect(fill.done).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(await storage.blobs.stat(claimed)).toBeNull();
    expect(await storage.spool.list()).toEqual([]);
  });
});
