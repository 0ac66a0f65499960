import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrape } from '../metrics/exposition.js';
import { expectOciError } from '../http/registry-client.js';
import { startStowage } from '../support/stowage.js';
import { pushHosted, startApiFixture, type ApiFixture } from './support/api-fixture.js';

describe('GET /api/v1/stats after real traffic', () => {
  let f: ApiFixture;

  beforeAll(async () => {
    f = await startApiFixture();
    f.hub.addImage('library/alpine', '3.20', { layerCount: 2, layerSize: 40_000 });
    f.hub.addImage('library/busybox', '1', { layerCount: 1, layerSize: 10_000 });
    await f.pull('library/alpine', '3.20'); // misses: manifest + 3 blobs
    await f.pull('library/alpine', '3.20'); // hits
    await f.pull('library/alpine', '3.20');
    await f.pull('library/busybox', '1');
    f.hub.faults.fail('manifest', { status: 503, times: 10 });
    expect((await f.registry.fetch('/v2/library/alpine/manifests/never-cached')).status).toBeGreaterThanOrEqual(500);
    await pushHosted(f.registry, 'team/app', '1');
  });
  afterAll(() => f.close());

  it('reports the figures /metrics reports', async () => {
    const stats = await f.json('stats');
    const metrics = await scrape(f.stowage.url);
    const cache = (result: string): number => metrics.sum('stowage_cache_requests_total', { result });
    expect(stats.cache).toMatchObject({ hit: cache('hit'), miss: cache('miss'), stale: cache('stale'), coalesced: cache('coalesced'), negative: cache('negative') });
    expect(stats.cache.requests).toBe(metrics.sum('stowage_cache_requests_total'));
    expect(stats.cache.hit).toBeGreaterThanOrEqual(8);
    expect(stats.cache.hitRatio).toBeCloseTo((stats.cache.requests - stats.cache.miss) / stats.cache.requests, 10);
    expect(stats.bytes.fromCache).toBe(metrics.value('stowage_served_bytes_total', { source: 'cache' }));
    expect(stats.bytes.fromUpstream).toBe(metrics.value('stowage_served_bytes_total', { source: 'upstream' }));
    expect(stats.bytes.fromCache).toBeGreaterThan(160_000); // two warm pulls of alpine
    expect(stats.bytes.saved).toBe(stats.bytes.fromCache);

    const hub = stats.upstreams.find((u: any) => u.name === 'docker.io');
    expect(hub.requests).toBe(metrics.sum('stowage_upstream_requests_total', { upstream: 'docker.io' }));
    const failed = metrics.sum('stowage_upstream_requests_total', { upstream: 'docker.io', status_class: '5xx' }) + metrics.sum('stowage_upstream_requests_total', { upstream: 'docker.io', status_class: 'error' });
    expect(hub.errors).toBe(failed);
    expect(hub.errors).toBeGreaterThan(0);
    expect(hub).toMatchObject({ status: 'failing', lastError: { status: 503 } });
    expect(Date.parse(hub.lastSuccessAt)).toBeLessThanOrEqual(Date.parse(hub.lastError.at));
    expect(hub.rateLimit.remaining).toBe(metrics.value('stowage_upstream_ratelimit_remaining', { upstream: 'docker.io' }));
    expect(hub.rateLimit.limit).toBe(100);
    expect(hub.bytesDownloaded).toBe(metrics.value('stowage_upstream_downloaded_bytes_total', { upstream: 'docker.io' }));

    expect(stats.storage).toMatchObject({ budgetBytes: 0, evictions: 0 });
    expect(stats.storage.cacheBytes).toBe(metrics.value('stowage_cache_size_bytes'));
    expect(stats.pushes).toEqual({ manifest: metrics.value('stowage_hosted_pushes_total', { kind: 'manifest' }), blob: metrics.value('stowage_hosted_pushes_total', { kind: 'blob' }) });
    expect(stats.pushes).toEqual({ manifest: 1, blob: 3 });
    expect(stats.fills).toEqual([]);
    // At least the sample at start and the live one, cumulative.
    expect(stats.history.length).toBeGreaterThanOrEqual(2);
    expect(stats.history.at(-1)).toMatchObject({ requests: stats.cache.requests, misses: stats.cache.miss, bytesFromCache: stats.bytes.fromCache });
    expect(stats.history[0].requests).toBe(0);
    expect(stats).toMatchObject({ gc: { running: false, last: null }, prefetch: { running: false, configured: false, run: null } });
  });
});

