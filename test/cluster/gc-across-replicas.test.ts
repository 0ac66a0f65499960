/**
 * Issue 13, "what N replicas must do", 4: GC runs once for the cluster and stays safe against pushes
 * on any replica. Two replicas share a bucket and a Redis (and a test clock that moves GC's grace
 * period): pushes through B race GC runs started on A, a run waits for a push in flight on the other
 * replica, a second run anywhere is refused while one goes on, a scheduled GC runs on one replica
 * per interval, and without Redis GC does not run while pushes still do.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fetch, type Response } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient, bytesOf } from '../http/registry-client.js';
import { expectComplete, HOUR, makeImage, pushLikeDocker, random } from '../lifecycle/support/hosted-fixture.js';
import { scrape } from '../metrics/exposition.js';
import { ManualClock } from '../storage/contracts/support.js';
import { requireTool, waitFor } from '../support/processes.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { startStowageCluster, sharedStore, type StowageCluster } from '../support/stowage-cluster.js';

const gcOn = (url: string): Promise<Response> => fetch(`${url}/api/v1/gc`, { method: 'POST', headers: { 'X-Stowage-CSRF': '1' } });

async function report(res: Response): Promise<{ blobsRemoved: number; spared: number }> {
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return JSON.parse(text);
}

/** With a lock per replica (LocalContentLock) a push loses a blob within the first rounds. */
const ROUNDS = 10;

describe.skipIf(!requireTool('redis-server') || !sharedStore())('garbage collection with replicas', () => {
  let redis: RedisServer;
  let cluster: StowageCluster;
  let a: RegistryClient;
  let b: RegistryClient;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    redis = await startRedis();
    cluster = await startStowageCluster({ replicas: 2, redisUrl: redis.url, config: { hosted: ['team/**'] }, app: { now: clock.now } });
    [a, b] = cluster.replicas.map((r) => new RegistryClient(r.url)) as [RegistryClient, RegistryClient];
    await Promise.all(cluster.replicas.map((r) => r.app.storage.indexed));
  }, 30_000);
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await cluster?.close();
    await redis?.stop();
  });

  it('pushes through one replica racing GC runs on the other always end with complete images (randomized rounds)', async () => {
    const seed = Number(process.env.GC_RACE_SEED ?? Date.now() % 1_000_000);
    const next = random(seed);
    // Layers of earlier rounds' images, deleted since and out of their grace period: GC candidates
    // that this round's push finds with a HEAD on B and does not upload again (the classic race).
    let leftovers: Buffer[] = [];
    let removed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const reused = leftovers.filter(() => next() < 0.7);
      const fresh = Array.from({ length: 1 + Math.floor(next() * 2) }, (_, i) => bytesOf(`seed ${seed} round ${round} layer ${i}`, 1000 + Math.floor(next() * 20_000)));
      const image = makeImage(`cluster seed ${seed} round ${round}`, [...reused, ...fresh]);
      const gcAfter = next() * 60;
      const [push, gc] = await Promise.all([
        pushLikeDocker(b, 'team/race', `r${round}`, image).then(async (res) => ({ status: res.status, body: await res.text() })),
        sleep(gcAfter).then(async () => report(await gcOn(cluster.replicas[0]!.url))),
      ]);
      expect(push, `seed ${seed}, round ${round}, GC after ${gcAfter.toFixed(1)} ms`).toMatchObject({ status: 201 });
      await expectComplete(a, 'team/race', `r${round}`, image);
      removed += gc.blobsRemoved;

      expect((await b.fetch(`/v2/team/race/manifests/${image.digest}`, { method: 'DELETE' })).status).toBe(202);
      leftovers = [...image.layers, image.config].slice(-4);
      clock.advance(2 * HOUR);
    }
    // The runs did delete while pushes went on: the race was real, and no push lost a blob.
    expect(removed, `seed ${seed}`).toBeGreaterThan(ROUNDS / 2);
  }, 180_000);

  it('a run waits for a push in flight on the other replica, and a second run on the other replica is refused meanwhile', async () => {
    const [replicaA, replicaB] = cluster.replicas as [(typeof cluster.replicas)[0], (typeof cluster.replicas)[0]];
    // A push on B between its checks and its writes (what a manifest PUT or an upload commit holds).
    let finishPush!: () => void;
    const held = new Promise<void>((resolve) => (finishPush = resolve));
    const push = replicaB.app.services.content.hold(['sha256:' + '0'.repeat(64)], () => held);
    const run = gcOn(replicaA.url);
    let done = false;
    void run.then(() => (done = true));
    await sleep(500);
    expect(done, 'the run on A went on while a push on B was in flight').toBe(false);
    // (A second request on A joins A's run, as with one process.)
    const second = await gcOn(replicaB.url);
    expect(second.status).toBe(409);
    expect((await second.json()) as unknown).toMatchObject({ errors: [{ code: 'UNSUPPORTED' }] });
    finishPush();
    await push;
    await report(await run);
    // Once it ended, B may run one.
    await report(await gcOn(replicaB.url));
  });

  it('without Redis, pushes go on and GC does not run (503) until Redis is back', async () => {
    const [replicaA] = cluster.replicas;
    redis.pause();
    try {
      await waitFor(() => cluster.replicas.every((r) => !r.app.services.cluster!.link.up), { timeoutMs: 10_000, description: 'both replicas noticing Redis is away' });
      const image = makeImage('pushed without Redis', [bytesOf('no redis layer', 5000)]);
      expect((await pushLikeDocker(a, 'team/alone', 'v1', image)).status).toBe(201);
      await expectComplete(b, 'team/alone', 'v1', image);
      const refused = await gcOn(replicaA!.url);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('30');
      expect((await refused.json()) as unknown).toMatchObject({ errors: [{ code: 'UNAVAILABLE' }] });
      expect((await scrape(replicaA!.url)).sum('stowage_cluster_lock_unregistered_total')).toBeGreaterThan(0);
    } finally {
      redis.resume();
    }
    await waitFor(() => cluster.replicas.every((r) => r.app.services.cluster!.link.up), { timeoutMs: 10_000, description: 'both replicas back on Redis' });
    await report(await gcOn(replicaA!.url));
  });
});

describe.skipIf(!requireTool('redis-server') || !sharedStore())('scheduled garbage collection with replicas', () => {
  it('runs on one replica per gc.interval, not on each', async () => {
    const redis = await startRedis();
    const started = Date.now();
    const cluster = await startStowageCluster({ replicas: 2, redisUrl: redis.url, config: { hosted: ['team/**'], gc: { interval: '1s' } } });
    try {
      await sleep(4_500);
      let runs = 0;
      for (const replica of cluster.replicas) runs += (await scrape(replica.url)).sum('stowage_gc_runs_total');
      const intervals = (Date.now() - started) / 1000;
      // Each replica's timer fired up to `intervals` times (twice that in all); one per interval ran.
      expect(runs).toBeGreaterThanOrEqual(2);
      expect(runs).toBeLessThanOrEqual(Math.ceil(intervals / 0.9));
    } finally {
      await cluster.close();
      await redis.stop();
    }
  }, 30_000);
});
