/**
 * A disk that really fills up: a small tmpfs mounted by the test (as root) holds the data
 * directory. A push that cannot be stored, fills that outgrow the disk, and a disk below
 * storage.minFreeSpace — what a client gets, what is left on disk, and that Stowage keeps serving.
 */
import { randomBytes } from 'node:crypto';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOciError, RegistryClient } from '../http/registry-client.js';
import { scrape } from '../metrics/exposition.js';
import { sha256 } from '../support/digests.js';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { mountTmpfs, requireRoot, type Tmpfs } from '../support/tmpfs.js';
import { ManualClock } from '../storage/contracts/support.js';
import type { Digest } from '../../src/oci/digest.js';

const MiB = 1024 * 1024;
const HOUR = 3_600_000;

/** GETs a blob and reads what arrives: a complete body, or a cut (fewer bytes than promised, or an error). */
async function download(url: string, agent: Agent): Promise<{ status: number; bytes: Buffer; complete: boolean }> {
  const res = await fetch(url, { dispatcher: agent });
  const length = Number(res.headers.get('content-length'));
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of res.body!) chunks.push(Buffer.from(chunk));
  } catch {
    // a cut connection
  }
  const bytes = Buffer.concat(chunks);
  return { status: res.status, bytes, complete: res.status === 200 && bytes.length === length };
}

async function ready(stowage: RunningStowage): Promise<{ status: number; body: any }> {
  const res = await fetch(`${stowage.url}/readyz`);
  return { status: res.status, body: await res.json() };
}

