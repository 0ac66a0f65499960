/**
 * The Docker daemon (Debian's docker.io 20.10, classic image store) with Stowage as its
 * `registry-mirrors` entry, and Docker Hub unreachable for that daemon (docker-hub-offline.ts): a
 * successful `docker pull alpine` can only have come through Stowage, and the fake hub's counters
 * show that Stowage fetched it from "Docker Hub" (token, manifest, 307 to the CDN). Then a push of
 * the same image into a hosted repository with `docker tag` + `docker push`, read back over HTTP.
 *
 * dockerd's classic puller never sends `?ns=`: Stowage routes the bare `library/alpine` to its
 * `defaultUpstream` (docker.io).
 */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../../src/oci/media-types.js';
import { canIsolateFromDockerHub, writeOfflineHosts } from '../support/docker-hub-offline.js';
import { DOCKER_CLI, DOCKERD, startDockerd, type Dockerd } from '../support/dockerd.js';
import { startMirrorFixture, type Mirror, type MirrorFixture } from '../support/mirror-fixture.js';
import { requireTool, tempDir } from '../support/processes.js';
import { REFERENCE_REGISTRY_BINARY } from '../support/reference-registry.js';

const sha256 = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

const available = [DOCKERD, DOCKER_CLI, REFERENCE_REGISTRY_BINARY, 'skopeo', 'unshare'].map(requireTool).every(Boolean);
if (available && !canIsolateFromDockerHub() && process.env.CI) throw new Error('docker client tests need root (a private mount namespace)');

