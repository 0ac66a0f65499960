import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { digestAlgorithm, digestHex, digestOf, isDigest, type Digest, type DigestAlgorithm } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import { isNotFound, writeFileAtomic } from './atomic-file.js';
import type { BlobInfo, BlobReader, BlobStore, BlobWriter, ByteRange, StoredBlob } from './blob-store.js';
import type { BufferPool } from './buffer-pool.js';
import { FileBlobReader } from './file-blob-reader.js';
import { FsBlobWriter } from './fs-blob-writer.js';
import type { Layout } from './layout.js';

const LIST_STAT_BATCH = 64;

const blobUnknown = (digest: Digest): RegistryError => new RegistryError('BLOB_UNKNOWN', { digest });

/**
 * Blobs as files under `blobs/` (layout.ts). Published only by rename from the same filesystem, so
 * a blob appears whole or not at all. `publishFile` is the fs driver's own hand-over: the fill spool
 * and the upload sessions verify their bytes as they arrive and then move the file into place
 * instead of copying it.
 */
export class FsBlobStore implements BlobStore {
  constructor(
    private readonly layout: Layout,
    /** Pooled 1 MiB buffers that reads for responses go through (see fs-storage.ts). */
    private readonly buffers: BufferPool,
  ) {}

  async stat(digest: Digest): Promise<BlobInfo | null> {
    try {
      const s = await stat(this.layout.blob(digest));
      return { digest, size: s.size };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async openReader(digest: Digest, range: ByteRange): Promise<BlobReader> {
    // Open first so a missing blob is a clean BLOB_UNKNOWN rather than an error mid-response.
    let handle;
    try {
      handle = await open(this.layout.blob(digest), 'r');
    } catch (e) {
      if (isNotFound(e)) throw blobUnknown(digest);
      throw e;
    }
    return new FileBlobReader(handle, range.start, range.end - range.start + 1, this.buffers);
  }

  async readBytes(digest: Digest): Promise<Buffer> {
    try {
      return await readFile(this.layout.blob(digest));
    } catch (e) {
      if (isNotFound(e)) throw blobUnknown(digest);
      throw e;
    }
  }

  async putBytes(digest: Digest, bytes: Uint8Array): Promise<void> {
    const actual = digestOf(bytes, digestAlgorithm(digest));
    if (actual !== digest) throw new RegistryError('DIGEST_INVALID', { expected: digest, actual }, { message: 'content does not match digest' });
    await writeFileAtomic(this.layout.blob(digest), bytes, this.layout.tmp);
  }

  createWriter(algorithm: DigestAlgorithm): Promise<BlobWriter> {
    return FsBlobWriter.create(this.layout.tmp, algorithm, (path, digest) => this.publishFile(path, digest));
  }

  /**
   * Moves a file on the data directory's filesystem into place as `digest`. The caller has hashed
   * its bytes to `digest` (they are never read again here). A blob already stored has the same
   * bytes, so replacing it is harmless, and readers holding it open keep their file.
   */
  async publishFile(path: string, digest: Digest): Promise<void> {
    const target = this.layout.blob(digest);
    try {
      await rename(path, target);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      await mkdir(dirname(target), { recursive: true });
      await rename(path, target);
    }
  }

  async delete(digest: Digest): Promise<void> {
    // unlink, not rm: one system call instead of rm's lstat first (GC deletes 50,000 at a time).
    await unlink(this.layout.blob(digest)).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
  }

  /** Files are sent by Stowage. */
  async directUrl(): Promise<null> {
    return null;
  }

  async *list(): AsyncIterable<StoredBlob> {
    for (const algorithm of await readdirOrEmpty(this.layout.blobs)) {
      for (const prefix of await readdirOrEmpty(join(this.layout.blobs, algorithm))) {
        const dir = join(this.layout.blobs, algorithm, prefix);
        const digests = (await readdirOrEmpty(dir)).map((hex) => `${algorithm}:${hex}`).filter(isDigest);
        // A batch of stats in flight at once, not one: 100,000 blobs are listed in ~0.7 s instead
        // of ~4.5 s, with a quarter of the CPU (bench/, startup figure). Order stays the same.
        for (let i = 0; i < digests.length; i += LIST_STAT_BATCH) {
          const batch = digests.slice(i, i + LIST_STAT_BATCH);
          const stats = await Promise.all(batch.map((digest) => stat(join(dir, digestHex(digest))).catch(() => null)));
          for (const [j, s] of stats.entries()) {
            if (s) yield { digest: batch[j]!, size: s.size, lastUsed: s.mtimeMs };
          }
        }
      }
    }
  }
}

export async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if (isNotFound(e)) return [];
    throw e;
  }
}
