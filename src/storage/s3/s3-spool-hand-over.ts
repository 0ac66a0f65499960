import { DigestHasher, digestAlgorithm, type Digest } from '../../oci/digest.js';
import { RegistryError } from '../../oci/errors.js';
import type { BlobInfo, BlobWriter } from '../blob-store.js';
import type { SpoolHandOver } from '../fill-spool.js';
import { FileUpload } from './file-upload.js';
import type { S3Bucket } from './s3-bucket.js';
import { S3_LAYOUT } from './s3-layout.js';

/**
 * The s3 driver's hand-over from the fill spool: a multipart upload straight to the blob's key
 * (invisible until completed), its parts read back from the spool file while the fill runs. The
 * writer hashes what is spooled; `commit` completes the upload only when the digest matched, and
 * aborts it otherwise. Writes never wait for the store: a slow store delays the commit (the
 * readers' last byte), not the upstream download.
 */
export function s3SpoolHandOver(bucket: S3Bucket): SpoolHandOver {
  return async (digest, spoolFile) => new UploadWhileSpooling(digest, new FileUpload(bucket, S3_LAYOUT.blob(digest), spoolFile));
}

class UploadWhileSpooling implements BlobWriter {
  bytesWritten = 0;
  private readonly hasher: DigestHasher;

  constructor(
    private readonly target: Digest,
    private readonly upload: FileUpload,
  ) {
    this.hasher = new DigestHasher(digestAlgorithm(target));
  }

  async write(chunks: readonly Uint8Array[]): Promise<void> {
    for (const chunk of chunks) {
      this.hasher.update(chunk);
      this.bytesWritten += chunk.byteLength;
    }
    await this.upload.grew(this.bytesWritten);
  }

  async commit(expected: Digest): Promise<BlobInfo> {
    const actual = this.hasher.digest();
    if (actual !== expected || expected !== this.target) {
      await this.abort();
      throw new RegistryError('DIGEST_INVALID', { expected, actual }, { message: 'content does not match digest' });
    }
    try {
      await this.upload.finish(this.bytesWritten);
    } catch (e) {
      await this.abort();
      throw e;
    }
    return { digest: expected, size: this.bytesWritten };
  }

  abort(): Promise<void> {
    return this.upload.abort();
  }
}
