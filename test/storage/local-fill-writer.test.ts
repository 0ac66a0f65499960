/**
 * LocalFillWriter's tail readers against a writer that runs ahead of them: bytes come from the
 * shared chunk while a reader keeps up and from the file once it lags, through pooled buffers that
 * are recycled all the while. Every reader must still get exactly the blob, and none its last byte
 * before the digest was verified.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Digest } from '../../src/oci/digest.js';
import { BufferPool } from '../../src/storage/buffer-pool.js';
import type { FillSpool } from '../../src/storage/fill-spool.js';
import { FsBlobStore } from '../../src/storage/fs-blob-store.js';
import { fsSpoolHandOver } from '../../src/storage/fs-spool-hand-over.js';
import { Layout } from '../../src/storage/layout.js';
import { LocalFillSpool } from '../../src/storage/local-fill-spool.js';
import { slowSink } from '../support/slow-sink.js';

let dir: string;
let spool: FillSpool;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stowage-writer-'));
  const layout = new Layout(dir);
  // Small pooled buffers, so the pool turns over many times during the blob.
  const pools = { chunks: new BufferPool(64 * 1024, 4), readBack: new BufferPool(16 * 1024, 4) };
  spool = await LocalFillSpool.open(layout.fills, dir, fsSpoolHandOver(new FsBlobStore(layout, pools.chunks)), pools);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const digestOf = (bytes: Buffer): Digest => `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest;

describe('LocalFillWriter tail readers', () => {
  it('slow readers get exact bytes while the writer recycles the chunks they were sent from', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 123);
    const writer = await spool.open(digestOf(bytes));
    const readers = [slowSink(1), slowSink(3), slowSink(0)].map(({ sink, received }, i) => {
      const range = i === 2 ? { start: 1000, end: 2_000_000 } : { start: 0, end: bytes.length - 1 };
      const finished = new Promise((resolve) => sink.once('finish', resolve));
      return { range, received, done: writer.createTailReader(range)!.pipeTo(sink).then(() => finished) };
    });
    for (let i = 0; i < bytes.length; i += 40_000) await writer.write([bytes.subarray(i, i + 40_000)]);
    await writer.commit(digestOf(bytes));
    for (const { range, received, done } of readers) {
      await done;
      expect(received().equals(bytes.subarray(range.start, range.end + 1))).toBe(true);
    }
  });

  it('a reader of the whole blob stops one byte short when the digest check fails', async () => {
    const bytes = randomBytes(200_000);
    const claimed = digestOf(randomBytes(8));
    const writer = await spool.open(claimed);
    const { sink, received } = slowSink(0);
    const failure = writer.createTailReader({ start: 0, end: bytes.length - 1 })!.pipeTo(sink).then(() => null, (e: unknown) => e);
    await writer.write([bytes]);
    await expect(writer.commit(claimed)).rejects.toMatchObject({ code: 'DIGEST_INVALID' });
    expect(await failure).toMatchObject({ code: 'DIGEST_INVALID' });
    expect(sink.writableEnded).toBe(false);
    await new Promise((r) => setTimeout(r, 20));
    expect(received().length).toBeLessThan(bytes.length);
  });
});
