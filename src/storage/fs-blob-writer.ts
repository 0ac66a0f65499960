import { randomBytes } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { DigestHasher, type Digest, type DigestAlgorithm } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import type { BlobInfo, BlobWriter } from './blob-store.js';

type State = 'writing' | 'committed' | 'aborted';

/**
 * A temp file under `tmp/`, hashed as it is written, handed to `publish` once the digest matched:
 * FsBlobStore's writer (publish = rename into place) and S3BlobStore's (publish = upload). (Fills do not come through here: the fill spool writes its own
 * file, which readers follow, and hands it to FsBlobStore.publishFile.)
 */
export class FsBlobWriter implements BlobWriter {
  bytesWritten = 0;
  private state: State = 'writing';
  private readonly hasher: DigestHasher;

  private constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
    algorithm: DigestAlgorithm,
    private readonly publish: (path: string, digest: Digest, size: number) => Promise<void>,
  ) {
    this.hasher = new DigestHasher(algorithm);
  }

  static async create(tmpDir: string, algorithm: DigestAlgorithm, publish: (path: string, digest: Digest, size: number) => Promise<void>): Promise<FsBlobWriter> {
    const path = join(tmpDir, `${randomBytes(16).toString('hex')}.blob`);
    return new FsBlobWriter(await open(path, 'wx'), path, algorithm, publish);
  }

  async write(chunks: readonly Uint8Array[]): Promise<void> {
    if (this.state !== 'writing') throw new Error(`blob writer is ${this.state}`);
    for (const chunk of chunks) {
      this.hasher.update(chunk);
      let offset = 0;
      while (offset < chunk.byteLength) {
        const { bytesWritten } = await this.handle.write(chunk, offset, chunk.byteLength - offset, this.bytesWritten);
        offset += bytesWritten;
        this.bytesWritten += bytesWritten;
      }
    }
  }

  async commit(expected: Digest): Promise<BlobInfo> {
    if (this.state !== 'writing') throw new Error(`blob writer is ${this.state}`);
    const actual = this.hasher.digest();
    if (actual !== expected) {
      await this.abort();
      throw new RegistryError('DIGEST_INVALID', { expected, actual }, { message: 'content does not match digest' });
    }
    this.state = 'committed';
    await this.handle.close();
    try {
      await this.publish(this.path, expected, this.bytesWritten);
    } catch (e) {
      await rm(this.path, { force: true });
      throw e;
    }
    return { digest: expected, size: this.bytesWritten };
  }

  async abort(): Promise<void> {
    if (this.state !== 'writing') return;
    this.state = 'aborted';
    await this.handle.close().catch(() => {});
    await rm(this.path, { force: true });
  }
}
