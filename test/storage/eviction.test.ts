import { afterEach, describe, expect, it } from 'vitest';
import { sha256 as digestOf } from '../support/digests.js';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';

const MINUTE = 60_000;

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('eviction by size (storage.maxSize)', () => {
  let hub: FakeHub;
  let stowage: RunningStowage;
  let now = Date.now();
  afterEach(async () => {
    await stowage?.close();
    await hub?.close();
  });

  async function start(dataDir?: string): Promise<RunningStowage> {
    return startStowage({
      ...(dataDir ? { dataDir } : {}),
      config: {
        hosted: ['team/**'],
        upstreams: { 'docker.io': { url: hub.url } },
        defaultUpstream: 'docker.io',
        storage: { maxSize: 150_000 },
      },
      app: { now: () => now },
    });
  }

  const pull = async (repo: string, digest: string): Promise<string> => {
    const response = await fetch(`${stowage.url}/v2/${repo}/blobs/${digest}`);
    expect(response.status).toBe(200);
    return digestOf(new Uint8Array(await response.arrayBuffer()));
  };

  it('evicts the least recently used cached blobs, never recent or hosted ones, and rebuilds at start', async () => {
    hub = await startFakeHub({ auth: 'none' });
    const a = hub.addImage('library/a', 'latest', { layerCount: 1, layerSize: 60_000 }).layers[0]!;
    const b = hub.addImage('library/b', 'latest', { layerCount: 1, layerSize: 60_000 }).layers[0]!;
    const c = hub.addImage('library/c', 'latest', { layerCount: 1, layerSize: 60_000 }).layers[0]!;
    stowage = await start();
    await stowage.app.storage.indexed;

    // A hosted blob, older than everything: never evicted, and not counted against the budget.
    const hostedBytes = Buffer.alloc(100_000, 7);
    const hostedDigest = digestOf(hostedBytes);
    const push = await fetch(`${stowage.url}/v2/team/app/blobs/uploads/?digest=${hostedDigest}`, { method: 'POST', body: hostedBytes });
    expect(push.status).toBe(201);

    const totals = () => stowage.app.storage.eviction.totals();
    // The index learns of a fill just after its response ended: wait, so each gets its own time.
    expect(await pull('library/a', a.digest)).toBe(a.digest);
    await waitFor(async () => (await totals()).objects === 1);
    now += 20 * MINUTE;
    expect(await pull('library/b', b.digest)).toBe(b.digest);
    await waitFor(async () => (await totals()).objects === 2);
    now += 20 * MINUTE;
    // 180 kB of cache > 150 kB: a (least recently used, outside the protection window) goes.
    expect(await pull('library/c', c.digest)).toBe(c.digest);
    // The fill registers c once committed, which starts an eviction pass; wait for both.
    await waitFor(async () => {
      const { objects, bytes } = await totals();
      return objects === 2 && bytes <= 150_000;
    });
    expect((await totals()).objects).toBe(2);

    hub.reset();
    expect(await pull('library/b', b.digest)).toBe(b.digest);
    expect(await pull('library/c', c.digest)).toBe(c.digest);
    expect(hub.count({ kind: 'blob', method: 'GET' })).toBe(0);
    const hosted = await fetch(`${stowage.url}/v2/team/app/blobs/${hostedDigest}`);
    expect(digestOf(new Uint8Array(await hosted.arrayBuffer()))).toBe(hostedDigest);

    // a was evicted: the next GET fills it again from the upstream, with the right bytes.
    expect(await pull('library/a', a.digest)).toBe(a.digest);
    expect(hub.count({ kind: 'blob', method: 'GET' })).toBe(1);

    // Three cached blobs (180 kB) are over budget, but all were just used: nothing is evicted.
    await waitFor(async () => (await totals()).objects === 3);
    expect(await totals()).toEqual({ bytes: 180_000, objects: 3, pinnedBytes: 0 });

    // After a restart the index is rebuilt from disk (hosted content excluded) and, once the
    // protection window has passed, the budget is enforced again.
    const dataDir = stowage.dataDir;
    await stowage.app.server.close();
    await stowage.app.close();
    now += 20 * MINUTE;
    stowage = await start(dataDir);
    await stowage.app.storage.indexed;
    await waitFor(async () => (await totals()).bytes <= 150_000);
    expect((await totals()).objects).toBe(2);
    const stillHosted = await fetch(`${stowage.url}/v2/team/app/blobs/${hostedDigest}`);
    expect(digestOf(new Uint8Array(await stillHosted.arrayBuffer()))).toBe(hostedDigest);
  });
});
