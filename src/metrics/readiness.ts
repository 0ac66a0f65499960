import { randomUUID } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface ReadinessReport {
  ready: boolean;
  /** `redis` only in cluster mode: informative, never a reason to be unready (see Readiness). `freeSpace` once it was measured: `low` below storage.minFreeSpace (blobs are passed through, not cached). */
  checks: { storage: 'ok' | string; shutdown: 'no' | 'draining'; redis?: 'ok' | 'unavailable'; freeSpace?: 'ok' | 'low' };
}

/** A full disk still serves what it holds: readiness stays up, the details say why writes fail. */
const FULL = new Set(['ENOSPC', 'EDQUOT']);

export interface ReadinessOptions {
  /** A directory on the data filesystem where a probe file may be written (the store's tmp/). */
  probeDir: string;
  /** The shared store's own check (s3: a small object written and deleted), run with the directory's; rejects when it fails. */
  probeStore?: () => Promise<void>;
  /** How long a storage check result is reused (default 5 s): at most one disk write per interval. */
  cacheMs?: number;
  /** A probe slower than this counts as failed (default 2 s): a hung disk makes the instance unready, not the probe hang. */
  timeoutMs?: number;
  /** Cluster mode: whether Redis answers, reported in the details. */
  redisUp?: () => boolean;
  /** Monotonic clock in ms (tests). */
  now?: () => number;
  /** Whether free disk space is below storage.minFreeSpace; null until measured (lifecycle/free-space.ts). */
  lowSpace?: () => Promise<boolean | null>;
}

/**
 * Whether this instance should receive traffic (`/readyz`): its storage accepts writes — or is only
 * full (ENOSPC: what is stored is still served, new blobs are passed through) — and it is not
 * shutting down. Liveness (`/healthz`) deliberately does not use this — a full disk should take
 * an instance out of rotation, not get it restarted.
 *
 * The storage check writes, fsyncs and deletes a small file, which catches a read-only remount and
 * most full-disk cases that an `access(W_OK)` would miss. Its result is cached for `cacheMs`, and
 * concurrent probes share one check, so probe frequency never turns into disk load.
 * Nothing here touches the network but the s3 driver's bucket (`probeStore`), bounded by the same timeout.
 */
export class Readiness {
  private shuttingDown = false;
  private lastCheck: { at: number; result: 'ok' | string } | null = null;
  private inFlight: Promise<'ok' | string> | null = null;
  private readonly now: () => number;

  constructor(private readonly options: ReadinessOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  /** Called first on SIGTERM, before the server stops accepting: readiness fails from here on. */
  beginShutdown(): void {
    this.shuttingDown = true;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  async report(): Promise<ReadinessReport> {
    const storage = await this.storage();
    const shutdown = this.shuttingDown ? 'draining' : 'no';
    const checks: ReadinessReport['checks'] = { storage, shutdown };
    // Reported, not required: Redis away takes it from every replica at once, and failing the probe
    // everywhere would take the whole service down while each replica can still serve what is stored.
    if (this.options.redisUp) checks.redis = this.options.redisUp() ? 'ok' : 'unavailable';
    const low = (await this.options.lowSpace?.()) ?? null;
    if (low !== null) checks.freeSpace = low ? 'low' : 'ok';
    return { ready: (storage === 'ok' || FULL.has(storage)) && !this.shuttingDown, checks };
  }

  private storage(): Promise<'ok' | string> {
    const cacheMs = this.options.cacheMs ?? 5_000;
    if (this.lastCheck && this.now() - this.lastCheck.at < cacheMs) return Promise.resolve(this.lastCheck.result);
    this.inFlight ??= this.probe().then((result) => {
      this.lastCheck = { at: this.now(), result };
      this.inFlight = null;
      return result;
    });
    return this.inFlight;
  }

  /** 'ok', or a short reason (an errno code such as EROFS / ENOSPC / EACCES, the object store's error name, or 'timeout'). */
  private async probe(): Promise<'ok' | string> {
    const file = join(this.options.probeDir, `readyz-${randomUUID()}`);
    const write = async (): Promise<'ok'> => {
      const handle = await open(file, 'wx');
      try {
        await handle.writeFile('ok');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await unlink(file);
      return 'ok';
    };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.options.timeoutMs ?? 2_000);
    });
    const local = write().catch(async (error: unknown) => {
      await unlink(file).catch(() => {});
      return (error as NodeJS.ErrnoException).code ?? 'error';
    });
    const store = this.options.probeStore
      ? this.options.probeStore().then(
          () => 'ok',
          // The store's error name (NoSuchBucket, AccessDenied, TimeoutError…), never its message or URL.
          (error: unknown) => `object store: ${((error as Error).cause as Error | undefined)?.name ?? (error as Error).name ?? 'error'}`,
        )
      : 'ok';
    try {
      return await Promise.race([Promise.all([local, store]).then(([a, b]) => (a !== 'ok' ? a : b)), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
