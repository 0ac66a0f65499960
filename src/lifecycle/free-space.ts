import { statfs } from 'node:fs/promises';
import type { Logger } from 'pino';
import { minFreeBytes, type FreeSpaceSetting } from '../config/free-space-setting.js';
import type { LifecycleObserver } from './lifecycle-observer.js';

export interface FreeSpaceState {
  freeBytes: number;
  totalBytes: number;
  /** `storage.minFreeSpace` in bytes on this disk. */
  minFreeBytes: number;
  /** Below the minimum: new blobs are passed through, not cached. */
  low: boolean;
}

export interface FreeSpaceDeps {
  /** A directory on the disk that fills up (the data directory; the spool's, for an object store). */
  dir: string;
  setting: FreeSpaceSetting;
  logger: Logger;
  observer: LifecycleObserver;
  /**
   * Frees space by evicting cached content, when that content is on this disk (the fs driver);
   * null otherwise (an object store's content does not take local space). Returns the bytes freed.
   */
  evict: ((bytes: number) => Promise<number>) | null;
  /** statfs, replaceable in tests. */
  measure?: (dir: string) => Promise<{ free: number; total: number }>;
}

/** Caching resumes only well above the minimum, so a disk at the edge does not flap in and out. */
const RESUME_FACTOR = 1.25;

/**
 * The free space on the data directory's disk, measured every few seconds (lifecycle.ts) and at
 * once after a write failed for want of space (ENOSPC). Below `storage.minFreeSpace` it is low:
 * fills pass blobs through without storing them (registry/blob-fills.ts), cached content is
 * evicted toward the resume target (the minimum plus a quarter) when it lives on this disk, and
 * the metrics and readiness details say so — readiness itself stays up: what is stored is served.
 */
export class FreeSpace {
  private current: FreeSpaceState | null = null;
  private checking: Promise<FreeSpaceState | null> | null = null;

  constructor(private readonly deps: FreeSpaceDeps) {}

  /** Whether new blobs should be passed through rather than cached. */
  get low(): boolean {
    return this.current?.low ?? false;
  }

  get state(): FreeSpaceState | null {
    return this.current;
  }

  /** Whether `bytes` more can be stored and leave the minimum free (by the last measurement; true before one). */
  fits(bytes: number): boolean {
    return this.current === null || this.current.freeBytes - bytes >= this.current.minFreeBytes;
  }

  /** A write failed with ENOSPC: low at once (no more spooling), then measured. */
  full(): void {
    if (this.current && !this.current.low) this.current = { ...this.current, low: true };
    void this.check();
  }

  /** Measures now (concurrent calls share one measurement); null when the disk cannot be measured. */
  check(): Promise<FreeSpaceState | null> {
    this.checking ??= this.measureAndAct().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  private async measureAndAct(): Promise<FreeSpaceState | null> {
    const { logger, observer, setting } = this.deps;
    let disk;
    try {
      disk = await (this.deps.measure ?? measure)(this.deps.dir);
    } catch (err) {
      logger.warn({ err }, 'could not measure free disk space');
      return this.current;
    }
    const min = minFreeBytes(setting, disk.total);
    const wasLow = this.current?.low ?? false;
    const low = min > 0 && (wasLow ? disk.free < min * RESUME_FACTOR : disk.free < min);
    this.current = { freeBytes: disk.free, totalBytes: disk.total, minFreeBytes: min, low };
    observer.freeSpace({ freeBytes: disk.free, totalBytes: disk.total, low });
    if (low && !wasLow) logger.warn({ freeBytes: disk.free, minFreeBytes: min }, 'disk space is low: new blobs are passed through without being cached until it recovers');
    if (!low && wasLow) logger.info({ freeBytes: disk.free, minFreeBytes: min }, 'disk space recovered: caching new blobs again');
    if (low && this.deps.evict) {
      const wanted = Math.ceil(min * RESUME_FACTOR - disk.free);
      const freed = await this.deps.evict(wanted).catch((err: unknown) => {
        logger.warn({ err }, 'evicting cached content to free disk space failed');
        return 0;
      });
      if (freed > 0) {
        logger.info({ freed, wanted }, 'evicted cached content to free disk space');
        const after = await (this.deps.measure ?? measure)(this.deps.dir).catch(() => null);
        if (after) {
          this.current = { freeBytes: after.free, totalBytes: after.total, minFreeBytes: min, low: after.free < min * RESUME_FACTOR };
          observer.freeSpace({ freeBytes: after.free, totalBytes: after.total, low: this.current.low });
        }
      }
    }
    return this.current;
  }
}

async function measure(dir: string): Promise<{ free: number; total: number }> {
  const s = await statfs(dir);
  // bavail: what an unprivileged writer may use (root's reserve excluded).
  return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
}
