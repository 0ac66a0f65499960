import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCEPT_ALL_MANIFESTS, sha256 } from '../support/digests.js';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';

const ACCEPT = ACCEPT_ALL_MANIFESTS;

describe('pull-through from a Docker-Hub-like upstream', () => {
  let hub: FakeHub;
  let stowage: RunningStowage;

  beforeAll(async () => {
    hub = await startFakeHub({ auth: 'anonymous-token', cdn: true });
    stowage = await startStowage({
      config: {
        hosted: ['team/**'],
        upstreams: { 'docker.io': { url: hub.url, tagTtl: '1h' } },
        defaultUpstream: 'docker.io',
      },
    });
  });
  afterAll(async () => {
    await stowage?.close();
    await hub?.close();
  });

  it('cold pull fetches from upstream, warm pull makes zero upstream requests', async () => {
    const image = hub.addImage('library/alpine', '3.20', { layerCount: 2, layerSize: 200_000 });
    hub.reset();
    const manifest = await fetch(`${stowage.url}/v2/alpine/manifests/3.20`, { headers: { accept: ACCEPT } });
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get('docker-content-digest')).toBe(image.digest);
    expect(Buffer.from(await manifest.arrayBuffer()).equals(image.bytes)).toBe(true);
    for (const layer of image.layers) {
      const blob = await fetch(`${stowage.url}/v2/library/alpine/blobs/${layer.digest}`);
      expect(blob.status).toBe(200);
      expect(sha256(new Uint8Array(await blob.arrayBuffer()))).toBe(layer.digest);
    }
    expect(hub.count({ kind: 'blob' })).toBe(2);
    expect(hub.count({ kind: 'cdn' })).toBe(2);
    expect(hub.count((r) => r.kind === 'cdn' && r.authorization)).toBe(0);

    hub.reset();
    const again = await fetch(`${stowage.url}/v2/library/alpine/manifests/3.20`, { headers: { accept: ACCEPT } });
    expect(again.status).toBe(200);
    await again.arrayBuffer();
    for (const layer of image.layers) {
      const blob = await fetch(`${stowage.url}/v2/alpine/blobs/${layer.digest}`);
      expect(sha256(new Uint8Array(await blob.arrayBuffer()))).toBe(layer.digest);
    }
    expect(hub.count()).toBe(0);
  });

  it('20 concurrent cold readers cause one upstream download and all get the right bytes', async () => {
    const image = hub.addImage('library/busybox', 'latest', { layerCount: 1, layerSize: 8 * 1024 * 1024 });
    const layer = image.layers[0]!;
    hub.reset();
    const results = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const r = await fetch(`${stowage.url}/v2/library/busybox/blobs/${layer.digest}`);
        return { status: r.status, digest: sha256(new Uint8Array(await r.arrayBuffer())) };
      }),
    );
    expect(results.every((r) => r.status === 200 && r.digest === layer.digest)).toBe(true);
    expect(hub.count({ kind: 'cdn' })).toBe(1);
  });

  it('refuses pushes into a proxied repository without reading the body', async () => {
    const post = await fetch(`${stowage.url}/v2/library/alpine/blobs/uploads/`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(((await post.json()) as { errors: Array<{ code: string }> }).errors[0]!.code).toBe('UNSUPPORTED');
    const put = await fetch(`${stowage.url}/v2/library/alpine/manifests/evil`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: '{}',
    });
    expect(put.status).toBe(405);
  });

  it('an unknown repository is MANIFEST_UNKNOWN (not an auth error), and is negatively cached', async () => {
    hub.reset();
    const first = await fetch(`${stowage.url}/v2/library/nope/manifests/latest`, { headers: { accept: ACCEPT } });
    expect(first.status).toBe(404);
    expect(((await first.json()) as { errors: Array<{ code: string }> }).errors[0]!.code).toBe('MANIFEST_UNKNOWN');
    const upstreamCalls = hub.count({ kind: 'manifest' });
    const second = await fetch(`${stowage.url}/v2/library/nope/manifests/latest`, { headers: { accept: ACCEPT } });
    expect(second.status).toBe(404);
    await second.arrayBuffer();
    expect(hub.count({ kind: 'manifest' })).toBe(upstreamCalls);
  });

  it('an ns or prefix that is not configured is NAME_UNKNOWN and contacts nobody', async () => {
    hub.reset();
    const ns = await fetch(`${stowage.url}/v2/library/alpine/manifests/3.20?ns=evil.example.com`);
    expect(ns.status).toBe(404);
    expect(((await ns.json()) as { errors: Array<{ code: string }> }).errors[0]!.code).toBe('NAME_UNKNOWN');
    const prefix = await fetch(`${stowage.url}/v2/evil.example.com/x/manifests/latest`);
    expect(prefix.status).toBe(404);
    await prefix.arrayBuffer();
    expect(hub.count()).toBe(0);
  });
});
