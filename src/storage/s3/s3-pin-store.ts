import { createHash } from 'node:crypto';
import type { PinRecord, PinStore } from '../pin-store.js';
import type { RepositoryKey } from '../repository-key.js';
import { inBatches } from '../keyed-queue.js';
import type { S3Bucket } from './s3-bucket.js';
import { S3_LAYOUT } from './s3-layout.js';

/**
 * Pins in the bucket, one small object per pin (`pins/<sha256 of repository and reference>.json`):
 * replicas adding or removing different pins never overwrite each other (no compare-and-swap in
 * S3), and a pin is named by what it pins, so pinning twice writes the same key.
 */
export class S3PinStore implements PinStore {
  constructor(private readonly bucket: S3Bucket) {}

  async list(): Promise<PinRecord[]> {
    const paths: string[] = [];
    for await (const object of this.bucket.list(S3_LAYOUT.pins)) paths.push(object.path);
    const records = await inBatches(paths, async (path) => {
      const bytes = await this.bucket.getBytes(path);
      return bytes && (JSON.parse(bytes.toString('utf8')) as PinRecord);
    }, 64);
    return records.filter((r): r is PinRecord => r !== null).sort((a, b) => a.pinnedAt - b.pinnedAt);
  }

  async add(record: PinRecord): Promise<void> {
    const path = pinPath(record.repository, record.reference);
    if (await this.bucket.head(path)) return; // the first record stays
    await this.bucket.put(path, JSON.stringify(record));
  }

  async remove(repository: RepositoryKey, reference: string): Promise<boolean> {
    const path = pinPath(repository, reference);
    if (!(await this.bucket.head(path))) return false;
    await this.bucket.delete(path);
    return true;
  }
}

const pinPath = (repository: RepositoryKey, reference: string): string =>
  `${S3_LAYOUT.pins}${createHash('sha256').update(`${repository}\n${reference}`).digest('hex')}.json`;
