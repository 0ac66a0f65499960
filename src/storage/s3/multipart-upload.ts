import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit, { type LimitFunction } from 'p-limit';
import type { S3Bucket } from './s3-bucket.js';

/** A part's bytes, made afresh for each attempt (a stream cannot be sent twice). */
export type PartBody = () => Uint8Array | Readable;

/** Attempts per part: the SDK does not retry a streamed body, so this does. */
const PART_ATTEMPTS = 3;

/**
 * The size of part `partNumber` (1-based) when parts start at `base` bytes: it doubles every 1,000
 * parts, so the 10,000 parts S3 allows hold any blob (16 MiB parts: 16 GB in the first thousand,
 * terabytes in all) while small blobs keep small parts.
 */
export function partBytes(partNumber: number, base: number): number {
  return base * 2 ** Math.floor((partNumber - 1) / 1000);
}

/**
 * One multipart upload of an object that appears whole, or not at all, when `complete` succeeds:
 * until then nothing is visible under its key (which is why a writer that knows its digest can
 * upload straight to the blob's key). Parts go up as they are added, `concurrency` at a time; a
 * failed part is retried, and then fails the upload — the next `add` or `complete` throws.
 * Incomplete uploads a crash leaves are invisible and removed by the bucket's lifecycle rule
 * (docs/s3.md).
 */
export class MultipartUpload {
  private readonly etags: string[] = [];
  private readonly pending: Array<Promise<void>> = [];
  private failure: unknown = null;
  private readonly limit: LimitFunction;
  private aborted = false;

  private constructor(
    private readonly bucket: S3Bucket,
    readonly path: string,
    private readonly uploadId: string,
    concurrency: number,
  ) {
    this.limit = pLimit(concurrency);
  }

  static async start(bucket: S3Bucket, path: string, concurrency: number): Promise<MultipartUpload> {
    return new MultipartUpload(bucket, path, await bucket.createMultipart(path), concurrency);
  }

  get parts(): number {
    return this.pending.length;
  }

  /** Parts queued or uploading: a writer holding parts in memory waits while this is high. */
  get queued(): number {
    return this.limit.activeCount + this.limit.pendingCount;
  }

  /** Queues the next part. Throws if an earlier part failed. */
  add(length: number, body: PartBody): void {
    this.throwIfFailed();
    const partNumber = this.pending.length + 1;
    const upload = this.limit(() => this.send(partNumber, length, body)).catch((e: unknown) => {
      this.failure ??= e;
    });
    this.pending.push(upload);
  }

  /** Resolves when fewer than `max` parts are queued or uploading (memory-backed parts), or throws if one failed. */
  async whenBelow(max: number): Promise<void> {
    while (this.queued >= max && this.failure === null) await Promise.race(this.pending);
    this.throwIfFailed();
  }

  async complete(): Promise<void> {
    await Promise.all(this.pending);
    this.throwIfFailed();
    await this.bucket.completeMultipart(this.path, this.uploadId, this.etags);
  }

  /** Discards the parts. Idempotent; parts still uploading fail quietly. */
  async abort(): Promise<void> {
    if (this.aborted) return;
    this.aborted = true;
    this.limit.clearQueue();
    await Promise.all(this.pending);
    await this.bucket.abortMultipart(this.path, this.uploadId);
  }

  private async send(partNumber: number, length: number, body: PartBody): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      if (this.aborted || this.failure !== null) throw this.failure ?? new Error('multipart upload aborted');
      try {
        this.etags[partNumber - 1] = await this.bucket.uploadPart(this.path, this.uploadId, partNumber, body(), length);
        return;
      } catch (e) {
        if (attempt >= PART_ATTEMPTS || this.aborted) throw e;
        await sleep(200 * attempt);
      }
    }
  }

  private throwIfFailed(): void {
    if (this.failure !== null) throw this.failure;
  }
}
