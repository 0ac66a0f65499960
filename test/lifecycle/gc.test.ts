import { afterEach, describe, expect, it } from 'vitest';
import { bytesOf } from '../http/registry-client.js';
import { sha256 } from '../support/digests.js';
import type { Digest } from '../../src/oci/digest.js';
import {
  blobStatus,
  expectComplete,
  HOUR,
  makeImage,
  makeIndex,
  pushLikeDocker,
  putManifest,
  startHostedFixture,
  type HostedFixture,
} from './support/hosted-fixture.js';

let f: HostedFixture | null = null;
afterEach(async () => {
  await f?.close();
  f = null;
});

const stored = async (digest: string): Promise<boolean> => (await f!.stowage.app.storage.blobs.stat(digest as Digest)) !== null;

describe('garbage collection of hosted content', () => {
  it('keeps what tags reach across repositories, indexes and referrers; removes the rest once out of grace', async () => {
    f = await startHostedFixture();
    const { client } = f;
    const shared = bytesOf('shared layer', 3000);
    const a = makeImage('a', [shared, bytesOf('a only', 2000)]);
    const b = makeImage('b', [shared]);
    const amd = makeImage('amd', [bytesOf('amd layer', 1500)]);
    const arm = makeImage('arm', [bytesOf('arm layer', 1600)]);
    const index = makeIndex([amd, arm]);
    const signature = makeImage('sig', [bytesOf('signature payload', 300)], { subject: a, artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json' });
    const gone = makeImage('gone', [shared, bytesOf('gone only', 2500)]);
    const orphan = bytesOf('uploaded, never referenced', 1200);

    expect((await pushLikeDocker(client, 'team/a', 'v1', a)).status).toBe(201);
    expect((await pushLikeDocker(client, 'team/b', 'v1', b)).status).toBe(201);
    for (const child of [amd, arm]) expect((await pushLikeDocker(client, 'team/multi', child.digest, child)).status).toBe(201);
    await putManifest(client, 'team/multi', 'latest', index.bytes, index.mediaType);
    expect((await pushLikeDocker(client, 'team/a', signature.digest, signature)).status).toBe(201); // untagged referrer of a
    expect((await pushLikeDocker(client, 'team/a', 'old', gone)).status).toBe(201);
    await client.pushBlob('team/a', orphan);
    // Registry deletes only unlink: the bytes stay until GC.
    expect((await client.fetch(`/v2/team/a/manifests/${gone.digest}`, { method: 'DELETE' })).status).toBe(202);
    expect(await stored(gone.digest)).toBe(true);

    // Within the grace period nothing goes.
    const early = await f.gc();
    expect(early).toMatchObject({ dryRun: false, blobsRemoved: 0, linksRemoved: 0, manifestsRemoved: 0, bytesReclaimed: 0 });

    f.clock.advance(2 * HOUR);
    const garbage = [gone.config, gone.layers[1]!, gone.manifest, orphan];
    const report = await f.gc();
    expect(report).toMatchObject({
      dryRun: false,
      blobsRemoved: 4,
      linksRemoved: 3, // gone's config and own layer, the orphan; its shared layer is a's too
      manifestsRemoved: 0,
      bytesReclaimed: garbage.reduce((sum, g) => sum + g.length, 0),
    });
    expect(report.durationMs).toBeGreaterThanOrEqual(0);
    for (const g of garbage) {
      expect(await stored(sha256(g))).toBe(false);
      expect(await blobStatus(client, 'team/a', sha256(g))).toBe(404);
    }
    await expectComplete(client, 'team/a', 'v1', a);
    await expectComplete(client, 'team/b', 'v1', b);
    await expectComplete(client, 'team/a', signature.digest, signature);
    await expectComplete(client, 'team/multi', amd.digest, amd);
    await expectComplete(client, 'team/multi', arm.digest, arm);
    const listed = await client.fetch(`/v2/team/multi/manifests/latest`, { headers: { Accept: index.mediaType } });
    expect(sha256(Buffer.from(await listed.arrayBuffer()))).toBe(index.digest);
    const referrers = (await (await client.fetch(`/v2/team/a/referrers/${a.digest}`)).json()) as any;
    expect(referrers.manifests.map((m: any) => m.digest)).toEqual([signature.digest]);

    // A second run finds nothing left to do.
    expect(await f.gc()).toMatchObject({ blobsRemoved: 0, linksRemoved: 0 });
  });

  it('a dry run reports what a run would remove and changes nothing', async () => {
    f = await startHostedFixture();
    const image = makeImage('dry', [bytesOf('dry layer', 4000)]);
    expect((await pushLikeDocker(f.client, 'team/dry', 'v1', image)).status).toBe(201);
    expect((await f.client.fetch(`/v2/team/dry/manifests/${image.digest}`, { method: 'DELETE' })).status).toBe(202);
    f.clock.advance(2 * HOUR);

    const dry = await f.gc({ dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, blobsRemoved: 3, linksRemoved: 2 });
    // (Asked of the store, not with a HEAD: a client's HEAD would refresh the grace period.)
    for (const blob of [image.config, image.layers[0]!, image.manifest]) expect(await stored(sha256(blob))).toBe(true);

    const real = await f.gc();
    expect({ blobs: real.blobsRemoved, links: real.linksRemoved, bytes: real.bytesReclaimed }).toEqual({ blobs: dry.blobsRemoved, links: dry.linksRemoved, bytes: dry.bytesReclaimed });
    for (const blob of [image.config, image.layers[0]!, image.manifest]) expect(await stored(sha256(blob))).toBe(false);
  });

  it('after a blob is collected nothing claims it exists: a re-push uploads it again', async () => {
    f = await startHostedFixture();
    const layer = bytesOf('collected then pushed again', 5000);
    await f.client.pushBlob('team/app', layer);
    expect(await blobStatus(f.client, 'team/app', sha256(layer))).toBe(200); // cached as linked in memory
    f.clock.advance(2 * HOUR);
    expect((await f.gc()).blobsRemoved).toBe(1);

    expect(await blobStatus(f.client, 'team/app', sha256(layer))).toBe(404);
    const image = makeImage('again', [layer]);
    let uploads = 0;
    for (const blob of [image.config, layer]) {
      if ((await blobStatus(f.client, 'team/app', sha256(blob))) === 404) {
        await f.client.pushBlob('team/app', blob);
        uploads++;
      }
    }
    expect(uploads).toBe(2);
    await putManifest(f.client, 'team/app', 'v1', image.manifest, image.mediaType);
    await expectComplete(f.client, 'team/app', 'v1', image);
  });

  it('a HEAD of an old unreferenced blob refreshes its grace period: the manifest that relies on it still goes in', async () => {
    f = await startHostedFixture();
    const layer = bytesOf('pushed long ago', 2000);
    await f.client.pushBlob('team/app', layer);
    f.clock.advance(2 * HOUR);
    // docker push: HEAD says 200, so the layer is not uploaded again...
    expect(await blobStatus(f.client, 'team/app', sha256(layer))).toBe(200);
    // ...a GC run comes between the HEAD and the manifest...
    expect((await f.gc()).blobsRemoved).toBe(0);
    // ...and the manifest PUT still finds the layer.
    const image = makeImage('relies', [layer]);
    await f.client.pushBlob('team/app', image.config);
    await putManifest(f.client, 'team/app', 'v1', image.manifest, image.mediaType);
    await expectComplete(f.client, 'team/app', 'v1', image);
  });

  it('collects one repository with POST /v2/<name>/_gc, leaving the others alone', async () => {
    f = await startHostedFixture();
    const one = bytesOf('orphan in one', 1000);
    const other = bytesOf('orphan in other', 1000);
    await f.client.pushBlob('team/one', one);
    await f.client.pushBlob('team/other', other);
    f.clock.advance(2 * HOUR);
    const res = await f.client.fetch('/v2/team/one/_gc', { method: 'POST' });
    const report = (await res.json()) as any;
    expect(res.status).toBe(200);
    expect(report).toMatchObject({ repository: 'team/one', blobsRemoved: 1, linksRemoved: 1 });
    expect(await stored(sha256(one))).toBe(false);
    expect(await stored(sha256(other))).toBe(true);
  });
});

describe('garbage collection and cached content', () => {
  it('never deletes cached blobs; one that only cached content still uses goes back under the LRU budget', async () => {
    const { startFakeHub } = await import('../support/fake-hub.js');
    const hub = await startFakeHub();
    try {
      f = await startHostedFixture({ upstreams: { 'docker.io': { url: hub.url, tagTtl: '1h' } }, defaultUpstream: 'docker.io' });
      const image = hub.addImage('library/alpine', '3.20', { layerCount: 1, layerSize: 6000 });
      const layer = image.layers[0]!.digest;
      const pulled = await f.client.fetch(`/v2/library/alpine/blobs/${layer}`);
      expect(pulled.status).toBe(200);
      await pulled.arrayBuffer();
      await f.stowage.app.services.fills.settled();
      const cached = async (): Promise<number> => (await f!.stowage.app.storage.eviction.totals()).objects;
      const before = await cached();

      // Mounted into a hosted repository: hosted content now, out of the cache's accounting.
      const mount = await f.client.fetch(`/v2/team/app/blobs/uploads/?mount=${layer}&from=docker.io/library/alpine`, { method: 'POST' });
      expect(mount.status).toBe(201);
      expect(await cached()).toBe(before - 1);

      f.clock.advance(2 * HOUR);
      const report = await f.gc();
      expect(report).toMatchObject({ blobsRemoved: 0, linksRemoved: 1, blobsReturnedToCache: 1 });
      expect(await cached()).toBe(before);
      expect(await blobStatus(f.client, 'team/app', layer)).toBe(404);
      const again = await f.client.fetch(`/v2/library/alpine/blobs/${layer}`);
      expect(again.status).toBe(200);
      expect(sha256(Buffer.from(await again.arrayBuffer()))).toBe(layer);
    } finally {
      await hub.close();
    }
  });
});
