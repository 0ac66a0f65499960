/**
 * podman and skopeo (containers/image, Debian 12's podman 4.3 and skopeo 1.9) resolving
 * `docker.io/library/alpine:latest` through a registries.conf `[[registry.mirror]]` that is Stowage,
 * with Docker Hub unreachable (docker-hub-offline.ts): containers/image falls back to the primary
 * location when every mirror fails, so success proves the mirror served it. The fake hub's counters
 * show Stowage fetched it from "Docker Hub"; a second pull is served from Stowage's cache alone.
 *
 * containers/image never sends `?ns=`: Stowage routes the bare `library/alpine` to its
 * `defaultUpstream` (docker.io).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../../src/oci/digest.js';
import { canIsolateFromDockerHub, writeOfflineHosts } from '../support/docker-hub-offline.js';
import { startMirrorFixture, type Mirror, type MirrorFixture } from '../support/mirror-fixture.js';
import { blobsOf, readDirTransport } from '../support/oci-layout.js';
import { createContainersClients, type ContainersClients } from '../support/podman.js';
import { requireTool, tempDir } from '../support/processes.js';
import { REFERENCE_REGISTRY_BINARY } from '../support/reference-registry.js';

const REFERENCE = 'docker.io/library/alpine:latest';

const available = ['podman', 'skopeo', REFERENCE_REGISTRY_BINARY, 'unshare'].map(requireTool).every(Boolean);
if (available && !canIsolateFromDockerHub() && process.env.CI) throw new Error('podman client tests need root (a private mount namespace)');

describe.runIf(available && canIsolateFromDockerHub())('podman and skopeo pull through Stowage (registries.conf mirror)', { timeout: 60_000 }, () => {
  let fixture: MirrorFixture;
  // podman and skopeo each get a Stowage with a cold cache, so each shows its own upstream fetch.
  let podmanMirror: Mirror;
  let skopeoMirror: Mirror;
  let podman: ContainersClients;
  let skopeo: ContainersClients;
  let work: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    work = await tempDir('podman-test');
    fixture = await startMirrorFixture();
    const hostsFile = await writeOfflineHosts(work.path);
    podmanMirror = await fixture.startMirror();
    skopeoMirror = await fixture.startMirror();
    podman = await createContainersClients({ mirror: podmanMirror.stowage.host, hostsFile });
    skopeo = await createContainersClients({ mirror: skopeoMirror.stowage.host, hostsFile });
  }, 90_000);

  afterAll(async () => {
    await podman?.close();
    await skopeo?.close();
    await fixture?.close();
    await work?.remove();
  }, 60_000);

  const pull = () => podman.podman(['pull', '--signature-policy', podman.policy, REFERENCE]);

  /** The manifest digest and image ID podman recorded for the pulled image. */
  async function inspect(): Promise<{ Digest: string; Id: string; RepoDigests: string[] }> {
    const result = await podman.podman(['image', 'inspect', REFERENCE]);
    return (JSON.parse(result.stdout) as Array<{ Digest: string; Id: string; RepoDigests: string[] }>)[0]!;
  }

  /** Only these objects were requested from the hub (a blob GET answers 307 to the CDN). */
  function expectFetchedFromHubOnce(): void {
    const { hub, image } = fixture;
    expect(hub.count({ kind: 'manifest', repository: 'library/alpine' })).toBeGreaterThan(0);
    const blobs = [image.configDigest, ...image.layers.map((l) => l.digest)];
    for (const digest of blobs) expect(hub.count({ kind: 'blob', method: 'GET', path: `/v2/library/alpine/blobs/${digest}` })).toBe(1);
    expect(hub.count({ kind: 'cdn', method: 'GET' })).toBe(blobs.length);
  }

  it('Docker Hub is unreachable for these clients: what the mirror cannot serve fails at the fallback', async () => {
    // containers/image tries each mirror, then the primary location (registry-1.docker.io), which
    // resolves to 127.0.0.1:443 here, where nothing listens.
    const result = await podman.tryPodman(['pull', '--signature-policy', podman.policy, 'docker.io/stowage-test/no-such-image:latest']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/registry-1\.docker\.io.*127\.0\.0\.1:443.*connection refused/);
    expect(podmanMirror.requests.some((r) => r.url.startsWith('/v2/stowage-test/no-such-image/manifests/'))).toBe(true);
  });

  it('podman pull docker.io/library/alpine:latest is served by Stowage, fetched from the upstream once', async () => {
    const { image } = fixture;
    const stowageRequests = podmanMirror.requests;
    fixture.resetCounters();
    await pull();

    const pulled = await inspect();
    expect(pulled.Digest).toBe(image.manifestDigest);
    expect(`sha256:${pulled.Id}`).toBe(image.configDigest);
    expect(pulled.RepoDigests).toContain(`docker.io/library/alpine@${image.manifestDigest}`);
    expect(stowageRequests).toContainEqual({ method: 'GET', url: '/v2/library/alpine/manifests/latest', status: 200 });
    expect(stowageRequests.filter((r) => r.url.includes('ns='))).toEqual([]);
    expect(stowageRequests.filter((r) => r.status !== 200)).toEqual([]);
    expectFetchedFromHubOnce();
  });

  it('podman pull after podman rmi makes zero upstream requests (served from the cache)', async () => {
    const { hub, image } = fixture;
    const stowageRequests = podmanMirror.requests;
    await podman.podman(['rmi', REFERENCE]);
    expect((await podman.tryPodman(['image', 'exists', REFERENCE])).code).toBe(1);
    fixture.resetCounters();

    await pull();
    expect((await inspect()).Digest).toBe(image.manifestDigest);
    // podman downloaded the manifest and every layer again, from Stowage...
    expect(stowageRequests).toContainEqual({ method: 'GET', url: '/v2/library/alpine/manifests/latest', status: 200 });
    for (const layer of image.layers) expect(stowageRequests).toContainEqual({ method: 'GET', url: `/v2/library/alpine/blobs/${layer.digest}`, status: 200 });
    expect(stowageRequests.filter((r) => r.status !== 200)).toEqual([]);
    // ...and nothing reached the upstream.
    expect(hub.requests).toEqual([]);
  });

  it('skopeo copy docker://docker.io/library/alpine:latest dir: gets identical bytes through the mirror; a second copy is served from the cache', async () => {
    const { hub, image } = fixture;
    for (const attempt of [1, 2]) {
      fixture.resetCounters();
      const out = join(work.path, `skopeo-${attempt}`);
      await skopeo.skopeoCopy(`docker://${REFERENCE}`, `dir:${out}`);
      const manifest = await readFile(join(out, 'manifest.json'));
      expect(digestOf(manifest)).toBe(image.manifestDigest);
      expect(manifest.equals(image.manifestBytes)).toBe(true);
      const received = await readDirTransport(out);
      for (const blob of blobsOf(image)) expect(received.get(blob.digest)?.equals(blob.bytes), `bytes of ${blob.digest}`).toBe(true);
      expect(skopeoMirror.requests).toContainEqual({ method: 'GET', url: '/v2/library/alpine/manifests/latest', status: 200 });
      for (const layer of image.layers) expect(skopeoMirror.requests).toContainEqual({ method: 'GET', url: `/v2/library/alpine/blobs/${layer.digest}`, status: 200 });
      expect(skopeoMirror.requests.filter((r) => r.status !== 200)).toEqual([]);
      if (attempt === 1) expectFetchedFromHubOnce();
      else expect(hub.requests).toEqual([]);
    }
  });
});
