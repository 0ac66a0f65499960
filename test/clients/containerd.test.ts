/**
 * containerd (Debian's 1.6) pulling `docker.io/library/alpine:latest` with `ctr images pull
 * --hosts-dir`, where certs.d/docker.io/hosts.toml names Stowage as a pull/resolve mirror in front
 * of `server = "https://registry-1.docker.io"`, and Docker Hub is unreachable (docker-hub-offline.ts):
 * containerd falls back to `server` when the mirror fails, so success proves Stowage served it.
 *
 * containerd tells a mirror which registry it stands in for with `?ns=docker.io` on every request;
 * both host forms are tested:
 * - root mirror:  `[host."http://127.0.0.1:PORT"]` → `/v2/library/alpine/...?ns=docker.io`
 * - path prefix:  `[host."http://127.0.0.1:PORT/v2/docker.io"]` + `override_path = true`
 *                 → `/v2/docker.io/library/alpine/...?ns=docker.io`
 * Each form gets its own Stowage (cold cache): the first pull reaches the fake hub, a second pull
 * after `ctr images rm --sync` (content garbage-collected, so everything is downloaded again)
 * reaches only Stowage.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTAINERD, CTR, startContainerd, writeHostsToml, type Containerd } from '../support/containerd.js';
import { canIsolateFromDockerHub, writeOfflineHosts } from '../support/docker-hub-offline.js';
import { startMirrorFixture, type Mirror, type MirrorFixture, type StowageRequest } from '../support/mirror-fixture.js';
import { requireTool, tempDir } from '../support/processes.js';
import { REFERENCE_REGISTRY_BINARY } from '../support/reference-registry.js';

const REFERENCE = 'docker.io/library/alpine:latest';

const available = [CONTAINERD, CTR, REFERENCE_REGISTRY_BINARY, 'skopeo', 'unshare'].map(requireTool).every(Boolean);
if (available && !canIsolateFromDockerHub() && process.env.CI) throw new Error('containerd client tests need root (a private mount namespace)');

/** The chain ID of an image's unpacked layers (what `ctr images pull --print-chainid` prints). */
function chainId(diffIds: readonly string[]): string {
  return diffIds.reduce((chain, diffId) => `sha256:${createHash('sha256').update(`${chain} ${diffId}`).digest('hex')}`);
}

interface Variant {
  name: string;
  /** The `[host."…"]` URL for a Stowage at `base` (http://127.0.0.1:PORT). */
  hostUrl(base: string): string;
  overridePath: boolean;
  /** The path prefix before the repository name in every request Stowage sees. */
  pathPrefix: string;
}

const VARIANTS: Variant[] = [
  { name: 'Stowage as a root mirror (?ns=docker.io)', hostUrl: (base) => base, overridePath: false, pathPrefix: '/v2/library/alpine/' },
  {
    name: 'Stowage as a path-prefix mirror (override_path, /v2/docker.io/…)',
    hostUrl: (base) => `${base}/v2/docker.io`,
    overridePath: true,
    pathPrefix: '/v2/docker.io/library/alpine/',
  },
];

