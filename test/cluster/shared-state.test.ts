/**
 * Issue 13, "what N replicas must do", 3 and 4: what one replica writes, the others see at once —
 * pushes (read-after-write, also after the other replica had looked and found nothing), a chunked
 * upload whose requests land on different replicas, a tag revalidated on one (fresh on all: no
 * upstream request from the others), the not-found cache, the automatic-mount index, and a UI sign-in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MT, RegistryClient, bytesOf, buildImage, sha256 } from '../http/registry-client.js';
import { ACCEPT_ALL_MANIFESTS } from '../support/digests.js';
import type { FakeHub } from '../support/fake-hub.js';
import { writeHtpasswd } from '../support/auth.js';
import { requireTool, tempDir, waitFor } from '../support/processes.js';
import { startRedis } from '../support/redis-server.js';
import { startMirrorCluster, startStowageCluster, type MirrorCluster, type StowageCluster, sharedStore } from '../support/stowage-cluster.js';

describe.skipIf(!requireTool('redis-server') || !sharedStore())('state shared by replicas', () => {
  let fixture: MirrorCluster;
  let hub: FakeHub;
  let cluster: StowageCluster;
  let a: RegistryClient;
  let b: RegistryClient;

  beforeAll(async () => {
    fixture = await startMirrorCluster({ replicas: 2, upstream: { tagTtl: '2s', notFoundTtl: '1m' } });
    ({ hub, cluster } = fixture);
    [a, b] = cluster.replicas.map((r) => new RegistryClient(r.url)) as [RegistryClient, RegistryClient];
  }, 30_000);
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await fixture?.close();
  });

  it('a push through one replica is pullable through the other at once, though that one had looked before', async () => {
    const image = buildImage({ seed: 'raw', layers: 2 });
    // B looks first (as docker push does with HEAD): the tag and the blobs are not there.
    expect((await b.fetch('/v2/team/raw/manifests/v1', { headers: { accept: ACCEPT_ALL_MANIFESTS } })).status).toBe(404);
    for (const layer of image.layers) expect((await b.fetch(`/v2/team/raw/blobs/${sha256(layer)}`, { method: 'HEAD' })).status).toBe(404);

    for (const blob of [image.config, ...image.layers]) await a.pushBlob('team/raw', blob);
    const put = await a.putManifest('team/raw', 'v1', image.manifest, image.mediaType);
    expect(put.status).toBe(201);

    const manifest = await b.fetch('/v2/team/raw/manifests/v1', { headers: { accept: ACCEPT_ALL_MANIFESTS } });
    expect(manifest.status).toBe(200);
    expect(Buffer.from(await manifest.arrayBuffer()).equals(image.manifest)).toBe(true);
    for (const layer of image.layers) {
      const blob = await b.fetch(`/v2/team/raw/blobs/${sha256(layer)}`);
      expect(blob.status).toBe(200);
      expect(Buffer.from(await blob.arrayBuffer()).equals(layer)).toBe(true);
    }
    const tags = await b.fetch('/v2/team/raw/tags/list');
    expect(await tags.json()).toEqual({ name: 'team/raw', tags: ['v1'] });

    // A delete through B reaches A as soon as B's message did (what A kept of the tag is dropped):
    // milliseconds, bounded here by a second.
    expect((await b.fetch('/v2/team/raw/manifests/v1', { method: 'DELETE' })).status).toBe(202);
    await waitFor(async () => (await a.fetch('/v2/team/raw/manifests/v1', { headers: { accept: ACCEPT_ALL_MANIFESTS } })).status === 404, {
      timeoutMs: 1_000,
      intervalMs: 10,
      description: 'the delete through B seen by A',
    });
  });

  it('a chunked upload whose POST, PATCHes and PUT alternate between the replicas completes', async () => {
    const bytes = bytesOf('chunked across replicas', 3 * 1024 * 1024 + 17);
    const digest = sha256(bytes);
    const location = await a.startUpload('team/chunked');
    const chunks = [bytes.subarray(0, 1024 * 1024), bytes.subarray(1024 * 1024, 2 * 1024 * 1024), bytes.subarray(2 * 1024 * 1024)];
    let next = location;
    let offset = 0;
    for (const [i, chunk] of chunks.entries()) {
      const client = i % 2 === 0 ? b : a;
      const patch = await client.fetch(next, {
        method: 'PATCH',
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${offset + chunk.length - 1}` },
        body: chunk,
      });
      expect(patch.status, await patch.clone().text()).toBe(202);
      offset += chunk.length;
      expect(patch.headers.get('range')).toBe(`0-${offset - 1}`);
      next = patch.headers.get('location')!;
    }
    // Progress is visible from either replica.
    const status = await a.fetch(next);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe(`0-${bytes.length - 1}`);
    const put = await b.fetch(`${next}${next.includes('?') ? '&' : '?'}digest=${digest}`, { method: 'PUT' });
    expect(put.status, await put.clone().text()).toBe(201);
    const blob = await a.fetch(`/v2/team/chunked/blobs/${digest}`);
    expect(sha256(Buffer.from(await blob.arrayBuffer()))).toBe(digest);
  });

  it('an upload whose PUT is running on one replica is finished for the other: its GET and a late PATCH are 404', async () => {
    const location = await a.startUpload('team/finishing');
    const bytes = bytesOf('finished elsewhere', 4096);
    let deliver!: () => void;
    const held = new Promise<void>((resolve) => (deliver = resolve));
    // The PUT's body (its last chunk) arrives in two parts; A is completing the session meanwhile.
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(bytes.subarray(0, 2048));
        await held;
        controller.enqueue(bytes.subarray(2048));
        controller.close();
      },
    });
    expect((await b.fetch(location)).status).toBe(204);
    const put = a.fetch(`${location}${location.includes('?') ? '&' : '?'}digest=${sha256(bytes)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body,
      duplex: 'half',
    } as unknown as Parameters<RegistryClient['fetch']>[1]);
    await waitFor(async () => (await b.fetch(location)).status === 404, { timeoutMs: 5_000, intervalMs: 20, description: "B seeing A's PUT" });
    const late = await b.fetch(location, { method: 'PATCH', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from('late') });
    expect(late.status).toBe(404);
    expect(((await late.json()) as { errors: Array<{ code: string }> }).errors[0]!.code).toBe('BLOB_UPLOAD_UNKNOWN');
    deliver();
    const done = await put;
    expect(done.status, await done.clone().text()).toBe(201);
    expect(sha256(Buffer.from(await (await b.fetch(`/v2/team/finishing/blobs/${sha256(bytes)}`)).arrayBuffer()))).toBe(sha256(bytes));
  });

  it('a tag revalidated on one replica is fresh on the other: no upstream request from it', async () => {
    hub.addImage('library/fresh', 'v1', { layerCount: 1, layerSize: 1000 });
    const get = (client: RegistryClient): Promise<Response> =>
      client.fetch('/v2/library/fresh/manifests/v1', { headers: { accept: ACCEPT_ALL_MANIFESTS } });
    // Both replicas have the tag in memory, checked now.
    expect((await get(a)).status).toBe(200);
    expect((await get(b)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 2_100)); // past tagTtl
    hub.reset();
    expect((await get(a)).status).toBe(200);
    expect(hub.count({ kind: 'manifest', method: 'HEAD' })).toBe(1); // A revalidated
    hub.reset();
    expect((await get(b)).status).toBe(200);
    expect(hub.count({ kind: 'manifest' })).toBe(0); // B knows: fresh
  });

  it('an upstream "not found" on one replica is remembered by the other', async () => {
    hub.reset();
    const missing = '/v2/library/nowhere/manifests/v1';
    expect((await a.fetch(missing, { headers: { accept: ACCEPT_ALL_MANIFESTS } })).status).toBe(404);
    const upstreamAsks = hub.count({ kind: 'manifest' });
    expect(upstreamAsks).toBeGreaterThanOrEqual(1);
    const second = await b.fetch(missing, { headers: { accept: ACCEPT_ALL_MANIFESTS } });
    expect(second.status).toBe(404);
    expect(hub.count({ kind: 'manifest' })).toBe(upstreamAsks);
  });

  it('manifests pushed as an index through one replica resolve through the other', async () => {
    const child = buildImage({ seed: 'child' });
    for (const blob of [child.config, ...child.layers]) await a.pushBlob('team/multi', blob);
    expect((await a.putManifest('team/multi', child.digest, child.manifest, child.mediaType)).status).toBe(201);
    // The index goes through B, which must see the child A stored.
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [child.descriptor] }));
    const put = await b.putManifest('team/multi', 'latest', index, MT.ociIndex);
    expect(put.status, await put.clone().text()).toBe(201);
  });

  it('a mount without `from` on one replica finds a blob pushed through the other (automatic content discovery)', async () => {
    const bytes = bytesOf('mounted across replicas', 4321);
    const digest = await a.pushBlob('team/holder', bytes);
    // A's link reaches B's index as a message (milliseconds); until then B would answer 202.
    let status = 0;
    await waitFor(async () => {
      const res = await b.fetch(`/v2/team/discovered/blobs/uploads/?mount=${digest}`, { method: 'POST' });
      await res.arrayBuffer();
      status = res.status;
      return status === 201;
    }, { timeoutMs: 2_000, intervalMs: 50, description: 'the mount on B finding the blob pushed through A' });
    const blob = await a.fetch(`/v2/team/discovered/blobs/${digest}`);
    expect(Buffer.from(await blob.arrayBuffer()).equals(bytes)).toBe(true);
  });
});

describe.skipIf(!requireTool('redis-server') || !requireTool('htpasswd') || !sharedStore())('a UI sign-in across replicas', () => {
  it('a session cookie from one replica is good on the other (one key from cluster.secret)', async () => {
    const work = await tempDir('cluster-signin');
    const redis = await startRedis();
    const htpasswd = `${work.path}/htpasswd`;
    await writeHtpasswd(htpasswd, { alice: 'alice-pw' });
    const cluster = await startStowageCluster({
      replicas: 2,
      redisUrl: redis.url,
      config: { auth: { htpasswd, access: [{ repos: ['**'], users: ['*'], actions: ['pull'] }] } },
    });
    try {
      const [a, b] = cluster.replicas;
      const signIn = await fetch(`${a!.url}/api/v1/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-stowage-csrf': '1' },
        body: JSON.stringify({ username: 'alice', password: 'alice-pw' }),
      });
      expect(signIn.status).toBe(200);
      const cookie = signIn.headers.get('set-cookie')!.split(';')[0]!;
      const session = await fetch(`${b!.url}/api/v1/session`, { headers: { cookie } });
      expect(await session.json()).toMatchObject({ user: 'alice' });
    } finally {
      await cluster.close();
      await redis.stop();
      await work.remove();
    }
  }, 30_000);
});
