/**
 * FileBlobReader on its own: the contract the blob GET handler relies on — every byte of the range
 * in order, the destination ended only when all of them were written, and a file that turns out
 * shorter than promised rejects without ending the destination (the handler then cuts the
 * connection, so the client never sees a short body as complete).
 */
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferPool } from '../../src/storage/buffer-pool.js';
import { FileBlobReader } from '../../src/storage/file-blob-reader.js';
import { slowSink } from '../support/slow-sink.js';

let dir: string;
let file: string;
const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'stowage-reader-'));
  file = join(dir, 'blob');
  await writeFile(file, bytes);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('FileBlobReader', () => {
  it('writes exactly the range, through buffers smaller than it, and ends the destination', async () => {
    const pool = new BufferPool(64 * 1024, 4);
    const handle = await open(file, 'r');
    const reader = new FileBlobReader(handle, 1000, 250_000, pool);
    const { sink, received } = slowSink();
    await reader.pipeTo(sink);
    await new Promise((resolve) => sink.once('finish', resolve));
    expect(received().equals(bytes.subarray(1000, 251_000))).toBe(true);
    expect(handle.fd).toBe(-1); // closed once sent
    await reader.close();
  });

  it('rejects without ending the destination when the file is shorter than promised', async () => {
    const pool = new BufferPool(64 * 1024, 4);
    const reader = new FileBlobReader(await open(file, 'r'), 0, bytes.length + 10, pool);
    const { sink, received } = slowSink();
    await expect(reader.pipeTo(sink)).rejects.toThrow(/10 bytes short/);
    expect(sink.writableEnded).toBe(false);
    await new Promise((r) => setTimeout(r, 50));
    expect(received().length).toBe(bytes.length);
  });

  it('stops when the destination is destroyed mid-way', async () => {
    const pool = new BufferPool(16 * 1024, 4);
    const handle = await open(file, 'r');
    const reader = new FileBlobReader(handle, 0, bytes.length, pool);
    const { sink } = slowSink();
    setTimeout(() => sink.destroy(), 10);
    await expect(reader.pipeTo(sink)).rejects.toThrow(/closed/);
    expect(handle.fd).toBe(-1);
  });
});
