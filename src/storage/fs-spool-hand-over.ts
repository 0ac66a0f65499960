import { DigestHasher, digestAlgorithm, type Digest, type DigestAlgorithm } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import type { BlobInfo, BlobWriter } from './blob-store.js';
import type { SpoolHandOver } from './fill-spool.js';
import type { FsBlobStore } from './fs-blob-store.js';

/**
 * The fs driver's hand-over from the fill spool: the spool file already is the blob-to-be, so the
 * writer only hashes what is spooled and, once the digest matched, renames the file into the blob
 * layout. One write of the bytes, not two; warm and cold GETs cost what they did before the spool.
 */
export function fsSpoolHandOver(blobs: FsBlobStore): SpoolHandOver {
  return async (digest, spoolFile) => new PublishOnCommit(digestAlgorithm(digest), spoolFile, blobs);
}

class PublishOnCommit implements BlobWriter {
  bytesWritten = 0;
  private readonly hasher: DigestHasher;

  constructor(
    algorithm: DigestAlgorithm,
    private readonly spoolFile: string,
    private readonly blobs: FsBlobStore,
  ) {
    this.hasher = new DigestHasher(algorithm);
  }

  async write(chunks: readonly Uint8Array[]): Promise<void> {
    for (const chunk of chunks) {
      this.hasher.update(chunk);
      this.bytesWritten += chunk.byteLength;
    }
  }

  async commit(expected: Digest): Promise<BlobInfo> {
    const actual = this.hasher.digest();
    if (actual !== expected) throw new RegistryError('DIGEST_INVALID', { expected, actual }, { message: 'content does not match digest' });
    await this.blobs.publishFile(this.spoolFile, expected);
    return { digest: expected, size: this.bytesWritten };
  }

  async abort(): Promise<void> {}
}
