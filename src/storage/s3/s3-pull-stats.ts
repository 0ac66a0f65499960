import { randomUUID } from 'node:crypto';
import { addPulls, BatchedPullStats, mergePulls, type PullBatchEntry, type PullCount, type RepositoryPulls } from '../pull-stats.js';
import type { RepositoryKey } from '../repository-key.js';
import { inBatches } from '../keyed-queue.js';
import type { S3Bucket } from './s3-bucket.js';
import { S3_LAYOUT } from './s3-layout.js';

const WRITER_FILE = /^(.*)\/_pulls-[0-9a-f-]+\.json$/;
/** How long totals read from the store are reused: the stats page polls, the counts move slowly. */
const READ_CACHE_MS = 5_000;

/**
 * Pull counts in the bucket, `pulls/<repository key>/_pulls-<writer>.json`: one object per
 * repository and per process that counted pulls of it, holding that process's running totals.
 * Each object has one writer, so replicas sharing the bucket never overwrite each other's counts
 * (S3 has no compare-and-swap here); readers add the objects up. A restarted process is a new
 * writer: its counts start from zero next to the old object, which stays (a few bytes per
 * repository and process lifetime).
 */
export class S3PullStats extends BatchedPullStats {
  private readonly writer = randomUUID();
  /** This process's own counts, as last written. */
  private readonly own = new Map<RepositoryKey, RepositoryPulls>();
  private read: { at: number; all: Promise<Map<RepositoryKey, RepositoryPulls>> } | null = null;

  constructor(private readonly bucket: S3Bucket) {
    super();
  }

  protected async apply(batch: readonly PullBatchEntry[]): Promise<void> {
    for (const [key, entries] of BatchedPullStats.byRepository(batch)) {
      const merged = mergePulls(this.own.get(key) ?? null, entries);
      await this.bucket.put(`${S3_LAYOUT.pulls}${key}/_pulls-${this.writer}.json`, JSON.stringify(merged));
      this.own.set(key, merged);
    }
    this.read = null;
  }

  protected all(): Promise<Map<RepositoryKey, RepositoryPulls>> {
    if (!this.read || performance.now() - this.read.at > READ_CACHE_MS) {
      const all = this.load();
      this.read = { at: performance.now(), all };
      all.catch(() => (this.read = null));
    }
    return this.read.all;
  }

  private async load(): Promise<Map<RepositoryKey, RepositoryPulls>> {
    const objects: Array<{ key: RepositoryKey; path: string }> = [];
    for await (const object of this.bucket.list(S3_LAYOUT.pulls)) {
      const match = WRITER_FILE.exec(object.path.slice(S3_LAYOUT.pulls.length));
      if (match) objects.push({ key: match[1] as RepositoryKey, path: object.path });
    }
    const records = await inBatches(objects, async ({ path }) => {
      const bytes = await this.bucket.getBytes(path);
      return bytes && (JSON.parse(bytes.toString('utf8')) as RepositoryPulls);
    }, 64);
    const found = new Map<RepositoryKey, RepositoryPulls>();
    records.forEach((record, i) => {
      if (record) found.set(objects[i]!.key, sumPulls(found.get(objects[i]!.key), record));
    });
    return found;
  }
}

/** Two writers' counts of one repository, added up. */
function sumPulls(a: RepositoryPulls | undefined, b: RepositoryPulls): RepositoryPulls {
  if (!a) return b;
  const sum = (x: Record<string, PullCount>, y: Record<string, PullCount>): Record<string, PullCount> => {
    const out = { ...x };
    for (const [name, count] of Object.entries(y)) out[name] = addPulls(out[name], count.pulls, count.lastPulledAt);
    return out;
  };
  return { ...addPulls(a, b.pulls, b.lastPulledAt), tags: sum(a.tags, b.tags), digests: sum(a.digests, b.digests) };
}
