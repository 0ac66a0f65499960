import type { GcReport } from '../lifecycle/gc-report.js';
import type { LifecycleObserver } from '../lifecycle/lifecycle-observer.js';
import type { StowageMetrics } from './metrics.js';

/** The lifecycle work's events (GC, pins, free space, prefetch), counted into StowageMetrics. */
export class LifecycleMetrics implements LifecycleObserver {
  constructor(private readonly metrics: StowageMetrics) {}

  gcRun(report: GcReport, outcome: 'completed' | 'failed'): void {
    this.metrics.gcRuns.inc({ mode: report.dryRun ? 'dry_run' : 'delete', outcome });
    if (report.dryRun) return;
    this.metrics.gcRemovedBlobs.inc(report.blobsRemoved);
    this.metrics.gcRemovedManifests.inc(report.manifestsRemoved);
    this.metrics.gcReclaimedBytes.inc(report.bytesReclaimed);
    this.metrics.gcLastRun.set(report.finishedAt / 1000);
    this.metrics.gcLastRunDuration.set(report.durationMs / 1000);
  }

  pinnedBytes(bytes: number): void {
    this.metrics.cachePinnedBytes.set(bytes);
  }

  freeSpace({ freeBytes, low }: { freeBytes: number; totalBytes: number; low: boolean }): void {
    this.metrics.storageFreeBytes.set(freeBytes);
    this.metrics.storageLowSpace.set(low ? 1 : 0);
  }

  prefetchRun({ outcome, at }: { outcome: 'completed' | 'failed'; at: number }): void {
    this.metrics.prefetchRuns.inc({ outcome });
    this.metrics.prefetchLastRun.set(at / 1000);
  }
}