describe.runIf(available && canIsolateFromDockerHub())('docker pull and push through Stowage (dockerd registry-mirrors)', { timeout: 60_000 }, () => {
  let fixture: MirrorFixture;
  let mirror: Mirror;
  let dockerd: Dockerd;
  let work: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    work = await tempDir('docker-test');
    fixture = await startMirrorFixture();
    mirror = await fixture.startMirror();
    dockerd = await startDockerd({
      registryMirrors: [mirror.stowage.url],
      insecureRegistries: [mirror.stowage.host],
      hostsFile: await writeOfflineHosts(work.path),
    });
  }, 90_000);

  afterAll(async () => {
    await dockerd?.close();
    await fixture?.close();
    await work?.remove();
  }, 60_000);

  /** `docker image inspect` of one image, the fields these tests look at. */
  async function inspect(reference: string): Promise<{ Id: string; RepoDigests: string[]; RepoTags: string[]; RootFS: { Layers: string[] } }> {
    const result = await dockerd.docker(['image', 'inspect', reference]);
    return (JSON.parse(result.stdout) as Array<{ Id: string; RepoDigests: string[]; RepoTags: string[]; RootFS: { Layers: string[] } }>)[0]!;
  }

  it('Docker Hub is unreachable for this daemon: what the mirror cannot serve fails at the fallback', async () => {
    // Stowage answers 404 for an image the upstream does not have; dockerd then falls back to
    // registry-1.docker.io, which resolves to 127.0.0.1:443 here, where nothing listens.
    const result = await dockerd.tryDocker(['pull', 'stowage-test/no-such-image:latest']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/registry-1\.docker\.io.*127\.0\.0\.1:443.*connection refused/);
    expect(mirror.requests.some((r) => r.url.startsWith('/v2/stowage-test/no-such-image/manifests/'))).toBe(true);
  });

  it('docker pull alpine is served by Stowage, which fetched it from the upstream once', async () => {
    const { hub, image } = fixture;
    const stowageRequests = mirror.requests;
    fixture.resetCounters();
    await dockerd.docker(['pull', 'alpine']);

    const pulled = await inspect('alpine');
    expect(pulled.RepoDigests).toContain(`alpine@${image.manifestDigest}`);
    expect(pulled.Id).toBe(image.configDigest); // classic store: the image ID is the config digest
    expect(pulled.RootFS.Layers).toEqual(image.layers.map((l) => l.diffId));

    // Stowage got the client's requests for the bare name (classic dockerd never sends ?ns=):
    // GET /v2/, HEAD of the tag (for its digest), GET of the manifest by that digest, then the blobs.
    expect(stowageRequests).toContainEqual({ method: 'HEAD', url: '/v2/library/alpine/manifests/latest', status: 200 });
    expect(stowageRequests).toContainEqual({ method: 'GET', url: `/v2/library/alpine/manifests/${image.manifestDigest}`, status: 200 });
    expect(stowageRequests.filter((r) => r.url.includes('ns='))).toEqual([]);
    expect(stowageRequests.filter((r) => r.status !== 200)).toEqual([]);
    // ...and fetched everything from the hub: token, manifest, and each blob through the CDN once.
    expect(hub.count({ kind: 'token' })).toBeGreaterThan(0);
    expect(hub.count({ kind: 'manifest', repository: 'library/alpine' })).toBeGreaterThan(0);
    const blobs = [image.configDigest, ...image.layers.map((l) => l.digest)];
    expect(hub.count({ kind: 'cdn', method: 'GET' })).toBe(blobs.length);
    for (const digest of blobs) expect(hub.count({ kind: 'blob', method: 'GET', path: `/v2/library/alpine/blobs/${digest}` })).toBe(1);
  });

  it('pulling it again after docker rmi makes zero upstream requests (served from the cache)', async () => {
    const { hub, image } = fixture;
    const stowageRequests = mirror.requests;
    await dockerd.docker(['rmi', 'alpine']);
    expect((await dockerd.tryDocker(['image', 'inspect', 'alpine'])).code).not.toBe(0);
    fixture.resetCounters();

    await dockerd.docker(['pull', 'alpine']);
    expect((await inspect('alpine')).RepoDigests).toContain(`alpine@${image.manifestDigest}`);
    // The daemon resolved the tag and downloaded every layer again, from Stowage (it may keep the
    // manifest itself in its containerd content store, so a GET by digest is not guaranteed)...
    expect(stowageRequests).toContainEqual({ method: 'HEAD', url: '/v2/library/alpine/manifests/latest', status: 200 });
    for (const layer of image.layers) {
      expect(stowageRequests).toContainEqual({ method: 'GET', url: `/v2/library/alpine/blobs/${layer.digest}`, status: 200 });
    }
    expect(stowageRequests.filter((r) => r.status !== 200)).toEqual([]);
    // ...and not one request reached the upstream.
    expect(hub.requests).toEqual([]);
  });

  it('docker tag + docker push into a hosted repository, readable back by tag (HTTP and docker pull) with matching digests', async () => {
    const { hub, image } = fixture;
    const { stowage } = mirror;
    const target = `${stowage.host}/team/app:1`;
    await dockerd.docker(['tag', 'alpine', target]);
    fixture.resetCounters();
    const push = await dockerd.docker(['push', target]);
    const reported = /1: digest: (sha256:[0-9a-f]{64}) size: (\d+)/.exec(push.stdout);
    expect(reported, push.stdout).not.toBeNull();
    const [, pushedDigest, pushedSize] = reported!;
    expect(hub.requests).toEqual([]); // a hosted repository never talks to the upstream
    // The classic docker push: POST, PATCH (streamed, no Content-Length), PUT ?digest= → 201 per
    // blob, then the manifest PUT → 201 (with Docker-Content-Digest, or the CLI reports a failure).
    const pushed = (method: string, pattern: RegExp, status: number) =>
      mirror.requests.filter((r) => r.method === method && pattern.test(r.url) && r.status === status).length;
    expect(pushed('PATCH', /^\/v2\/team\/app\/blobs\/uploads\/[^/?]+$/, 202)).toBe(image.layers.length + 1);
    expect(pushed('PUT', /^\/v2\/team\/app\/blobs\/uploads\/[^/?]+\?digest=sha256%3A[0-9a-f]{64}$/, 201)).toBe(image.layers.length + 1);
    expect(pushed('PUT', /^\/v2\/team\/app\/manifests\/1$/, 201)).toBe(1);

    const manifest = await fetch(`${stowage.url}/v2/team/app/manifests/1`, { headers: { accept: MediaType.DockerManifest } });
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get('docker-content-digest')).toBe(pushedDigest);
    expect(manifest.headers.get('content-type')).toBe(MediaType.DockerManifest);
    const bytes = Buffer.from(await manifest.arrayBuffer());
    expect(sha256(bytes)).toBe(pushedDigest);
    expect(bytes.length).toBe(Number(pushedSize));

    // dockerd re-compresses layers it pulled from another registry, so layer digests may change;
    // the config (the image ID) and the uncompressed layers (diff_ids) are those of the seeded image.
    const parsed = JSON.parse(bytes.toString('utf8')) as { config: { digest: string }; layers: Array<{ digest: string; size: number }> };
    expect(parsed.config.digest).toBe(image.configDigest);
    expect(parsed.layers).toHaveLength(image.layers.length);
    const download = async (digest: string): Promise<Buffer> => {
      const blob = await fetch(`${stowage.url}/v2/team/app/blobs/${digest}`);
      expect(blob.status).toBe(200);
      const content = Buffer.from(await blob.arrayBuffer());
      expect(sha256(content)).toBe(digest);
      return content;
    };
    expect((await download(parsed.config.digest)).equals(image.configBytes)).toBe(true);
    const diffIds: string[] = [];
    for (const layer of parsed.layers) diffIds.push(sha256(gunzipSync(await download(layer.digest))));
    expect(diffIds).toEqual(image.layers.map((l) => l.diffId));

    // The daemon recorded the digest the registry answered for its push, and pulls it back by tag.
    expect((await inspect(target)).RepoDigests).toContain(`${stowage.host}/team/app@${pushedDigest}`);
    await dockerd.docker(['rmi', target]);
    await dockerd.docker(['pull', target]);
    const pulledBack = await inspect(target);
    expect(pulledBack.Id).toBe(image.configDigest);
    expect(pulledBack.RepoDigests).toContain(`${stowage.host}/team/app@${pushedDigest}`);
    expect(hub.requests).toEqual([]);
  });
});
