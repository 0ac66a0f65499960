/**
 * Blob bodies larger than the reader's buffers: stored blobs are sent through pooled 1 MiB buffers
 * that go back to the pool on the socket's write callback. These tests would see it if a buffer
 * were reused while a slow client's socket still held it (wrong bytes), or if a client that leaves
 * kept the blob marked as being read (never evictable). Short files: test/storage/file-blob-reader.
 */
import { get, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Digest } from '../../src/oci/digest.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { bytesOf, RegistryClient, sha256 } from './registry-client.js';

const MiB = 1024 * 1024;
let stowage: RunningStowage;
let client: RegistryClient;
const blobs = Array.from({ length: 6 }, (_, i) => bytesOf(`bodies/${i}`, 3.5 * MiB + 17 * i));
const digests: string[] = [];

beforeAll(async () => {
  stowage = await startStowage();
  client = new RegistryClient(stowage.url);
  for (const blob of blobs) digests.push(await client.pushBlob('bodies/repo', blob));
});
afterAll(async () => {
  await client.close();
  await stowage.close();
});

/** GET through node:http; `slow` pauses the response after every chunk so the server's socket fills up. */
function download(path: string, options: { slow?: boolean; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer; complete: boolean }> {
  return new Promise((resolve, reject) => {
    get(`${stowage.url}${path}`, { agent: false, headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (options.slow) {
          res.pause();
          setTimeout(() => res.resume(), 3);
        }
      });
      const done = (): void => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), complete: res.complete });
      res.on('end', done);
      res.on('error', done); // a cut connection: what was received, complete = false
    }).on('error', reject);
  });
}

const blobPath = (i: number): string => `/v2/bodies/repo/blobs/${digests[i]}`;

describe('blob bodies through pooled buffers', () => {
  it('twelve concurrent GETs of six multi-MiB blobs, half of them read slowly, all get exactly their bytes', async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => download(blobPath(i % 6), { slow: i % 2 === 0 }).then((r) => ({ i: i % 6, ...r }))),
    );
    for (const { i, status, body, complete } of results) {
      expect(status).toBe(200);
      expect(complete).toBe(true);
      expect(body.length).toBe(blobs[i]!.length);
      expect(sha256(body)).toBe(digests[i]);
    }
  });

  it('a range that spans buffer boundaries is exact, and so is a suffix range', async () => {
    const start = MiB - 5;
    const end = 2 * MiB + 9;
    const ranged = await download(blobPath(1), { headers: { Range: `bytes=${start}-${end}` } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers['content-range']).toBe(`bytes ${start}-${end}/${blobs[1]!.length}`);
    expect(ranged.body.equals(blobs[1]!.subarray(start, end + 1))).toBe(true);
    const suffix = await download(blobPath(2), { headers: { Range: 'bytes=-1500000' } });
    expect(suffix.status).toBe(206);
    expect(suffix.body.equals(blobs[2]!.subarray(blobs[2]!.length - 1_500_000))).toBe(true);
  });

  it('a client that leaves mid-body releases the blob: it is no longer marked as being read', async () => {
    const digest = digests[3] as Digest;
    await new Promise<void>((resolve, reject) => {
      const req = get(`${stowage.url}${blobPath(3)}`, { agent: false }, (res) => {
        res.once('data', () => {
          expect(stowage.app.storage.readers.isReading(digest)).toBe(true);
          req.destroy();
          resolve();
        });
      });
      req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNRESET' ? undefined : reject(e)));
    });
    const deadline = Date.now() + 5_000;
    while (stowage.app.storage.readers.isReading(digest) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(stowage.app.storage.readers.isReading(digest)).toBe(false);
    // And the server goes on serving the same blob.
    const again = await download(blobPath(3));
    expect(sha256(again.body)).toBe(digests[3]);
  });
});
