import type { FastifyInstance } from 'fastify';
import { RegistryError } from '../../oci/errors.js';
import { isoDate, type ApiContext } from './context.js';
import { gcStatusJson } from './gc.js';
import { prefetchStatusJson } from './prefetch.js';
import { viewerOf } from './guard.js';

/**
 * GET /api/v1/stats — what the cache saves and whether an upstream is in trouble, from the same
 * events as the Prometheus metrics (metrics/traffic-stats.ts), plus the process's recent history
 * for charts. Signed-in users and admins (everyone in open mode); anonymous callers get 401.
 */
export function registerStatsRoutes(api: FastifyInstance, ctx: ApiContext): void {
  api.get('/stats', async (request) => {
    const viewer = viewerOf(request);
    if (viewer.user === null && !viewer.admin) throw new RegistryError('UNAUTHORIZED', null, { message: 'sign in to see statistics' });
    const { traffic, history, fills, config, storage } = ctx.services;
    const t = traffic.snapshot();
    const cached = await storage.eviction.totals();
    const byResult = { hit: 0, miss: 0, stale: 0, coalesced: 0, negative: 0 };
    for (const u of Object.values(t.upstreams)) for (const [result, n] of Object.entries(u.cache)) byResult[result as keyof typeof byResult] += n;
    const requests = Object.values(byResult).reduce((a, b) => a + b, 0);
    return {
      cache: {
        requests,
        ...byResult,
        // As the README's PromQL: requests that started no upstream fetch.
        hitRatio: requests > 0 ? (requests - byResult.miss) / requests : null,
      },
      bytes: {
        fromCache: t.servedBytes.cache,
        fromUpstream: t.servedBytes.upstream,
        // Every byte served from disk is one the upstream did not have to send again.
        saved: t.servedBytes.cache,
      },
      upstreams: Object.entries(t.upstreams).map(([name, u]) => {
        const total = Object.values(u.cache).reduce((a, b) => a + b, 0);
        const failing = !!u.lastError && u.lastError.at >= (u.lastSuccessAt ?? 0);
        return {
          name,
          url: config.upstreams[name]?.url ?? null,
          status: u.requests === 0 ? 'idle' : failing ? 'failing' : 'ok',
          requests: u.requests,
          errors: u.errors,
          lastSuccessAt: isoDate(u.lastSuccessAt),
          lastError: u.lastError ? { at: isoDate(u.lastError.at), status: u.lastError.status } : null,
          bytesDownloaded: u.bytesDownloaded,
          rateLimit: u.rateLimit,
          cache: { requests: total, ...u.cache, hitRatio: total > 0 ? (total - u.cache.miss) / total : null },
        };
      }),
      storage: {
        cacheBytes: cached.bytes,
        cacheObjects: cached.objects,
        budgetBytes: config.storage.maxSize,
        // Pinned content is never evicted: above the budget it is a warning, not an eviction.
        pinnedBytes: cached.pinnedBytes,
        pinnedOverBudget: ctx.services.pins.pinnedOverBudget,
        // The data directory's disk: below minFreeBytes new blobs are passed through, not cached.
        disk: ctx.services.freeSpace.state,
        evictions: t.evictions,
        evictedBytes: t.evictedBytes,
      },
      pushes: t.pushes,
      fills: fills.progress(),
      historyIntervalMs: history.intervalMs,
      history: [...history.list(), traffic.sample(Date.now())].map((s) => ({ ...s, at: isoDate(s.at) })),
      gc: gcStatusJson(ctx.services.gc),
      prefetch: prefetchStatusJson(ctx.services.prefetcher),
    };
  });
}
