/**
 * Issue 13, "what N replicas must do", 4: the LRU budget and pins are global. Two replicas share a
 * bucket whose cache budget (`storage.maxSize`) is one for the bucket: each reports the cluster's
 * total, a blob read through one replica is recently used for the other's evictions, and an image
 * pinned through one replica is never evicted by the other.
 */
import { createHash } from 'node:crypto';
import { fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrape } from '../metrics/exposition.js';
import { ManualClock } from '../storage/contracts/support.js';
import { ACCEPT_ALL_MANIFESTS } from '../support/digests.js';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { requireTool, waitFor } from '../support/processes.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { startStowageCluster, sharedStore, type StowageCluster } from '../support/stowage-cluster.js';

const MiB = 1024 * 1024;
const SECOND = 1000;
/** Past the protection window (10 minutes after the last use). */
const LATER = 11 * 60 * SECOND;

describe.skipIf(!requireTool('redis-server') || !sharedStore())('one cache budget for replicas sharing a bucket', () => {
  let hub: FakeHub;
  let redis: RedisServer;
  let cluster: StowageCluster;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    [hub, redis] = await Promise.all([startFakeHub({ auth: 'anonymous-token' }), startRedis()]);
    cluster = await startStowageCluster({
      replicas: 2,
      redisUrl: redis.url,
      config: { hosted: ['team/**'], upstreams: { 'docker.io': { url: hub.url, tagTtl: '1h' } }, defaultUpstream: 'docker.io', storage: { maxSize: '10MiB' } },
      app: { now: clock.now },
    });
    await Promise.all(cluster.replicas.map((r) => r.app.storage.indexed));
  }, 30_000);
  afterAll(async () => {
    await cluster?.close();
    await Promise.all([hub?.close(), redis?.stop()]);
  });

  const layers = new Map<string, string>();
  const layerOf = (name: string): string => {
    if (!layers.has(name)) layers.set(name, hub.addImage(`library/${name}`, 'v1', { layerCount: 1, layerSize: 4 * MiB }).layers[0]!.digest);
    return layers.get(name)!;
  };
  async function pull(replica: number, name: string): Promise<void> {
    const digest = layerOf(name);
    const res = await fetch(`${cluster.replicas[replica]!.url}/v2/library/${name}/blobs/${digest}`);
    expect(res.status).toBe(200);
    expect(`sha256:${createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex')}`).toBe(digest);
    // A fill enters the index once stored, which may be after its client got the last byte: the
    // next pull's time must come after it (or a later read would look older than this fill).
    await cluster.replicas[replica]!.app.services.fills.settled();
    clock.advance(SECOND);
  }
  const stored = async (name: string): Promise<boolean> => (await cluster.replicas[0]!.app.storage.blobs.stat(layerOf(name) as never)) !== null;
  const cacheBytes = async (replica: number): Promise<number> => (await scrape(cluster.replicas[replica]!.url)).sum('stowage_cache_size_bytes');

  it('evicts the least recently used blob of the whole bucket, counting reads on either replica', async () => {
    await pull(0, 'x');
    await pull(1, 'y');
    await pull(1, 'x'); // read again, through the other replica: now more recent than y
    // Each replica reports the bucket's cache, not what it filled itself (read every 5 s).
    await waitFor(async () => (await cacheBytes(0)) === 8 * MiB && (await cacheBytes(1)) === 8 * MiB, { timeoutMs: 30_000, description: 'both replicas reporting 8 MiB' });

    clock.advance(LATER);
    await pull(0, 'z'); // 12 MiB > 10 MiB: down to 9 MiB, least recently used first
    await waitFor(async () => !(await stored('y')), { timeoutMs: 30_000, description: 'y evicted' });
    expect([await stored('x'), await stored('z')]).toEqual([true, true]);
    await waitFor(async () => (await cacheBytes(0)) === 8 * MiB && (await cacheBytes(1)) === 8 * MiB, { timeoutMs: 30_000, description: 'both replicas reporting 8 MiB after the eviction' });
  }, 90_000);

  it('an image pinned through one replica is never evicted by the other', async () => {
    expect([await stored('x'), await stored('z')]).toEqual([true, true]);
    const manifest = await fetch(`${cluster.replicas[1]!.url}/v2/library/x/manifests/v1`, { headers: { accept: ACCEPT_ALL_MANIFESTS } });
    expect(manifest.status).toBe(200);
    await manifest.arrayBuffer();
    const pin = await fetch(`${cluster.replicas[1]!.url}/api/v1/repositories/docker.io/library/x/manifests/v1/pin`, { method: 'POST', headers: { 'X-Stowage-CSRF': '1' } });
    expect(pin.status, await pin.text()).toBe(200);

    clock.advance(LATER);
    await pull(0, 'w'); // x is the least recently used, but pinned: z goes
    await waitFor(async () => !(await stored('z')), { timeoutMs: 30_000, description: 'z evicted' });
    expect([await stored('x'), await stored('w')]).toEqual([true, true]);
  }, 90_000);
});