describe.runIf(available && canIsolateFromDockerHub())('ctr images pull through Stowage (hosts.toml mirror)', { timeout: 60_000 }, () => {
  let fixture: MirrorFixture;
  let containerd: Containerd;
  let work: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    work = await tempDir('containerd-test');
    fixture = await startMirrorFixture();
    containerd = await startContainerd({ hostsFile: await writeOfflineHosts(work.path) });
  }, 90_000);

  afterAll(async () => {
    await containerd?.close();
    await fixture?.close();
    await work?.remove();
  }, 60_000);

  describe.each(VARIANTS)('$name', (variant) => {
    let mirror: Mirror;
    let certsDir: string;

    beforeAll(async () => {
      mirror = await fixture.startMirror();
      certsDir = join(work.path, `certs.d-${variant.overridePath ? 'prefix' : 'root'}`);
      await writeHostsToml(certsDir, 'docker.io', 'https://registry-1.docker.io', [
        { url: variant.hostUrl(mirror.stowage.url), capabilities: ['pull', 'resolve'], overridePath: variant.overridePath },
      ]);
    });

    afterAll(async () => {
      // Leave nothing for the next variant: the image and (after GC) its content.
      await containerd?.tryCtr(['images', 'rm', '--sync', REFERENCE]);
    });

    const pull = () => containerd.ctr(['images', 'pull', '--hosts-dir', certsDir, '--snapshotter', 'native', '--print-chainid', REFERENCE]);

    /** The manifest digest containerd recorded for the image (`ctr images ls`: REF TYPE DIGEST …). */
    async function pulledDigest(): Promise<string | undefined> {
      const listing = await containerd.ctr(['images', 'ls']);
      const row = listing.stdout.split('\n').map((line) => line.trim().split(/\s+/)).find((columns) => columns[0] === REFERENCE);
      return row?.[2];
    }

    /** Every request Stowage saw was for this variant's path and carried `?ns=docker.io`. */
    function expectNamespacedRequests(requests: StowageRequest[]): void {
      const registryRequests = requests.filter((r) => r.url !== '/v2/' && !r.url.startsWith('/v2/?'));
      expect(registryRequests.length).toBeGreaterThan(0);
      expect(requests.filter((r) => r.status !== 200)).toEqual([]);
      for (const request of registryRequests) {
        expect(request.url.startsWith(variant.pathPrefix), request.url).toBe(true);
        expect(new URL(request.url, 'http://stowage').searchParams.get('ns'), request.url).toBe('docker.io');
      }
    }

    it('Docker Hub is unreachable for ctr: what the mirror cannot serve fails at the fallback to `server`', async () => {
      const result = await containerd.tryCtr(['images', 'pull', '--hosts-dir', certsDir, 'docker.io/stowage-test/no-such-image:latest']);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/registry-1\.docker\.io.*127\.0\.0\.1:443.*connection refused/);
      expect(mirror.requests.some((r) => r.url.startsWith(`${variant.pathPrefix.replace('library/alpine/', '')}stowage-test/no-such-image/manifests/`))).toBe(true);
    });

    it('pulls the seeded image through Stowage, which fetched it from the upstream once', async () => {
      const { hub, image } = fixture;
      expect((await containerd.ctr(['content', 'ls', '-q'])).stdout.trim()).toBe('');
      fixture.resetCounters();

      const result = await pull();
      expect(await pulledDigest()).toBe(image.manifestDigest);
      // Unpacked: the snapshot chain of the layers containerd applied matches the config's diff_ids.
      expect(result.stdout).toContain(chainId(image.layers.map((l) => l.diffId)));

      expectNamespacedRequests(mirror.requests);
      expect(mirror.requests.some((r) => r.url.startsWith(`${variant.pathPrefix}manifests/latest`))).toBe(true);
      expect(hub.count({ kind: 'manifest', repository: 'library/alpine' })).toBeGreaterThan(0);
      const blobs = [image.configDigest, ...image.layers.map((l) => l.digest)];
      for (const digest of blobs) expect(hub.count({ kind: 'blob', method: 'GET', path: `/v2/library/alpine/blobs/${digest}` })).toBe(1);
      expect(hub.count({ kind: 'cdn', method: 'GET' })).toBe(blobs.length);
    });

    it('pulls it again after ctr images rm --sync with zero upstream requests (served from the cache)', async () => {
      const { hub, image } = fixture;
      await containerd.ctr(['images', 'rm', '--sync', REFERENCE]);
      expect(await pulledDigest()).toBeUndefined();
      expect((await containerd.ctr(['content', 'ls', '-q'])).stdout.trim()).toBe('');
      fixture.resetCounters();

      await pull();
      expect(await pulledDigest()).toBe(image.manifestDigest);
      expectNamespacedRequests(mirror.requests);
      for (const layer of image.layers) {
        expect(mirror.requests.some((r) => r.method === 'GET' && r.url.startsWith(`${variant.pathPrefix}blobs/${layer.digest}`))).toBe(true);
      }
      expect(hub.requests).toEqual([]);
    });
  });
});
