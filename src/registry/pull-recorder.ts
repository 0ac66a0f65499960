import type { Logger } from 'pino';
import type { Digest } from '../oci/digest.js';
import type { Tag } from '../oci/reference.js';
import { addPulls, mergePulls, type PullBatchEntry, type PullCount, type PullStatsStore, type RepositoryPulls } from '../storage/pull-stats.js';
import type { RepositoryKey } from '../storage/repository-key.js';

/**
 * Counts pulls (manifest GETs, not HEADs) in memory and writes them to the PullStatsStore in one
 * batch per `flush` (every few seconds, and at shutdown — lifecycle.ts): the request path only
 * updates a Map. Reads merge what is not flushed yet, so a pull shows at once. A failed flush keeps
 * its pulls for the next one.
 */
export class PullRecorder {
  private pending = new Map<string, PullBatchEntry>();
  /** The batch being written: still merged into reads until the store has it. */
  private inFlight: PullBatchEntry[] = [];
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly store: PullStatsStore,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  pulled(repository: RepositoryKey, digest: Digest, tag?: Tag): void {
    const id = `${repository} ${digest} ${tag ?? ''}`;
    const entry = this.pending.get(id);
    if (entry) {
      entry.pulls++;
      entry.lastPulledAt = this.now();
    } else {
      this.pending.set(id, { repository, digest, ...(tag !== undefined ? { tag } : {}), pulls: 1, lastPulledAt: this.now() });
    }
  }

  /** Writes what was counted since the last flush; one flush at a time. */
  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => (this.flushing = null));
    return this.flushing;
  }

  async totals(): Promise<Map<RepositoryKey, PullCount>> {
    const totals = await this.store.totals();
    for (const entry of this.unflushed()) totals.set(entry.repository, addPulls(totals.get(entry.repository), entry.pulls, entry.lastPulledAt));
    return totals;
  }

  async repository(key: RepositoryKey): Promise<RepositoryPulls | null> {
    const stored = await this.store.repository(key);
    const pending = this.unflushed().filter((e) => e.repository === key);
    return pending.length ? mergePulls(stored, pending) : stored;
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.inFlight = [...batch.values()];
    try {
      await this.store.record(this.inFlight);
    } catch (err) {
      this.logger.warn({ err, entries: batch.size }, 'writing pull counts failed; keeping them for the next flush');
      for (const [id, entry] of batch) {
        const newer = this.pending.get(id);
        this.pending.set(id, newer ? { ...entry, ...addPulls(entry, newer.pulls, newer.lastPulledAt) } : entry);
      }
    } finally {
      this.inFlight = [];
    }
  }

  private unflushed(): PullBatchEntry[] {
    return [...this.inFlight, ...this.pending.values()];
  }
}
