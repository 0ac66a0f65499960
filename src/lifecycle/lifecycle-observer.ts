import type { GcReport } from './gc-report.js';

/** What the lifecycle work reports for metrics. Labels stay bounded: never a repository or digest. */
export interface LifecycleObserver {
  gcRun(report: GcReport, outcome: 'completed' | 'failed'): void;
  pinnedBytes(bytes: number): void;
  freeSpace(event: { freeBytes: number; totalBytes: number; low: boolean }): void;
  prefetchRun(event: { outcome: 'completed' | 'failed'; at: number }): void;
}

export const NOOP_LIFECYCLE_OBSERVER: LifecycleObserver = {
  gcRun() {},
  pinnedBytes() {},
  freeSpace() {},
  prefetchRun() {},
};
