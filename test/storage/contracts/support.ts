import { createHash, randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Digest, DigestAlgorithm } from '../../../src/oci/digest.js';
import type { BlobReader, BlobStore } from '../../../src/storage/blob-store.js';

/** Shared pieces of the storage contract suites. */

export const digestOf = (bytes: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): Digest =>
  `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}` as Digest;

/** Random bytes and their digest. */
export function content(size: number, algorithm: DigestAlgorithm = 'sha256'): { bytes: Buffer; digest: Digest } {
  const bytes = randomBytes(size);
  return { bytes, digest: digestOf(bytes, algorithm) };
}

/** Everything `reader` sends, and whether it ended its destination (a complete body) or failed. */
export async function drain(reader: BlobReader): Promise<{ bytes: Buffer; ended: boolean; error: unknown }> {
  const chunks: Buffer[] = [];
  let ended = false;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(Buffer.from(chunk));
      callback();
    },
    final(callback) {
      ended = true;
      callback();
    },
  });
  const error = await reader.pipeTo(sink).then(() => null, (e: unknown) => e);
  if (error === null) await new Promise((resolve) => (sink.writableFinished ? resolve(null) : sink.once('finish', resolve)));
  return { bytes: Buffer.concat(chunks), ended, error };
}

/** The whole blob as `store` serves it to a client. */
export async function readBlob(store: BlobStore, digest: Digest): Promise<Buffer> {
  const info = await store.stat(digest);
  if (!info) throw new Error(`${digest} is not stored`);
  const { bytes, error } = await drain(await store.openReader(digest, { start: 0, end: info.size - 1 }));
  if (error) throw error;
  return bytes;
}

export async function listAll<T>(items: AsyncIterable<T>): Promise<T[]> {
  const found: T[] = [];
  for await (const item of items) found.push(item);
  return found;
}

/** A clock the suite moves by hand. */
export class ManualClock {
  constructor(public time = Date.UTC(2030, 0, 1)) {}
  readonly now = (): number => this.time;
  advance(ms: number): void {
    this.time += ms;
  }
}

/** Polls `condition` until it holds (5 s at most: the machine may be busy). */
export async function eventually(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