describe('pull counts', () => {
  it('count manifest GETs (not HEADs), by tag and digest, and survive a restart', async () => {
    let f = await startApiFixture();
    const dataDir = f.stowage.dataDir;
    const image = await pushHosted(f.registry, 'team/app', '1');
    await f.registry.fetch('/v2/team/app/manifests/1', { method: 'HEAD' }).then((r) => r.arrayBuffer());
    for (let i = 0; i < 3; i++) await f.registry.fetch('/v2/team/app/manifests/1').then((r) => r.arrayBuffer());
    await f.registry.fetch(`/v2/team/app/manifests/${image.digest}`).then((r) => r.arrayBuffer());
    const tags = await f.json('repositories/team/app/tags');
    expect(tags).toMatchObject({ pulls: 4 });
    expect(tags.tags[0]).toMatchObject({ tag: '1', pulls: 3 });
    expect((await f.json(`repositories/team/app/manifests/1`)).pulls).toBe(4);

    // Written in a batch at shutdown, read back by the next process on the same data directory.
    await f.registry.close();
    await f.stowage.app.shutdown();
    const again = await startStowage({ dataDir, config: { hosted: ['team/**'] } });
    try {
      const res = await fetch(`${again.url}/api/v1/repositories/team/app/tags`);
      const body = (await res.json()) as any;
      expect(body).toMatchObject({ pulls: 4 });
      expect(body.tags[0]).toMatchObject({ tag: '1', pulls: 3 });
      expect(Date.parse(body.lastPulledAt)).toBeGreaterThan(Date.now() - 60_000);
    } finally {
      await again.close();
      await f.hub.close();
    }
  });
});

describe('GET /v2/tags/list', () => {
  let f: ApiFixture;
  beforeAll(async () => {
    f = await startApiFixture();
    await pushHosted(f.registry, 'team/a', '1');
    await pushHosted(f.registry, 'team/a', '2');
    await pushHosted(f.registry, 'team/b', 'x');
    f.hub.addImage('library/alpine', '3.20');
    f.hub.addImage('library/alpine', 'edge');
    await f.pull('library/alpine', '3.20', { skipBlobs: true });
  });
  afterAll(() => f.close());

  it('lists every repository with its stored tags, paged like the catalog', async () => {
    const before = f.hub.count();
    const all = await (await f.registry.fetch('/v2/tags/list')).json();
    expect(all).toEqual({
      repositories: [
        { name: 'docker.io/library/alpine', tags: ['3.20'] },
        { name: 'team/a', tags: ['1', '2'] },
        { name: 'team/b', tags: ['x'] },
      ],
    });
    expect(f.hub.count()).toBe(before); // cached tags only: edge was never pulled
    const first = await f.registry.fetch('/v2/tags/list?n=2');
    expect(((await first.json()) as any).repositories.map((r: any) => r.name)).toEqual(['docker.io/library/alpine', 'team/a']);
    expect(first.headers.get('link')).toBe('</v2/tags/list?n=2&last=team%2Fa>; rel="next"');
    const next = await (await f.registry.fetch('/v2/tags/list?n=2&last=team%2Fa')).json();
    expect(next).toEqual({ repositories: [{ name: 'team/b', tags: ['x'] }] });
    await expectOciError(await f.registry.fetch('/v2/tags/list?n=-1'), 400, 'UNSUPPORTED');
    await expectOciError(await f.registry.fetch('/v2/tags/list', { method: 'DELETE' }), 405, 'UNSUPPORTED');
  });
});
