import type { Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Services } from './services.js';

export interface Lifecycle {
  /** Stops background work (purges, fills) after the server closed. */
  close(): Promise<void>;
  /** Graceful stop: readiness fails, the listener drains within `server.drainTimeout`, then `close`. */
  shutdown(): Promise<void>;
}

const PULL_FLUSH_MS = 5_000;
const VIEW_WARM_UP_DELAY_MS = 2_000;
const FREE_SPACE_CHECK_MS = 5_000;

/**
 * Starts the background work (purging abandoned upload sessions and interrupted fills nobody
 * resumed) and returns how to stop everything.
 */
export function startLifecycle(services: Services, server: FastifyInstance, ops: FastifyInstance | null): Lifecycle {
  const { config, logger, storage, fills, proxies, readiness, pulls, traffic, history, views, gc, coordinator, pins, prefetcher, freeSpace } = services;
  const purge = setInterval(() => {
    const ttl = config.limits.uploadSessionTtl;
    storage.uploads.purgeIdle(ttl).then(
      (n) => n > 0 && logger.info({ purged: n }, 'purged abandoned upload sessions'),
      (err: unknown) => logger.warn({ err }, 'upload purge failed'),
    );
    storage.spool.purgeIdle(ttl).then(
      (n) => n > 0 && logger.info({ purged: n }, 'purged interrupted blob fills'),
      (err: unknown) => logger.warn({ err }, 'fill spool purge failed'),
    );
  }, Math.min(config.limits.uploadSessionTtl, 3_600_000));
  purge.unref();
  // Pull counts reach the store in batches, never on the request path (registry/pull-recorder.ts).
  const flushPulls = setInterval(() => void pulls.flush(), PULL_FLUSH_MS);
  flushPulls.unref();
  // The stats page charts the process's recent history (metrics/stats-history.ts).
  history.add(traffic.sample(Date.now()));
  const sample = setInterval(() => history.add(traffic.sample(Date.now())), history.intervalMs);
  sample.unref();
  // The UI's first listing reads every repository's metadata (seconds at 1,000 repositories on a
  // cold disk): done in the background shortly after start, so the first visitor does not wait.
  const warm = setTimeout(() => {
    views.list().catch((err: unknown) => logger.warn({ err }, 'building the repository views failed'));
  }, VIEW_WARM_UP_DELAY_MS);
  warm.unref();
  // Scheduled garbage collection (gc.interval; 0 = only on request). A run still going when the
  // next is due is joined, not doubled; with replicas the coordinator picks one of them.
  const collect = config.gc.interval > 0
    ? setInterval(() => {
        const run = async (): Promise<void> => {
          if (await coordinator.claimScheduled('gc', config.gc.interval)) await gc.run({ dryRun: false, repository: null });
        };
        run().catch((err: unknown) => logger.warn({ err }, 'scheduled garbage collection did not run'));
      }, config.gc.interval)
    : null;
  collect?.unref();
  // Free disk space (storage.minFreeSpace): measured now and every few seconds; statfs is cheap.
  void freeSpace.check();
  const measure = setInterval(() => void freeSpace.check(), FREE_SPACE_CHECK_MS);
  measure.unref();
  // Pins live in the eviction index's memory: applied again from what is stored (no upstream),
  // then the configured images are fetched now and every prefetch.interval (0: only on request).
  let prefetching: NodeJS.Timeout | null = null;
  let stopped = false;
  const prefetch = (trigger: 'start' | 'schedule'): void => {
    const run = async (): Promise<void> => {
      if (stopped || !(await coordinator.claimScheduled('prefetch', config.prefetch.interval))) return;
      await prefetcher.start(null, trigger).done;
    };
    run().catch((err: unknown) => logger.warn({ err }, 'scheduled prefetch did not run'));
  };
  storage.indexed.then(() => pins.apply()).then(
    () => {
      if (stopped || !prefetcher.configured || config.prefetch.interval <= 0) return;
      prefetch('start');
      prefetching = setInterval(() => prefetch('schedule'), config.prefetch.interval);
      prefetching.unref();
    },
    (err: unknown) => logger.warn({ err }, 'applying pins at start failed'),
  );

  const close = async (): Promise<void> => {
    readiness.beginShutdown();
    await ops?.close();
    clearInterval(purge);
    clearInterval(flushPulls);
    clearInterval(sample);
    clearTimeout(warm);
    if (collect) clearInterval(collect);
    clearInterval(measure);
    stopped = true;
    if (prefetching) clearInterval(prefetching);
    await prefetcher.stop();
    await pulls.flush();
    await gc.settled();
    await storage.indexed;
    await fills.settled();
    await Promise.all([...proxies.values()].map((p) => p.upstream.close()));
    await services.cluster?.close();
  };

  const shutdown = async (): Promise<void> => {
    readiness.beginShutdown();
    const http = server.server as Partial<Server>;
    // close() only closes connections idle at that moment; one finishing a blob becomes idle later
    // and would otherwise be held open until the keep-alive timeout. Sweep until close completes.
    const sweep = setInterval(() => http.closeIdleConnections?.(), 100);
    const deadline = setTimeout(() => {
      logger.warn('drain timeout reached; closing remaining connections');
      http.closeAllConnections?.();
    }, config.server.drainTimeout);
    try {
      await server.close();
    } finally {
      clearInterval(sweep);
      clearTimeout(deadline);
    }
    await close();
  };
  return { close, shutdown };
}
