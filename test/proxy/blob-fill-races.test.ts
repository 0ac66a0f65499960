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
import { digestOf, type Digest, type DigestAlgorithm } from '../../src/oci/digest.js';
import { RegistryError } from '../../src/oci/errors.js';
import { BlobFills } from '../../src/registry/blob-fills.js';
import { NOOP_REGISTRY_OBSERVER } from '../../src/registry/registry-observer.js';
import type { BlobWriter } from '../../src/storage/blob-store.js';
import { FsBlobStore } from '../../src/storage/fs-blob-store.js';
import { Layout } from '../../src/storage/layout.js';
import { UpstreamError } from '../../src/upstream/upstream.js';

class SlowWriterStore extends FsBlobStore {
  writerDelayMs = 0;
  override async createWriter(algorithm: DigestAlgorithm): Promise<BlobWriter> {
    await new Promise((resolve) => setTimeout(resolve, this.writerDelayMs));
    return super.createWriter(algorithm);
  }
}

describe('BlobFill timing windows', () => {
  let dir: string;
  let store: SlowWriterStore;
  let fills: BlobFills;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stowage-fill-'));
    const layout = new Layout(dir);
    await FsBlobStore.open(layout);
    store = new SlowWriterStore(layout);
    fills = new BlobFills({ blobs: store, observer: NOOP_REGISTRY_OBSERVER, logger: pino({ level: 'silent' }) });
  });
  afterEach(async () => {
    await fills.settled();
    await rm(dir, { recursive: true, force: true });
  });

  it('an upstream body that fails while the temp file is being created is not an unhandled error', async () => {
    store.writerDelayMs = 50;
    const bytes = randomBytes(1000);
    const digest = digestOf(bytes);
    const body = new Readable({ read() {} });
    setTimeout(() => body.destroy(new UpstreamError('unavailable', 'cut')), 5);
    const { fill } = fills.join(digest, 'up', async () => ({ body, size: bytes.length, offset: 0 }));
    const failure = await fill.done.then(() => null, (e: unknown) => e);
    expect(failure).toBeInstanceOf(RegistryError);
    expect((failure as RegistryError).status).toBe(502);
  });

  it('a client arriving after a fill failed starts a new one instead of joining the dead one', async () => {
    const bytes = randomBytes(1000);
    const digest = digestOf(bytes);
    let calls = 0;
    const fetch = async (): Promise<{ body: Readable; size: number; offset: number }> => {
      calls++;
      if (calls === 1) {
        const body = new Readable({ read() {} });
        body.push(bytes.subarray(0, 10));
        setTimeout(() => body.destroy(new UpstreamError('unavailable', 'cut')), 5);
        return { body, size: bytes.length, offset: 0 };
      }
      return { body: Readable.from([bytes]), size: bytes.length, offset: 0 };
    };
    const first = fills.join(digest, 'up', fetch).fill;
    await first.started;
    const reader = first.createReader({ start: 0, end: bytes.length - 1 })!;
    const readerFailure = await reader.pipeTo(new PassThrough().resume()).then(() => null, (e: unknown) => e);
    expect(readerFailure).toBeInstanceOf(RegistryError);
    // The reader saw the failure; the fill is still cleaning up, but must not be handed out again.
    const second = fills.join(digest, 'up', fetch);
    expect(second.joined).toBe(false);
    expect((await second.fill.done).digest).toBe(digest as Digest);
    expect(calls).toBe(2);
  });

  it('readers of a mismatching blob never reach its end: the last byte waits for the digest check', async () => {
    const bytes = randomBytes(1000);
    const claimed = digestOf(randomBytes(8));
    const { fill } = fills.join(claimed, 'up', async () => ({ body: Readable.from([bytes]), size: bytes.length, offset: 0 }));
    await fill.started;
    const reader = fill.createReader({ start: 0, end: bytes.length - 1 })!;
    let received = 0;
    const sink = new PassThrough().on('data', (chunk: Buffer) => (received += chunk.length));
    const error = await reader.pipeTo(sink).then(() => null, (e: unknown) => e);
    expect(received).toBeLessThan(bytes.length);
    expect(sink.writableEnded).toBe(false);
    expect(error).toBeInstanceOf(RegistryError);
    await expect(fill.done).rejects.toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(await store.stat(claimed)).toBeNull();
  });
});
