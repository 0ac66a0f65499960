import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../../src/oci/media-types.js';
import { jsonBytes } from '../http/registry-client.js';
import { expectOciError } from '../http/registry-client.js';
import { scrape } from '../metrics/exposition.js';
import { sha256 } from '../support/digests.js';
import type { FakeImage } from '../support/fake-hub.js';
import { addIndexWithAttestation } from '../api/support/api-fixture.js';
import { startPrefetchFixture, type PrefetchFixture } from './support/prefetch-fixture.js';

const HOUR = 3_600_000;

describe('prefetch', () => {
  let f: PrefetchFixture;
  let alpine: ReturnType<typeof addIndexWithAttestation>;
  let pinned: FakeImage;
  let signature: string;
  const busybox: FakeImage[] = [];

  beforeAll(async () => {
    f = await startPrefetchFixture((hub) => {
      alpine = addIndexWithAttestation(hub, 'library/alpine', '3.20', 20_000);
      // The attestation the index lists, and its config (the helper adds neither to the hub).
      const attestation = jsonBytes({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256('{}'), size: 2 }, layers: [] });
      hub.addManifest('library/alpine', sha256(attestation), attestation, MediaType.OciManifest);
      hub.addBlob('library/alpine', '{}');
      for (const tag of ['1.35', '1.36', '1.37', '2.0']) busybox.push(hub.addImage('library/busybox', tag, { layerCount: 1, layerSize: 5_000 }));
      hub.addImage('library/busybox', 'latest');
      pinned = hub.addImage('org/app', 'v1', { layerCount: 2, layerSize: 8_000 });
      // A signature of the pinned image, served by the hub's referrers API.
      const payload = hub.addBlob('org/app', 'signed payload');
      const config = hub.addBlob('org/app', '{}');
      const sig = jsonBytes({
        schemaVersion: 2,
        mediaType: MediaType.OciManifest,
        artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: config, size: 2 },
        layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', digest: payload, size: 14 }],
        subject: { mediaType: pinned.mediaType, digest: pinned.digest, size: pinned.bytes.length },
      });
      signature = hub.addManifest('org/app', sha256(sig), sig, MediaType.OciManifest);
      return {
        images: [
          { ref: 'docker.io/library/alpine', tags: ['3.20'], platforms: ['linux/amd64'] },
          { ref: 'docker.io/library/busybox', semver: '>=1.36 <2' },
          { ref: `docker.io/org/app@${pinned.digest}`, pin: true },
        ],
      };
    });
  });
  afterAll(() => f.close());
  afterEach(() => {
    f.hub.faults.clear();
  });

  it('fetches every listed image as a client would; afterwards, with the upstream failing, they pull completely with no upstream request', async () => {
    const run = await f.prefetch();
    expect(run.images.map((i: any) => [i.ref, i.state])).toEqual([
      ['docker.io/library/alpine:3.20', 'done'],
      ['docker.io/library/busybox:1.36', 'done'],
      ['docker.io/library/busybox:1.37', 'done'],
      [`docker.io/org/app@${pinned.digest}`, 'done'],
    ]);
    for (const image of run.images) {
      expect(image.bytesDone).toBe(image.bytesTotal);
      expect(image.blobsDone).toBe(image.blobsTotal);
    }
    expect(run.images[0]).toMatchObject({ digest: alpine.digest, pinned: false });
    expect(run.images[3]).toMatchObject({ digest: pinned.digest, pinned: true, blobsTotal: 5 }); // config, 2 layers, the signature's 2 blobs
    // Only the listed platform (and its attestation) came down.
    const fetched = new Set(f.hub.requests.filter((r) => r.kind === 'manifest' && r.method === 'GET').map((r) => r.path.split('/').pop()));
    expect(fetched.has(alpine.amd64)).toBe(true);
    expect(fetched.has(alpine.attestation)).toBe(true);
    expect(fetched.has(alpine.arm64)).toBe(false);

    f.hub.reset();
    f.hub.faults.fail('any', { status: 503, times: Infinity });
    await f.pull('library/alpine', '3.20');
    await f.pull('library/busybox', '1.36');
    await f.pull('library/busybox', '1.37');
    await f.pull('org/app', pinned.digest);
    const sig = await f.client.fetch(`/v2/org/app/manifests/${signature}`, { headers: { Accept: MediaType.OciManifest } });
    expect(sig.status).toBe(200);
    await sig.arrayBuffer();
    expect(f.hub.count()).toBe(0);
  });

  it('a later run revalidates the tags with HEAD only, and fetches what moved', async () => {
    f.clock.advance(2 * HOUR); // past tagTtl
    f.hub.reset();
    const again = await f.prefetch();
    expect(again.images.every((i: any) => i.state === 'done')).toBe(true);
    expect(f.hub.count({ kind: 'manifest', method: 'GET' })).toBe(0);
    expect(f.hub.count((r) => r.kind === 'blob' || r.kind === 'cdn')).toBe(0);
    expect(f.hub.count({ kind: 'manifest', method: 'HEAD', status: 200 })).toBe(3); // alpine:3.20, busybox:1.36, busybox:1.37

    const moved = f.hub.addImage('library/busybox', '1.37', { layerCount: 1, layerSize: 4_000 });
    f.clock.advance(2 * HOUR);
    f.hub.reset();
    const third = await f.prefetch(['docker.io/library/busybox']);
    expect(third.images.map((i: any) => [i.ref, i.digest])).toEqual([
      ['docker.io/library/busybox:1.36', busybox[1]!.digest],
      ['docker.io/library/busybox:1.37', moved.digest],
    ]);
    expect(f.hub.count({ kind: 'manifest', method: 'GET', status: 200 })).toBe(1);
    f.hub.faults.fail('any', { status: 503, times: Infinity });
    f.hub.reset();
    await f.pull('library/busybox', '1.37');
    expect(f.hub.count()).toBe(0);
  });

  it('shows the run in GET /api/v1/stats while it runs, and counts runs in the metrics', async () => {
    const big = f.hub.addImage('library/big', 'v1', { layerCount: 1, layerSize: 600_000 });
    f.hub.faults.bandwidth = 1_000_000;
    const started = await f.api('prefetch', { method: 'POST', body: JSON.stringify({ refs: ['docker.io/library/big:v1'] }), headers: { 'Content-Type': 'application/json' } });
    expect(started.status).toBe(202);
    let seen: any = null;
    for (let i = 0; i < 500 && !seen; i++) {
      const stats = (await (await f.api('stats')).json()) as any;
      const image = stats.prefetch.run?.images[0];
      if (stats.prefetch.running && image?.bytesDone > 0 && image.bytesDone < image.bytesTotal) seen = image;
      else await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(seen).toMatchObject({ ref: 'docker.io/library/big:v1', state: 'fetching', bytesTotal: big.config.bytes.length + 600_000 });
    while (((await (await f.api('prefetch')).json()) as any).running) await new Promise((resolve) => setTimeout(resolve, 20));
    const metrics = await scrape(f.stowage.url);
    expect(metrics.value('stowage_prefetch_runs_total', { outcome: 'completed' })).toBeGreaterThanOrEqual(4);
  });

  it('says which image could not be fetched, and refuses what it cannot prefetch', async () => {
    const run = await f.prefetch(['docker.io/library/nothere:1', 'docker.io/library/busybox:1.36']);
    expect(run.images.map((i: any) => [i.ref, i.state])).toEqual([
      ['docker.io/library/nothere:1', 'failed'],
      ['docker.io/library/busybox:1.36', 'done'],
    ]);
    expect(run.images[0].error).toMatch(/manifest unknown/i);
    await expectOciError(await f.api('prefetch', { method: 'POST', body: JSON.stringify({ refs: ['team/app:1'] }), headers: { 'Content-Type': 'application/json' } }), 400, 'UNSUPPORTED');
    await expectOciError(await f.api('prefetch', { method: 'POST', body: JSON.stringify({ refs: 'nope' }), headers: { 'Content-Type': 'application/json' } }), 400, 'UNSUPPORTED');
  });
});

describe('prefetch and the upstream pull budget', () => {
  it('stops politely when the pull budget is down to the reserve, and says so', async () => {
    const f = await startPrefetchFixture(
      (hub) => {
        for (const tag of ['a', 'b', 'c', 'd']) hub.addImage('library/tool', tag, { layerCount: 1 });
        return { pullReserve: 10, images: [{ ref: 'docker.io/library/tool', tags: ['a', 'b', 'c', 'd'] }] };
      },
      { hub: { rateLimit: { limit: 12, windowSeconds: 21600 } } },
    );
    try {
      const run = await f.prefetch();
      // 12 pulls: after two manifest GETs 10 are left, the reserve.
      expect(run.images.map((i: any) => i.state)).toEqual(['done', 'done', 'skipped', 'skipped']);
      expect(run.images[2].error).toMatch(/docker\.io has 10 pulls left/);
      expect(f.hub.count({ kind: 'manifest', method: 'GET', status: 200 })).toBe(2);
    } finally {
      await f.close();
    }
  });
});