describe.runIf(requireRoot())('a full disk', () => {
  describe('a push', () => {
    let disk: Tmpfs;
    let stowage: RunningStowage;
    let client: RegistryClient;
    beforeAll(async () => {
      disk = await mountTmpfs(16 * MiB);
      stowage = await startStowage({ dataDir: disk.path, config: { hosted: ['team/**'], storage: { minFreeSpace: '1MiB' } } });
      client = new RegistryClient(stowage.url);
    });
    afterAll(async () => {
      await client?.close();
      await stowage?.close();
      await disk?.unmount();
    });

    it('that cannot be stored gets 507 with an OCI body, its session is freed at once, and the next push works', async () => {
      const before = await disk.free();
      const location = await client.startUpload('team/app');
      const res = await client.fetch(location, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream' }, body: randomBytes(24 * MiB) });
      await expectOciError(res, 507, 'STORAGE_FULL');
      expect(await disk.free()).toBeGreaterThan(before - MiB);
      expect((await client.fetch(location)).status).toBe(404); // the session is gone

      const layer = randomBytes(MiB);
      await client.pushBlob('team/app', layer);
      expect((await client.fetch(`/v2/team/app/blobs/${sha256(layer)}`, { method: 'HEAD' })).status).toBe(200);
      expect((await ready(stowage)).status).toBe(200);
    });

    it('a monolithic one too: 507, and nothing of it is left', async () => {
      const before = await disk.free();
      const body = randomBytes(20 * MiB);
      const res = await client.fetch(`/v2/team/app/blobs/uploads/?digest=${sha256(body)}`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body });
      await expectOciError(res, 507, 'STORAGE_FULL');
      expect(await disk.free()).toBeGreaterThan(before - MiB);
      expect(await stowage.app.storage.uploads.list()).toEqual([]);
    });
  });

  describe('fills', () => {
    let disk: Tmpfs;
    let hub: FakeHub;
    let stowage: RunningStowage;
    let agent: Agent;
    const blobUrl = (digest: string): string => `${stowage.url}/v2/library/data/blobs/${digest}`;
    beforeAll(async () => {
      disk = await mountTmpfs(16 * MiB);
      hub = await startFakeHub();
      stowage = await startStowage({
        dataDir: disk.path,
        config: { hosted: ['team/**'], upstreams: { 'docker.io': { url: hub.url } }, defaultUpstream: 'docker.io', storage: { minFreeSpace: '1MiB' } },
      });
      agent = new Agent();
      await stowage.app.services.freeSpace.check();
    });
    afterAll(async () => {
      await agent?.destroy();
      await stowage?.close();
      await hub?.close();
      await disk?.unmount();
    });

    const nothingPartial = async (): Promise<void> => {
      await stowage.app.services.fills.settled();
      expect(await stowage.app.storage.spool.list()).toEqual([]);
    };

    it('a blob larger than the free space is streamed through, complete and verified, and not stored', async () => {
      const digest = hub.addBlob('library/data', randomBytes(24 * MiB));
      const got = await download(blobUrl(digest), agent);
      expect(got.complete).toBe(true);
      expect(sha256(got.bytes)).toBe(digest);
      await nothingPartial();
      expect(await stowage.app.storage.blobs.stat(digest as Digest)).toBeNull();
    });

    it('fills that outgrow the disk together: a cut, never wrong bytes; nothing partial left; Stowage keeps serving', async () => {
      const small = hub.addBlob('library/data', randomBytes(100_000));
      expect((await download(blobUrl(small), agent)).complete).toBe(true);
      await stowage.app.services.freeSpace.check();
      // Each fits alone; together they do not (2 × 9 MiB on a 16 MiB disk).
      const blobs = [randomBytes(9 * MiB), randomBytes(9 * MiB)];
      const digests = blobs.map((b) => hub.addBlob('library/data', b));
      hub.faults.bandwidth = 30 * MiB; // both in flight at once
      const results = await Promise.all(digests.map((d) => download(blobUrl(d), agent)));
      hub.faults.bandwidth = null;
      for (const [i, got] of results.entries()) {
        if (got.complete) expect(sha256(got.bytes)).toBe(digests[i]);
        else expect(got.bytes.length).toBeLessThan(9 * MiB);
      }
      expect(results.filter((r) => !r.complete).length).toBeGreaterThan(0);
      await nothingPartial();
      for (const [i, got] of results.entries()) {
        expect((await stowage.app.storage.blobs.stat(digests[i] as Digest)) !== null).toBe(got.complete);
      }

      // Still serving: what it has, readiness, and the blob that was cut (now streamed through: it no longer fits).
      expect(sha256((await download(blobUrl(small), agent)).bytes)).toBe(small);
      expect((await ready(stowage)).status).toBe(200);
      await stowage.app.services.freeSpace.check();
      const cut = digests[results.findIndex((r) => !r.complete)]!;
      const again = await download(blobUrl(cut), agent);
      expect(again.complete).toBe(true);
      expect(sha256(again.bytes)).toBe(cut);
      await nothingPartial();
    });
  });

  describe('below storage.minFreeSpace', () => {
    let disk: Tmpfs;
    let hub: FakeHub;
    let stowage: RunningStowage;
    let agent: Agent;
    const clock = new ManualClock(Date.now());
    beforeAll(async () => {
      disk = await mountTmpfs(32 * MiB);
      hub = await startFakeHub();
      stowage = await startStowage({
        dataDir: disk.path,
        config: { hosted: ['team/**'], upstreams: { 'docker.io': { url: hub.url } }, defaultUpstream: 'docker.io', storage: { minFreeSpace: '20MiB' } },
        app: { now: clock.now },
      });
      agent = new Agent();
    });
    afterAll(async () => {
      await agent?.destroy();
      await stowage?.close();
      await hub?.close();
      await disk?.unmount();
    });

    it('passes blobs through (one upstream download for concurrent readers), evicts toward the target, and says so; readiness stays up', async () => {
      const { freeSpace, fills } = stowage.app.services;
      const cached = [randomBytes(5 * MiB), randomBytes(5 * MiB)].map((b) => hub.addBlob('library/data', b));
      for (const digest of cached) {
        await freeSpace.check();
        expect((await download(`${stowage.url}/v2/library/data/blobs/${digest}`, agent)).complete).toBe(true);
        await fills.settled();
      }
      expect((await stowage.app.storage.eviction.totals()).objects).toBe(2);
      // Hosted content takes the disk below the minimum (pushes do not wait for space).
      const client = new RegistryClient(stowage.url);
      await client.pushBlob('team/app', randomBytes(7 * MiB));
      await client.close();
      expect((await freeSpace.check())?.low).toBe(true);
      const metrics = await scrape(stowage.url);
      expect(metrics.value('stowage_storage_low_space')).toBe(1);
      expect(metrics.value('stowage_storage_free_bytes')).toBe(freeSpace.state!.freeBytes);
      const readiness = await ready(stowage);
      expect(readiness).toMatchObject({ status: 200, body: { status: 'ready', checks: { freeSpace: 'low' } } });

      // Three clients at once for a blob not cached: one upstream download, each gets it whole; nothing is stored.
      const digest = hub.addBlob('library/data', randomBytes(3 * MiB));
      hub.reset();
      hub.faults.bandwidth = 10 * MiB;
      const got = await Promise.all([1, 2, 3].map(() => download(`${stowage.url}/v2/library/data/blobs/${digest}`, agent)));
      hub.faults.bandwidth = null;
      for (const g of got) expect(sha256(g.bytes)).toBe(digest);
      expect(hub.count((r) => r.kind === 'blob' && r.method === 'GET' && r.status === 200)).toBe(1);
      await fills.settled();
      expect(await stowage.app.storage.blobs.stat(digest as Digest)).toBeNull();

      // Cached content was just used (protected for 10 minutes); later it is evicted to make room.
      clock.advance(HOUR);
      const after = await freeSpace.check();
      expect(after?.low).toBe(false);
      const stats = (await (await fetch(`${stowage.url}/api/v1/stats`)).json()) as any;
      expect(stats.storage.evictions).toBe(2);
      expect(stats.storage.disk).toMatchObject({ low: false, minFreeBytes: 20 * MiB });
      expect((await scrape(stowage.url)).value('stowage_storage_low_space')).toBe(0);
    });
  });
});
