import { rm } from 'node:fs/promises';
import { digestAlgorithm, digestOf, isDigest, type Digest, type DigestAlgorithm } from '../../oci/digest.js';
import { RegistryError } from '../../oci/errors.js';
import type { BlobInfo, BlobReader, BlobStore, BlobWriter, ByteRange, StoredBlob } from '../blob-store.js';
import type { BufferPool } from '../buffer-pool.js';
import { FsBlobWriter } from '../fs-blob-writer.js';
import { FileUpload } from './file-upload.js';
import type { S3Bucket } from './s3-bucket.js';
import { S3_LAYOUT } from './s3-layout.js';

const BLOB_KEY = /^blobs\/(sha256|sha512)\/[0-9a-f]{2}\/([0-9a-f]+)$/;
const blobUnknown = (digest: Digest): RegistryError => new RegistryError('BLOB_UNKNOWN', { digest });

/**
 * Blobs as objects under `blobs/` (s3-layout.ts). An object appears whole or not at all: small
 * bytes in one PutObject, anything else as a multipart upload completed after the digest matched.
 * Nothing is cached here: the store is the truth for every replica sharing it.
 */
export class S3BlobStore implements BlobStore {
  constructor(
    private readonly bucket: S3Bucket,
    /** A local directory for writers' bytes before they are verified (the data directory's tmp/). */
    private readonly tmpDir: string,
    /** Pooled 1 MiB buffers that blob GETs read into and write from (s3-socket-reader.ts). */
    private readonly buffers: BufferPool,
  ) {}

  /** With `storage.s3.redirect`: a presigned URL on the public endpoint that serves the blob (Range included) without Stowage. */
  async directUrl(digest: Digest): Promise<string | null> {
    return this.bucket.settings.redirect ? this.bucket.presign(S3_LAYOUT.blob(digest)) : null;
  }

  async stat(digest: Digest): Promise<BlobInfo | null> {
    const head = await this.bucket.head(S3_LAYOUT.blob(digest));
    return head && { digest, size: head.size };
  }

  async openReader(digest: Digest, range: ByteRange): Promise<BlobReader> {
    // The GET is sent here, so a missing blob is a clean BLOB_UNKNOWN rather than an error mid-response.
    // An empty blob has no byte range to ask for (`bytes=0--1`): GET the whole (empty) object.
    const reader = await this.bucket.stream(S3_LAYOUT.blob(digest), range.end >= range.start ? range : undefined, this.buffers);
    if (!reader) throw blobUnknown(digest);
    return reader;
  }

  async readBytes(digest: Digest): Promise<Buffer> {
    const bytes = await this.bucket.getBytes(S3_LAYOUT.blob(digest));
    if (!bytes) throw blobUnknown(digest);
    return bytes;
  }

  async putBytes(digest: Digest, bytes: Uint8Array): Promise<void> {
    const actual = digestOf(bytes, digestAlgorithm(digest));
    if (actual !== digest) throw new RegistryError('DIGEST_INVALID', { expected: digest, actual }, { message: 'content does not match digest' });
    await this.bucket.put(S3_LAYOUT.blob(digest), bytes);
  }

  /**
   * Bytes of unknown digest go to a local temp file, hashed as they arrive; `commit` uploads the
   * file to the blob's key only once the digest matched, so a mismatch sends nothing to the store.
   * (Fills do not come through here: s3-spool-hand-over.ts uploads while the fill runs.)
   */
  createWriter(algorithm: DigestAlgorithm): Promise<BlobWriter> {
    return FsBlobWriter.create(this.tmpDir, algorithm, async (file, digest, size) => {
      try {
        await new FileUpload(this.bucket, S3_LAYOUT.blob(digest), file).finish(size);
      } finally {
        await rm(file, { force: true });
      }
    });
  }

  async delete(digest: Digest): Promise<void> {
    await this.bucket.delete(S3_LAYOUT.blob(digest));
  }

  async *list(): AsyncIterable<StoredBlob> {
    for await (const object of this.bucket.list(S3_LAYOUT.blobs)) {
      const match = BLOB_KEY.exec(object.path);
      const digest = match ? `${match[1]}:${match[2]}` : '';
      // The store's own clock: when the blob was stored, the last use known after a restart.
      if (isDigest(digest)) yield { digest, size: object.size, lastUsed: object.lastModified };
    }
  }
}
