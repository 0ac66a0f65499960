import type { Logger } from 'pino';
import type { Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import type { BlobHolders } from '../registry/blob-holders.js';
import { tagKey, type ContentLock, type UseJournal } from '../registry/content-lock.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { EvictionIndex } from '../storage/eviction-index.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import type { RepositoryKey } from '../storage/repository-key.js';
import type { LifecycleCoordinator } from './coordinator.js';
import { markGarbage, type GcPlan } from './gc-mark.js';
import { emptyReport, noteManifest, noteTag, summary, type GcReport } from './gc-report.js';
import type { LifecycleObserver } from './lifecycle-observer.js';
import type { RetentionRules } from './retention.js';

export interface GcDeps {
  metadata: MetadataStore;
  blobs: BlobStore;
  eviction: EvictionIndex;
  /** Whether this process is sending the blob to a client right now. */
  isReading(digest: Digest): boolean;
  holders: BlobHolders;
  content: ContentLock;
  coordinator: LifecycleCoordinator;
  retention: RetentionRules;
  graceMs: number;
  logger: Logger;
  observer: LifecycleObserver;
  /** Settles once the eviction index is built: a blob returned to the cache must not race its rebuild. */
  indexed: Promise<void>;
  now?: () => number;
}

export interface GcRequest {
  dryRun: boolean;
  /** One hosted repository, or null for every one. */
  repository: RepositoryKey | null;
}

/** Keys swept at once: deletions are small file operations that the thread pool overlaps. */
const SWEEP_PARALLEL = 16;

/**
 * Online garbage collection of hosted content (docs/lifecycle.md): mark (gc-mark.ts) while clients
 * push and pull, then sweep every removal under the ContentLock, re-checking that nobody used the
 * content since the mark began. Bytes leave the store only here; registry deletes only unlink.
 * One run at a time: a request for the same kind of run joins the one in progress.
 */
export class GarbageCollector {
  private current: { request: GcRequest; result: Promise<GcReport> } | null = null;
  private last: GcReport | null = null;

  constructor(private readonly deps: GcDeps) {}

  get running(): boolean {
    return this.current !== null;
  }

  /** The last finished run's report (dry runs included), or null. */
  get lastReport(): GcReport | null {
    return this.last;
  }

  /** Resolves when no run is in progress (shutdown waits for one to finish its sweep). */
  async settled(): Promise<void> {
    await this.current?.result.catch(() => {});
  }

  run(request: GcRequest): Promise<GcReport> {
    if (this.current) {
      const same = this.current.request.dryRun === request.dryRun && this.current.request.repository === request.repository;
      if (same) return this.current.result;
      throw new RegistryError('GC_IN_PROGRESS', { dryRun: this.current.request.dryRun, repository: this.current.request.repository });
    }
    const result = this.deps.coordinator.runAlone('gc', () => this.collect(request)).then((outcome) => {
      if (!outcome.ran) throw new RegistryError('GC_IN_PROGRESS', null, { message: 'a garbage collection is running elsewhere' });
      return outcome.value;
    });
    const current = { request, result };
    this.current = current;
    const clear = (): void => {
      if (this.current === current) this.current = null;
    };
    result.then(clear, clear);
    return result;
  }

  private async collect(request: GcRequest): Promise<GcReport> {
    const { logger, observer } = this.deps;
    const now = this.deps.now ?? Date.now;
    const started = now();
    const report = emptyReport(request.dryRun, request.repository && nameOf(request.repository), started);
    const took = performance.now();
    let journal: UseJournal | null = null;
    try {
      await this.deps.indexed;
      // Uses from here on are noted; the mark sees every write that came before.
      if (!request.dryRun) journal = await this.deps.content.openJournal();
      const plan = await markGarbage({
        metadata: this.deps.metadata,
        blobs: this.deps.blobs,
        retention: this.deps.retention,
        logger,
        now: started,
        graceMs: this.deps.graceMs,
        scope: request.repository,
        isReading: this.deps.isReading,
      });
      if (journal) await this.sweep(plan, journal, report);
      else dryReport(plan, report);
    } catch (e) {
      report.error = e instanceof Error ? e.message : String(e);
      logger.error({ err: e, ...summary(report) }, 'garbage collection failed');
    } finally {
      journal?.close();
    }
    report.finishedAt = now();
    report.durationMs = Math.round(performance.now() - took);
    this.last = report;
    observer.gcRun(report, report.error ? 'failed' : 'completed');
    if (!report.error) logger.info(summary(report), request.dryRun ? 'garbage collection (dry run): what would be removed' : 'garbage collection done');
    return report;
  }

  private async sweep(plan: GcPlan, journal: UseJournal, report: GcReport): Promise<void> {
    const { metadata, content, blobs, eviction, holders } = this.deps;
    const spared = new Set<Digest>();
    for (const repo of plan.repositories) {
      const name = nameOf(repo.key);
      await inParallel(repo.untag, async ({ tag, record }) => {
        const done = await content.sweep(journal, tagKey(repo.key, tag), async () => {
          const current = await metadata.getTag(repo.key, tag);
          if (current?.digest !== record.digest || current.updatedAt !== record.updatedAt) return void report.spared++;
          if (await metadata.deleteTag(repo.key, tag)) noteTag(report, name, tag, record.digest);
        });
        if (!done) report.spared++;
      });
      await inParallel(repo.deleteManifests, async ({ digest }) => {
        const done = await content.sweep(journal, digest, async () => {
          if (await metadata.deleteManifest(repo.key, digest)) noteManifest(report, name, digest);
        });
        if (done) return;
        // Pushed again, or used as a child, while the run went on: it stays, and so does what it references.
        report.spared++;
        await this.spare(plan, repo.key, digest, spared);
      });
    }

    const unlinks = new Map<Digest, RepositoryKey[]>();
    for (const repo of plan.repositories) {
      for (const digest of repo.garbageLinks) unlinks.set(digest, [...(unlinks.get(digest) ?? []), repo.key]);
    }
    const digests = new Set([...unlinks.keys(), ...plan.blobs.keys()]);
    await inParallel([...digests].filter((d) => !spared.has(d)), async (digest) => {
      const done = await content.sweep(journal, digest, async () => {
        for (const key of unlinks.get(digest) ?? []) {
          if (await metadata.unlinkBlob(key, digest)) report.linksRemoved++;
          holders.delete(key, digest);
        }
        const action = plan.blobs.get(digest);
        if (action?.fate === 'delete' && !this.deps.isReading(digest)) {
          await blobs.delete(digest);
          await eviction.forget(digest);
          report.blobsRemoved++;
          report.bytesReclaimed += action.blob.size;
        } else if (action?.fate === 'cache') {
          await eviction.add(digest, action.blob.size, action.blob.lastUsed);
          report.blobsReturnedToCache++;
        }
      });
      if (!done) report.spared++;
    });
  }

  /** Adds what `digest` references, and what its children reference, to `spared`. */
  private async spare(plan: GcPlan, key: RepositoryKey, digest: Digest, spared: Set<Digest>): Promise<void> {
    if (spared.has(digest)) return;
    spared.add(digest);
    for (const ref of await plan.references(key, digest)) {
      if (await this.deps.metadata.getManifest(key, ref)) await this.spare(plan, key, ref, spared);
      else spared.add(ref);
    }
  }
}

/** A dry run reports the plan as the sweep would carry it out if nobody used the content meanwhile. */
function dryReport(plan: GcPlan, report: GcReport): void {
  for (const repo of plan.repositories) {
    const name = nameOf(repo.key);
    for (const { tag, record } of repo.untag) noteTag(report, name, tag, record.digest);
    for (const { digest } of repo.deleteManifests) noteManifest(report, name, digest);
    report.linksRemoved += repo.garbageLinks.length;
  }
  for (const { fate, blob } of plan.blobs.values()) {
    if (fate === 'delete') {
      report.blobsRemoved++;
      report.bytesReclaimed += blob.size;
    } else {
      report.blobsReturnedToCache++;
    }
  }
}

const nameOf = (key: RepositoryKey): string => key.replace(/^hosted\//, '');

async function inParallel<T>(items: readonly T[], task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(SWEEP_PARALLEL, items.length) }, worker));
}
