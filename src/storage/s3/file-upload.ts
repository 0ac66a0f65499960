import { createReadStream } from 'node:fs';
import { MultipartUpload, partBytes } from './multipart-upload.js';
import type { S3Bucket } from './s3-bucket.js';

/** First parts of a file upload: big enough for few requests, small enough that a mid-size layer overlaps with its download. */
const PART_BYTES = 16 * 1024 * 1024;
/** Parts uploading at once per file. They are read from the file, so queued parts cost no memory. */
const CONCURRENCY = 4;
const READ_BUFFER_BYTES = 1024 * 1024;

/**
 * Uploads a local file, possibly still growing, to one key. Parts are read back from the file (the
 * page cache, usually), never held in memory, so a fill of any size costs the same few buffers;
 * full parts start as soon as their bytes are in the file (`grew`), the rest at `finish`. A file
 * smaller than one part is one PutObject at `finish`. Nothing is visible under the key before
 * `finish` resolves.
 */
export class FileUpload {
  private upload: Promise<MultipartUpload> | null = null;
  /** Bytes of the file handed to parts so far. */
  private queuedUpTo = 0;

  constructor(
    private readonly bucket: S3Bucket,
    private readonly path: string,
    private readonly file: string,
  ) {}

  /** The file now holds `size` bytes: queues the parts they fill. Throws if a part failed. */
  async grew(size: number): Promise<void> {
    for (;;) {
      const upload = await this.upload;
      const length = partBytes((upload?.parts ?? 0) + 1, PART_BYTES);
      if (size - this.queuedUpTo < length) return;
      await this.queue(length);
    }
  }

  /** The file is complete at `size` bytes: uploads what is left and makes the object visible. */
  async finish(size: number): Promise<void> {
    await this.grew(size);
    if (this.upload === null) {
      await this.bucket.put(this.path, size === 0 ? Buffer.alloc(0) : this.read(0, size), size);
      return;
    }
    if (size > this.queuedUpTo) await this.queue(size - this.queuedUpTo);
    await (await this.upload).complete();
  }

  /** Discards what was uploaded. Idempotent. */
  async abort(): Promise<void> {
    const upload = await this.upload?.catch(() => null);
    await upload?.abort();
  }

  private async queue(length: number): Promise<void> {
    this.upload ??= MultipartUpload.start(this.bucket, this.path, CONCURRENCY);
    const start = this.queuedUpTo;
    this.queuedUpTo += length;
    (await this.upload).add(length, () => this.read(start, start + length));
  }

  private read(start: number, end: number) {
    return createReadStream(this.file, { start, end: end - 1, highWaterMark: READ_BUFFER_BYTES });
  }
}
