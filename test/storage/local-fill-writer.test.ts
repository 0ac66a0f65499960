/**
 * LocalFillWriter's tail readers against a writer that runs ahead of them: bytes come from the
 * shared chunks while a reader keeps up or is a few chunks behind, and from the file once it lags
 * further, through pooled buffers that are recycled all the while. Every reader must still get
 * exactly the blob, and none its last byte before the digest was verified.
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

/** Counts the buffers handed out: a reader that reads the file back takes them from `readBack`. */
class CountingPool extends BufferPool {
  acquired = 0;
  override acquire(): Buffer {
    this.acquired++;
    return super.acquire();
  }
}

const CHUNK = 64 * 1024;
let dir: string;
let spool: FillSpool;
let readBack: CountingPool;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stowage-writer-'));
  const layout = new Layout(dir);
  // Small pooled buffers, so the pool turns over many times during the blob.
  readBack = new CountingPool(16 * 1024, 4);
  const pools = { chunks: new BufferPool(CHUNK, 4), readBack };
  spool = await LocalFillSpool.open(layout.fills, dir, fsSpoolHandOver(new FsBlobStore(layout, pools.chunks)), pools);
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function eventually(condition: () => boolean): Promise<void> {
  // Up to 10 s: the machine is shared, and nothing here is about time.
  for (let i = 0; i < 5000 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 2));
  expect(condition()).toBe(true);
}

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

  it.each([1, 2, 4, 6])('a reader that starts %i chunks behind the writer sends from memory what is still kept, and reads back only the rest', async (lag) => {
    const bytes = randomBytes(12 * CHUNK + 77);
    const writer = await spool.open(digestOf(bytes));
    // Created before the first write, so the window keeps the chunks it has not sent (at most 4).
    const reader = writer.createTailReader({ start: 0, end: bytes.length - 1 })!;
    const { sink, received } = slowSink(0);
    let offset = 0;
    const write = async (): Promise<void> => {
      await writer.write([bytes.subarray(offset, offset + CHUNK)]);
      offset = Math.min(offset + CHUNK, bytes.length);
    };
    for (let i = 0; i < lag; i++) await write();
    const piped = reader.pipeTo(sink).then(() => new Promise((resolve) => sink.once('finish', resolve)));
    // From here on the writer waits for the reader, so it never falls further behind.
    while (offset < bytes.length) {
      await eventually(() => received().length === offset - 1);
      await write();
    }
    await writer.commit(digestOf(bytes));
    await piped;
    expect(received().equals(bytes)).toBe(true);
    // The sink copies each chunk only when its write completes: a chunk back in the pool and
    // overwritten while the sink still held it would have shown above.
    if (lag <= 4) expect(readBack.acquired).toBe(0);
    else expect(readBack.acquired).toBeGreaterThan(0);
  });

  it('chunks stay kept for the reader furthest behind while another keeps up, and both get exact bytes', async () => {
    const bytes = randomBytes(10 * CHUNK + 5);
    const writer = await spool.open(digestOf(bytes));
    const range = { start: 0, end: bytes.length - 1 };
    const [ahead, behind] = [slowSink(0), slowSink(0)];
    const [first, second] = [writer.createTailReader(range)!, writer.createTailReader(range)!];
    const finished = (sink: typeof ahead.sink): Promise<unknown> => new Promise((resolve) => sink.once('finish', resolve));
    const done = [first.pipeTo(ahead.sink).then(() => finished(ahead.sink))];
    let offset = 0;
    for (; offset < 3 * CHUNK; offset += CHUNK) await writer.write([bytes.subarray(offset, offset + CHUNK)]);
    done.push(second.pipeTo(behind.sink).then(() => finished(behind.sink)));
    for (; offset < bytes.length; offset += CHUNK) {
      await eventually(() => behind.received().length === offset - 1);
      await writer.write([bytes.subarray(offset, offset + CHUNK)]);
    }
    await writer.commit(digestOf(bytes));
    await Promise.all(done);
    expect(ahead.received().equals(bytes)).toBe(true);
    expect(behind.received().equals(bytes)).toBe(true);
    expect(readBack.acquired).toBe(0);
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
