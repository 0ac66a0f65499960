/**
 * Issue 13, "what N replicas must do", 6: losing Redis degrades, never corrupts. While Redis is
 * frozen (SIGSTOP: connections hang, as in a partition) or gone (stopped), the replicas keep serving
 * what is stored and download what is not each on their own; metrics and the readiness details say
 * so while /readyz stays 200; when Redis is back they coordinate again.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrape } from '../metrics/exposition.js';
import { ACCEPT_ALL_MANIFESTS } from '../support/digests.js';
import type { FakeHub } from '../support/fake-hub.js';
import { requireTool, waitFor } from '../support/processes.js';
import { startRedis } from '../support/redis-server.js';
import { startMirrorCluster, type MirrorCluster, type StowageCluster, sharedStore } from '../support/stowage-cluster.js';

const MB = 1024 * 1024;

async function blobDigest(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return `sha256:${createHash('sha256').update(Buffer.from(await response.arrayBuffer())).digest('hex')}`;
}

async function readiness(url: string): Promise<{ status: number; redis: string | undefined }> {
  const response = await fetch(`${url}/readyz`);
  const body = (await response.json()) as { checks: { redis?: string } };
  return { status: response.status, redis: body.checks.redis };
}

describe.skipIf(!requireTool('redis-server') || !sharedStore())('replicas without Redis', () => {
  let fixture: MirrorCluster;
  let hub: FakeHub;
  let cluster: StowageCluster;

  beforeAll(async () => {
    fixture = await startMirrorCluster({ replicas: 2, upstream: { tagTtl: '1h' }, hub: { cdn: true } });
    ({ hub, cluster } = fixture);
  }, 30_000);
  afterAll(async () => {
    await fixture?.close();
  });

  const allSay = async (redisCheck: string, connected: number): Promise<boolean> => {
    for (const replica of cluster.replicas) {
      const ready = await readiness(replica.url);
      if (ready.status !== 200 || ready.redis !== redisCheck) return false;
      if ((await scrape(replica.url)).sum('stowage_cluster_redis_connected') !== connected) return false;
    }
    return true;
  };

  /** 10 clients over both replicas for a cold blob; returns how many upstream downloads it took. */
  async function coldDownloads(repository: string): Promise<number> {
    const layer = hub.addImage(repository, 'v1', { layerCount: 1, layerSize: 4 * MB }).layers[0]!;
    hub.reset();
    hub.faults.bandwidth = 8 * MB;
    const digests = await Promise.all(
      Array.from({ length: 10 }, (_, i) => blobDigest(`${cluster.replicas[i % 2]!.url}/v2/${repository}/blobs/${layer.digest}`)),
    );
    expect(digests).toEqual(Array(10).fill(layer.digest));
    return hub.count({ kind: 'cdn' });
  }

  it('frozen: stored content is served, cold blobs are downloaded by each replica, /readyz stays 200 and says so; then they coordinate again', async () => {
    const image = hub.addImage('library/kept', 'v1', { layerCount: 1, layerSize: 100_000 });
    const [a, b] = cluster.replicas;
    const manifestUrl = (url: string): string => `${url}/v2/library/kept/manifests/v1`;
    expect((await fetch(manifestUrl(a!.url), { headers: { accept: ACCEPT_ALL_MANIFESTS } })).status).toBe(200);
    expect(await blobDigest(`${a!.url}/v2/library/kept/blobs/${image.layers[0]!.digest}`)).toBe(image.layers[0]!.digest);
    expect(await allSay('ok', 1)).toBe(true);

    fixture.redis.pause();
    try {
      await waitFor(() => allSay('unavailable', 0), { timeoutMs: 10_000, description: 'both replicas reporting Redis unavailable' });
      hub.reset();
      for (const replica of [a!, b!]) {
        const manifest = await fetch(manifestUrl(replica.url), { headers: { accept: ACCEPT_ALL_MANIFESTS } });
        expect(manifest.status).toBe(200);
        expect(manifest.headers.get('docker-content-digest')).toBe(image.digest);
        expect(await blobDigest(`${replica.url}/v2/library/kept/blobs/${image.layers[0]!.digest}`)).toBe(image.layers[0]!.digest);
      }
      expect(hub.count({ kind: 'cdn' })).toBe(0);
      // Cold content still works, downloaded by each replica on its own (never more than once each).
      const downloads = await coldDownloads('library/partitioned');
      expect(downloads).toBeGreaterThanOrEqual(1);
      expect(downloads).toBeLessThanOrEqual(2);
    } finally {
      fixture.redis.resume();
    }
    await waitFor(() => allSay('ok', 1), { timeoutMs: 10_000, description: 'both replicas reporting Redis back' });
    expect(await coldDownloads('library/reunited')).toBe(1);
  }, 60_000);

  it('stopped and started again: the replicas reconnect and coordinate again', async () => {
    const port = fixture.redis.port;
    await fixture.redis.stop();
    await waitFor(() => allSay('unavailable', 0), { timeoutMs: 10_000, description: 'both replicas reporting Redis gone' });
    expect(await coldDownloads('library/alone')).toBeLessThanOrEqual(2);
    fixture.redis = await startRedis({ port });
    await waitFor(() => allSay('ok', 1), { timeoutMs: 15_000, description: 'both replicas reconnected' });
    expect(await coldDownloads('library/together')).toBe(1);
  }, 60_000);
});
