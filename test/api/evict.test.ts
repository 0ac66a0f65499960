import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOciError } from '../http/registry-client.js';
import { scrape } from '../metrics/exposition.js';
import { addIndexWithAttestation, startApiFixture, type ApiFixture } from './support/api-fixture.js';

describe('POST /api/v1/repositories/{name}/manifests/{ref}/evict', () => {
  let f: ApiFixture;
  beforeAll(async () => {
    f = await startApiFixture();
    await f.stowage.app.storage.indexed; // the eviction index knows what is cache content
  });
  afterAll(() => f.close());

  it('removes a cached image and its bytes; the next pull is a miss again', async () => {
    const image = f.hub.addImage('library/alpine', '3.20', { layerCount: 2, layerSize: 30_000 });
    f.hub.addImage('library/alpine', '3.21', { layerCount: 1, layerSize: 1_000 });
    await f.pull('library/alpine', '3.20');
    await f.pull('library/alpine', '3.21');
    // A hosted repository holds the same first layer: it must survive the eviction.
    await f.registry.pushBlob('team/keep', image.layers[0]!.bytes, image.layers[0]!.digest);
    const before = await f.json('stats');

    const res = await f.call('repositories/docker.io/library/alpine/manifests/3.20/evict', { method: 'POST' });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    const result = JSON.parse(text);
    // Manifest, config and the second layer: the first is hosted content now.
    expect(result).toEqual({ digest: image.digest, manifests: 1, blobs: 3, bytes: image.bytes.length + image.config.bytes.length + image.layers[1]!.bytes.length });

    const after = await f.json('stats');
    expect(after.storage.cacheBytes).toBe(before.storage.cacheBytes - result.bytes);
    expect(after.storage.evictions).toBe(before.storage.evictions + 3);
    const metrics = await scrape(f.stowage.url);
    expect(metrics.value('stowage_evictions_total')).toBe(after.storage.evictions);
    expect((await f.json('repositories/docker.io/library/alpine/tags')).tags.map((t: any) => t.tag)).toEqual(['3.21']);
    // Read to the end: an unread body keeps the client's connection, and closing it waits for it.
    const kept = await f.registry.fetch(`/v2/team/keep/blobs/${image.layers[0]!.digest}`);
    expect(kept.status).toBe(200);
    await kept.arrayBuffer();

    f.hub.reset();
    await f.pull('library/alpine', '3.20');
    expect(f.hub.count({ kind: 'manifest', method: 'GET' })).toBe(1);
    expect(f.hub.count((r) => r.kind === 'blob' || r.kind === 'cdn')).toBeGreaterThanOrEqual(2);
  });

  it('evicts an index with the platforms stored here', async () => {
    const index = addIndexWithAttestation(f.hub, 'library/multi', 'latest', 5_000);
    await f.pull('library/multi', 'latest', { platform: 'linux/amd64' });
    const res = await f.call(`repositories/docker.io/library/multi/manifests/${index.digest}/evict`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ manifests: 2, blobs: 5 }); // index, amd64 manifest, its config and 2 layers
    expect((await f.json('repositories/docker.io/library/multi/tags')).tags).toEqual([]);
    expect((await f.json('repositories')).repositories.map((r: any) => r.name)).not.toContain('docker.io/library/multi');
    expect(((await (await f.registry.fetch('/v2/_catalog')).json()) as any).repositories).not.toContain('docker.io/library/multi');
  });

  it('is for cached images only, and needs the CSRF header', async () => {
    const { pushHosted } = await import('./support/api-fixture.js');
    await pushHosted(f.registry, 'team/app', '1');
    await expectOciError(await f.call('repositories/team/app/manifests/1/evict', { method: 'POST' }), 405, 'UNSUPPORTED');
    await expectOciError(await f.call('repositories/docker.io/library/alpine/manifests/nope/evict', { method: 'POST' }), 404, 'MANIFEST_UNKNOWN');
    await expectOciError(await f.call('repositories/docker.io/library/alpine/manifests/3.21/evict', { method: 'POST', headers: {} }), 403, 'DENIED');
    expect((await f.json('repositories/docker.io/library/alpine')).permissions).toEqual({ delete: false, refresh: true, evict: true, pin: true });
  });
});
