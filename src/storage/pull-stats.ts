import type { Digest } from '../oci/digest.js';
import type { Tag } from '../oci/reference.js';
import type { RepositoryKey } from './repository-key.js';

/** How often something was pulled, and when last (epoch ms). */
export interface PullCount {
  pulls: number;
  lastPulledAt: number;
}

/**
 * Pulls of one manifest in one repository, already summed by the caller: `pulls` GETs, the latest
 * at `lastPulledAt`. `tag` is set when the client asked by tag (the digest is what it resolved to).
 */
export interface PullBatchEntry extends PullCount {
  repository: RepositoryKey;
  digest: Digest;
  tag?: Tag;
}

/** One repository's pulls: in total, by the tags clients asked for, and by manifest digest. */
export interface RepositoryPulls extends PullCount {
  tags: Record<string, PullCount>;
  digests: Record<string, PullCount>;
}

/**
 * Pull counts and last-pulled times, shared by every replica that shares the store. Written in
 * batches (registry/pull-recorder.ts sums the pulls of a few seconds), never on the request path.
 * Counts only grow; a last-pulled time only moves forward, so batches from several replicas may
 * arrive in any order. Implementations: disk (FsPullStats); contract: test/storage/contracts/.
 */
export interface PullStatsStore {
  record(batch: readonly PullBatchEntry[]): Promise<void>;
  /** Totals of every repository ever pulled. */
  totals(): Promise<Map<RepositoryKey, PullCount>>;
  /** One repository by tag and digest; null when it was never pulled. */
  repository(key: RepositoryKey): Promise<RepositoryPulls | null>;
}

/** `count` with `pulls` more pulls, the latest at `at`. */
export function addPulls(count: PullCount | undefined, pulls: number, at: number): PullCount {
  return { pulls: (count?.pulls ?? 0) + pulls, lastPulledAt: Math.max(count?.lastPulledAt ?? 0, at) };
}

/** `record` with the batch entries of its repository merged in. */
export function mergePulls(record: RepositoryPulls | null, entries: readonly PullBatchEntry[]): RepositoryPulls {
  const merged: RepositoryPulls = {
    pulls: record?.pulls ?? 0,
    lastPulledAt: record?.lastPulledAt ?? 0,
    tags: { ...record?.tags },
    digests: { ...record?.digests },
  };
  for (const entry of entries) {
    Object.assign(merged, addPulls(merged, entry.pulls, entry.lastPulledAt));
    merged.digests[entry.digest] = addPulls(merged.digests[entry.digest], entry.pulls, entry.lastPulledAt);
    if (entry.tag !== undefined) merged.tags[entry.tag] = addPulls(merged.tags[entry.tag], entry.pulls, entry.lastPulledAt);
  }
  return merged;
}

/**
 * What the PullStatsStore implementations share: batches applied one at a time (two flushes never
 * lose each other's counts), and every answer taken from the whole records `all()` yields.
 */
export abstract class BatchedPullStats implements PullStatsStore {
  private queue: Promise<void> = Promise.resolve();

  record(batch: readonly PullBatchEntry[]): Promise<void> {
    const run = this.queue.then(() => this.apply(batch));
    this.queue = run.catch(() => {});
    return run;
  }

  async totals(): Promise<Map<RepositoryKey, PullCount>> {
    const all = await this.all();
    return new Map([...all].map(([key, r]) => [key, { pulls: r.pulls, lastPulledAt: r.lastPulledAt }]));
  }

  async repository(key: RepositoryKey): Promise<RepositoryPulls | null> {
    return (await this.all()).get(key) ?? null;
  }

  /** Adds a batch to the stored counts; never runs concurrently with itself. */
  protected abstract apply(batch: readonly PullBatchEntry[]): Promise<void>;
  /** Every repository's counts. */
  protected abstract all(): Promise<Map<RepositoryKey, RepositoryPulls>>;

  /** The batch's entries by repository. */
  protected static byRepository(batch: readonly PullBatchEntry[]): Map<RepositoryKey, PullBatchEntry[]> {
    const found = new Map<RepositoryKey, PullBatchEntry[]>();
    for (const entry of batch) found.set(entry.repository, [...(found.get(entry.repository) ?? []), entry]);
    return found;
  }
}

