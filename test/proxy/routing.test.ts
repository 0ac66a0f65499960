/**
 * Which upstream a request reaches, black-box: `?ns=`, the path prefix, the default upstream, the
 * `library/` rule, refusals that contact nobody, per-upstream tag caches and shared blobs — and the
 * read-only rule for every write into a proxied repository.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { ACCEPT_ALL, blobLinked, errorCode, RecordingAgent, sha256, waitFor } from './support/proxy-helpers.js';

const MIRROR = 'mirror.example.com';

describe('routing requests to upstreams', () => {
  let hubA: FakeHub; // docker.io, the default
  let hubB: FakeHub; // mirror.example.com
  let stowage: RunningStowage;
  const agent = new RecordingAgent();

  const manifest = async (path: string): Promise<{ status: number; digest: string | null; namespace: string | null; code?: string }> => {
    const response = await fetch(`${stowage.url}${path}`, { headers: { accept: ACCEPT_ALL } });
    const result = { status: response.status, digest: response.headers.get('docker-content-digest'), namespace: response.headers.get('oci-namespace') };
    if (response.status >= 400) return { ...result, code: await errorCode(response) };
    await response.arrayBuffer();
    return result;
  };
  const contentRequests = (hub: FakeHub, kind: 'manifest' | 'blob' | 'cdn'): string[] =>
    hub.requests.filter((r) => r.kind === kind && r.status !== 401).map((r) => `${r.method} ${r.path}`);

  beforeAll(async () => {
    [hubA, hubB] = await Promise.all([startFakeHub({ auth: 'anonymous-token', cdn: true }), startFakeHub({ auth: 'none' })]);
    stowage = await startStowage({
      config: {
        hosted: ['team/**'],
        upstreams: { 'docker.io': { url: hubA.url }, [MIRROR]: { url: hubB.url } },
        defaultUpstream: 'docker.io',
      },
      app: { dispatcher: agent },
    });
  });
  afterAll(async () => {
    await stowage?.close();
    await agent.close();
    await Promise.all([hubA?.close(), hubB?.close()]);
  });
  beforeEach(() => {
    hubA.reset();
    hubB.reset();
  });

  it('?ns=<upstream> selects that upstream and is echoed in OCI-Namespace', async () => {
    const a = hubA.addImage('library/ns-app', 'latest');
    const b = hubB.addImage('library/ns-app', 'latest');
    expect(await manifest(`/v2/library/ns-app/manifests/latest?ns=${MIRROR}`)).toEqual({ status: 200, digest: b.digest, namespace: MIRROR });
    expect(await manifest('/v2/library/ns-app/manifests/latest?ns=docker.io')).toEqual({ status: 200, digest: a.digest, namespace: 'docker.io' });
    expect(await manifest('/v2/library/ns-app/manifests/latest')).toEqual({ status: 200, digest: a.digest, namespace: null });
    expect(contentRequests(hubB, 'manifest')).toEqual(['GET /v2/library/ns-app/manifests/latest']);
  });

  it('an ns value that is not a host name is never echoed (hosted repositories ignore ns)', async () => {
    for (const ns of ['evil%0d%0aSet-Cookie:%20x=1', 'a%00b', 'x y']) {
      const response = await fetch(`${stowage.url}/v2/team/nothing/tags/list?ns=${ns}`);
      expect(response.status).toBe(404);
      expect(await errorCode(response)).toBe('NAME_UNKNOWN');
      expect(response.headers.get('oci-namespace')).toBeNull();
      expect(response.headers.get('set-cookie')).toBeNull();
    }
  });

  it('a path prefix /v2/<upstream>/owner/app maps to that upstream', async () => {
    const a = hubA.addImage('owner/prefixed', 'v1');
    const b = hubB.addImage('owner/prefixed', 'v1');
    expect((await manifest(`/v2/${MIRROR}/owner/prefixed/manifests/v1`)).digest).toBe(b.digest);
    expect((await manifest('/v2/docker.io/owner/prefixed/manifests/v1')).digest).toBe(a.digest);
    expect(contentRequests(hubB, 'manifest')).toEqual(['GET /v2/owner/prefixed/manifests/v1']);
    expect(contentRequests(hubA, 'manifest')).toEqual(['GET /v2/owner/prefixed/manifests/v1']);
    // containerd with override_path sends the prefix *and* ns: the prefix is not part of the name.
    expect((await manifest(`/v2/${MIRROR}/owner/prefixed/manifests/v1?ns=${MIRROR}`)).digest).toBe(b.digest);
  });

  it('other names go to the default upstream; single-component Docker Hub names get library/', async () => {
    const image = hubA.addImage('library/solo', '1.0');
    for (const path of ['/v2/solo/manifests/1.0', '/v2/library/solo/manifests/1.0', '/v2/docker.io/solo/manifests/1.0', '/v2/solo/manifests/1.0?ns=docker.io']) {
      expect((await manifest(path)).digest, path).toBe(image.digest);
    }
    expect(contentRequests(hubA, 'manifest')).toEqual(['GET /v2/library/solo/manifests/1.0']);
    expect(hubA.count((r) => r.repository === 'solo')).toBe(0);

    // library/ is Docker Hub's rule only: another upstream gets the name as sent.
    hubB.addImage('solo', '1.0');
    expect((await manifest(`/v2/solo/manifests/1.0?ns=${MIRROR}`)).status).toBe(200);
    expect(contentRequests(hubB, 'manifest')).toEqual(['GET /v2/solo/manifests/1.0']);
  });

  it('an ns or prefix that is not configured is 404 NAME_UNKNOWN with no outbound connection at all', async () => {
    const before = agent.origins.length;
    const probes = [
      '/v2/library/x/manifests/latest?ns=evil.example.com',
      '/v2/evil.example.com/x/manifests/latest',
      `/v2/evil.example.com/x/blobs/${sha256(Buffer.from('x'))}`,
      '/v2/evil.example.com/x/tags/list',
      '/v2/library/x/tags/list?ns=ghcr.io',
    ];
    for (const path of probes) {
      const response = await fetch(`${stowage.url}${path}`);
      expect(response.status, path).toBe(404);
      expect(await errorCode(response), path).toBe('NAME_UNKNOWN');
    }
    expect(agent.origins.length).toBe(before);
    expect(hubA.count() + hubB.count()).toBe(0);
  });

  it('the same repo:tag under two upstreams never shares a cache entry', async () => {
    const a = hubA.addImage('library/x', 'latest');
    const b = hubB.addImage('library/x', 'latest');
    expect((await manifest('/v2/library/x/manifests/latest')).digest).toBe(a.digest);
    expect((await manifest(`/v2/library/x/manifests/latest?ns=${MIRROR}`)).digest).toBe(b.digest);
    hubA.reset();
    hubB.reset();
    // Warm, in both orders and spellings: each upstream keeps its own tag.
    expect((await manifest(`/v2/${MIRROR}/library/x/manifests/latest`)).digest).toBe(b.digest);
    expect((await manifest('/v2/x/manifests/latest')).digest).toBe(a.digest);
    expect((await manifest(`/v2/library/x/manifests/latest?ns=${MIRROR}`)).digest).toBe(b.digest);
    expect(hubA.count() + hubB.count()).toBe(0);
    // A digest cached for one upstream is not served through the other without asking it.
    const crossed = await manifest(`/v2/library/x/manifests/${a.digest}?ns=${MIRROR}`);
    expect(crossed.status).toBe(404);
    expect(contentRequests(hubB, 'manifest')).toEqual([`GET /v2/library/x/manifests/${a.digest}`]);

    const catalog = (await (await fetch(`${stowage.url}/v2/_catalog`)).json()) as { repositories: string[] };
    expect(catalog.repositories).toEqual(expect.arrayContaining(['docker.io/library/x', `${MIRROR}/library/x`]));
  });

  it('blobs are shared across upstreams: one download, the other upstream only confirms with HEAD', async () => {
    const layer = randomBytes(64 * 1024);
    const digest = sha256(layer);
    hubA.addImage('library/shared', 'v1', { layers: [layer] });
    hubB.addImage('library/shared', 'v1', { layers: [layer] });
    const viaA = await fetch(`${stowage.url}/v2/library/shared/blobs/${digest}`);
    expect(sha256(new Uint8Array(await viaA.arrayBuffer()))).toBe(digest);
    const viaB = await fetch(`${stowage.url}/v2/library/shared/blobs/${digest}?ns=${MIRROR}`);
    expect(sha256(new Uint8Array(await viaB.arrayBuffer()))).toBe(digest);
    expect(contentRequests(hubA, 'cdn')).toHaveLength(1);
    expect(contentRequests(hubB, 'blob')).toEqual([`HEAD /v2/library/shared/blobs/${digest}`]);
  });

  it('concurrent cold pulls of one blob through two upstreams make one download', async () => {
    const layer = randomBytes(2 * 1024 * 1024);
    const digest = sha256(layer);
    hubA.addImage('library/both', 'v1', { layers: [layer] });
    hubB.addImage('library/both', 'v1', { layers: [layer] });
    const bodies = await Promise.all(
      [`/v2/library/both/blobs/${digest}`, `/v2/library/both/blobs/${digest}?ns=${MIRROR}`].map(async (path) =>
        sha256(new Uint8Array(await (await fetch(`${stowage.url}${path}`)).arrayBuffer())),
      ),
    );
    expect(bodies).toEqual([digest, digest]);
    const downloads = contentRequests(hubA, 'cdn').length + hubB.count((r) => r.kind === 'blob' && r.method === 'GET');
    expect(downloads).toBe(1);
    // Both repositories may now serve it from disk (linked right after the commit).
    await waitFor(
      async () => (await blobLinked(stowage, 'docker.io', 'library/both', digest)) && blobLinked(stowage, MIRROR, 'library/both', digest),
      2_000,
      'both repositories to link the blob',
    );
  });
});

describe('writes into a proxied repository', () => {
  let hub: FakeHub;
  let stowage: RunningStowage;
  const agent = new RecordingAgent();

  beforeAll(async () => {
    hub = await startFakeHub({ auth: 'anonymous-token' });
    stowage = await startStowage({
      config: { hosted: ['team/**'], upstreams: { 'docker.io': { url: hub.url } }, defaultUpstream: 'docker.io' },
      app: { dispatcher: agent },
    });
  });
  afterAll(async () => {
    await stowage?.close();
    await agent.close();
    await hub?.close();
  });

  /**
   * Sends the head of a request announcing a 64 MiB body and never sends the body: only a server
   * that answers without reading the body can respond at all.
   */
  function headOnly(method: string, path: string): Promise<{ status: number; code: string | undefined }> {
    const [host, port] = stowage.host.split(':');
    return new Promise((resolve, reject) => {
      const request = http.request({
        host,
        port: Number(port),
        method,
        path,
        agent: false,
        headers: { 'content-length': String(64 * 1024 * 1024), 'content-type': 'application/octet-stream' },
      });
      const timer = setTimeout(() => {
        request.destroy();
        reject(new Error(`${method} ${path}: no answer before the body was sent`));
      }, 3_000);
      request.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (c: Buffer) => chunks.push(c));
        response.on('end', () => {
          clearTimeout(timer);
          request.destroy();
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { errors?: Array<{ code: string }> };
          resolve({ status: response.statusCode ?? 0, code: body.errors?.[0]?.code });
        });
      });
      request.flushHeaders();
    });
  }

  it('every write is 405 UNSUPPORTED before any body is read, and contacts nobody', async () => {
    const digest = sha256(Buffer.from('layer'));
    const before = agent.origins.length;
    const writes: Array<[string, string]> = [
      ['PUT', '/v2/library/alpine/manifests/latest'],
      ['PUT', `/v2/alpine/manifests/${sha256(Buffer.from('{}'))}`],
      ['POST', '/v2/library/alpine/blobs/uploads/'],
      ['POST', `/v2/library/alpine/blobs/uploads/?digest=${digest}`],
      ['POST', `/v2/library/alpine/blobs/uploads/?mount=${digest}&from=library/busybox`],
      ['PATCH', '/v2/library/alpine/blobs/uploads/3f1c9a5e-1111-4222-8333-944445555666'],
      ['PUT', `/v2/library/alpine/blobs/uploads/3f1c9a5e-1111-4222-8333-944445555666?digest=${digest}`],
      ['POST', `/v2/${'docker.io'}/library/alpine/blobs/uploads/`],
    ];
    for (const [method, path] of writes) {
      expect(await headOnly(method, path), `${method} ${path}`).toEqual({ status: 405, code: 'UNSUPPORTED' });
    }
    for (const path of ['/v2/library/alpine/manifests/latest', `/v2/library/alpine/blobs/${digest}`, '/v2/library/alpine/blobs/uploads/3f1c9a5e-1111-4222-8333-944445555666']) {
      const response = await fetch(`${stowage.url}${path}`, { method: 'DELETE' });
      expect(response.status, `DELETE ${path}`).toBe(405);
      expect(await errorCode(response)).toBe('UNSUPPORTED');
    }
    expect(agent.origins.length).toBe(before);
  });

  it('without a default upstream, a name that is neither hosted nor prefixed is NAME_UNKNOWN', async () => {
    const isolated = await startStowage({
      config: { hosted: ['team/**'], upstreams: { 'docker.io': { url: hub.url } }, defaultUpstream: null },
    });
    try {
      hub.reset();
      const response = await fetch(`${isolated.url}/v2/library/alpine/manifests/latest`, { headers: { accept: ACCEPT_ALL } });
      expect(response.status).toBe(404);
      expect(await errorCode(response)).toBe('NAME_UNKNOWN');
      expect(hub.count()).toBe(0);
    } finally {
      await isolated.close();
    }
  });
});
