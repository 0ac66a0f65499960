import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetch } from 'undici';
import { describe, expect, it } from 'vitest';
import { expectOciError, RegistryClient } from '../http/registry-client.js';
import { scrape } from '../metrics/exposition.js';
import { startFakeHub } from '../support/fake-hub.js';
import { startStowage } from '../support/stowage.js';
import { startPrefetchFixture } from './support/prefetch-fixture.js';

const HOUR = 3_600_000;

describe('pinned images', () => {
  it('survive a budget that forces eviction; pinned bytes above the budget are a warning, not an eviction', async () => {
    const f = await startPrefetchFixture(
      (hub) => {
        hub.addImage('org/app', 'v1', { layerCount: 2, layerSize: 30_000 });
        for (const tag of ['f1', 'f2', 'f3', 'f4']) hub.addImage('library/filler', tag, { layerCount: 1, layerSize: 30_000 });
        return { images: [{ ref: 'docker.io/org/app:v1', pin: true }] };
      },
      { config: { storage: { maxSize: '50KB' } } },
    );
    try {
      expect((await f.prefetch()).images[0].state).toBe('done');
      const stats = (await (await f.api('stats')).json()) as any;
      expect(stats.storage.pinnedBytes).toBeGreaterThan(60_000);
      expect(stats.storage.pinnedOverBudget).toBe(true);
      expect((await scrape(f.stowage.url)).value('stowage_cache_pinned_bytes')).toBe(stats.storage.pinnedBytes);

      // Out of the 10-minute protection window, then more than the budget of other images; once those
      // are old too, an eviction pass (the one each fill starts, awaited here) takes them — and never
      // the pinned image.
      f.clock.advance(HOUR);
      for (const tag of ['f1', 'f2', 'f3']) await f.pull('library/filler', tag);
      await f.stowage.app.services.fills.settled();
      f.clock.advance(HOUR);
      await f.pull('library/filler', 'f4');
      await f.stowage.app.services.fills.settled();
      await f.stowage.app.storage.eviction.evict();
      const after = (await (await f.api('stats')).json()) as any;
      expect(after.storage.evictions).toBeGreaterThan(0);
      expect(after.storage.pinnedBytes).toBe(stats.storage.pinnedBytes);

      // Every byte is still here: with the upstream failing the image pulls completely, the only
      // upstream requests being the tag's revalidation (past tagTtl: a token and a HEAD), answered stale.
      f.hub.reset();
      f.hub.faults.fail('any', { status: 503, times: Infinity });
      await f.pull('org/app', 'v1');
      expect(f.hub.count((r) => r.kind === 'manifest' ? r.method === 'GET' : r.kind !== 'token')).toBe(0);
    } finally {
      await f.close();
    }
  });

  it('a moved pinned tag pins its new target (fetched at once) and unpins the old one, unless a digest entry pins it', async () => {
    let appV1 = '';
    let toolV1 = '';
    const f = await startPrefetchFixture((hub) => {
      appV1 = hub.addImage('org/app', 'v1', { layerCount: 1 }).digest;
      toolV1 = hub.addImage('org/tool', 'latest', { layerCount: 1 }).digest;
      return {
        images: [
          { ref: 'docker.io/org/app', tags: ['v1'], pin: true },
          { ref: `docker.io/org/app@${appV1}`, pin: true },
          { ref: 'docker.io/org/tool', pin: true },
        ],
      };
    });
    const pinnedState = async (name: string, digest: string): Promise<boolean> => ((await (await f.api(`repositories/${name}/manifests/${digest}`)).json()) as any).pinned;
    try {
      await f.prefetch();
      expect(await pinnedState('docker.io/org/tool', toolV1)).toBe(true);
      const toolV2 = f.hub.addImage('org/tool', 'latest', { layerCount: 1, layerSize: 2_000 });
      const appV2 = f.hub.addImage('org/app', 'v1', { layerCount: 1 }).digest;
      f.clock.advance(2 * HOUR); // past tagTtl: the next pull revalidates and finds the tags moved
      f.hub.reset();
      const manifest = await f.client.fetch('/v2/org/tool/manifests/latest', { headers: { Accept: toolV2.mediaType } });
      expect(manifest.status).toBe(200);
      await manifest.arrayBuffer();
      await (await f.client.fetch('/v2/org/app/manifests/v1', { headers: { Accept: toolV2.mediaType } })).arrayBuffer();
      // The new target's blobs are fetched without a client asking for them.
      for (let i = 0; i < 500; i++) {
        const status = (await (await f.api('prefetch')).json()) as any;
        if (status.run?.trigger === 'tag moved' && !status.running && status.run.images.every((img: any) => img.state === 'done')) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(f.hub.count((r) => (r.kind === 'blob' || r.kind === 'cdn') && r.path.includes(toolV2.layers[0]!.digest))).toBeGreaterThan(0);
      expect(await pinnedState('docker.io/org/tool', toolV2.digest)).toBe(true);
      expect(await pinnedState('docker.io/org/tool', toolV1)).toBe(false);
      expect(await pinnedState('docker.io/org/app', appV2)).toBe(true);
      expect(await pinnedState('docker.io/org/app', appV1)).toBe(true); // pinned by its digest entry
      // Unpinned, the old target can be evicted; a pinned one cannot.
      expect((await f.api(`repositories/docker.io/org/tool/manifests/${toolV1}/evict`, { method: 'POST' })).status).toBe(200);
      await expectOciError(await f.api(`repositories/docker.io/org/app/manifests/${appV1}/evict`, { method: 'POST' }), 409, 'DENIED');
    } finally {
      await f.close();
    }
  });
});

describe('pinning through the API', () => {
  it('pins and unpins a cached image (admins), keeps the pin across a restart, and refuses what it cannot pin', async () => {
    const hub = await startFakeHub();
    const dataDir = await mkdtemp(join(tmpdir(), 'stowage-pins-'));
    const image = hub.addImage('library/redis', '7', { layerCount: 1, layerSize: 3_000 });
    const config = {
      hosted: ['team/**'],
      upstreams: { 'docker.io': { url: hub.url, tagTtl: '1h' } },
      defaultUpstream: 'docker.io',
      prefetch: { interval: 0, images: [{ ref: 'docker.io/library/busybox', pin: true }] },
    };
    let stowage = await startStowage({ config, dataDir });
    const api = (path: string, method = 'GET') => fetch(`${stowage.url}/api/v1/${path}`, { method, headers: { 'X-Stowage-CSRF': '1' } });
    try {
      const client = new RegistryClient(stowage.url);
      await (await client.fetch('/v2/library/redis/manifests/7', { headers: { Accept: image.mediaType } })).arrayBuffer();
      await client.close();

      const pinned = await api('repositories/docker.io/library/redis/manifests/7/pin', 'POST');
      expect(pinned.status).toBe(200);
      expect(await pinned.json()).toMatchObject({ pinned: true, digest: image.digest });
      const tags = (await (await api('repositories/docker.io/library/redis/tags')).json()) as any;
      expect(tags.tags[0]).toMatchObject({ tag: '7', pinned: true });
      await expectOciError(await api('repositories/docker.io/library/redis/manifests/7/evict', 'POST'), 409, 'DENIED');

      await stowage.close();
      stowage = await startStowage({ config, dataDir });
      await stowage.app.storage.indexed;
      await stowage.app.services.pins.apply();
      expect(((await (await api(`repositories/docker.io/library/redis/manifests/${image.digest}`)).json()) as any).pinned).toBe(true);
      expect((await (await api('stats')).json() as any).storage.pinnedBytes).toBeGreaterThan(0);

      expect((await api('repositories/docker.io/library/redis/manifests/7/pin', 'DELETE')).status).toBe(204);
      expect(((await (await api(`repositories/docker.io/library/redis/manifests/${image.digest}`)).json()) as any).pinned).toBe(false);
      expect((await api('repositories/docker.io/library/redis/manifests/7/evict', 'POST')).status).toBe(200);

      await expectOciError(await api('repositories/docker.io/library/redis/manifests/7/pin', 'DELETE'), 404, 'MANIFEST_UNKNOWN');
      await expectOciError(await api('repositories/docker.io/library/busybox/manifests/latest/pin', 'DELETE'), 404, 'NAME_UNKNOWN');
      await expectOciError(await api('repositories/team/app/manifests/1/pin', 'POST'), 404, 'NAME_UNKNOWN');
    } finally {
      await stowage.close();
      await hub.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
