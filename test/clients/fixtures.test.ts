/**
 * Checks the fixtures the client tests and benchmarks rely on: generated images are real (GNU tar
 * reads the layers, diff_ids match) and deterministic, and the reference registry works both as a
 * plain registry and as a pull-through proxy of another one.
 */
import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/media-types.js';
import {
  blobsOf, buildDockerImage, buildImage, buildIndex, LayerMediaType, layerTar, LINUX_AMD64, LINUX_ARM64, readOciLayout,
  writeOciLayout,
} from '../support/oci-layout.js';
import { requireTool, runChecked, tempDir } from '../support/processes.js';
import { REFERENCE_REGISTRY_BINARY, startReferenceRegistry, type ReferenceRegistry } from '../support/reference-registry.js';
import { createSkopeo, type Skopeo } from '../support/skopeo.js';

describe('generated images', () => {
  it('are deterministic and distinct per seed and platform', () => {
    expect(buildImage({ layers: 2 }).manifestDigest).toBe(buildImage({ layers: 2 }).manifestDigest);
    expect(buildImage({ layers: 2, seed: 'a' }).manifestDigest).not.toBe(buildImage({ layers: 2, seed: 'b' }).manifestDigest);
    expect(buildImage({ layers: 1, platform: LINUX_ARM64 }).layers[0]!.digest).not.toBe(buildImage({ layers: 1 }).layers[0]!.digest);
  });

  it('have gzip tar layers that GNU tar lists, with diff_ids of the uncompressed tar', async () => {
    const image = buildImage({ layers: [Buffer.from('hello\n'), Buffer.alloc(70_000, 7)] });
    const config = JSON.parse(image.configBytes.toString()) as { rootfs: { diff_ids: string[] }; architecture: string; os: string };
    expect(config.rootfs.diff_ids).toEqual(image.layers.map((l) => digestOf(layerTar(l))));
    expect(config).toMatchObject(LINUX_AMD64);
    const dir = await tempDir('layer-check');
    try {
      const file = join(dir.path, 'layer.tar.gz');
      await writeFile(file, image.layers[1]!.bytes);
      const listing = await runChecked('tar', ['-tvzf', file], { timeoutMs: 10_000 });
      expect(listing.stdout).toMatch(/layer-1\/\n/);
      expect(listing.stdout).toMatch(/ 70000 .*layer-1\/data\.bin/);
      const content = await runChecked('tar', ['-xzOf', file, 'layer-1/data.bin'], { timeoutMs: 10_000 });
      expect(content.stdoutBytes.equals(Buffer.alloc(70_000, 7))).toBe(true);
    } finally {
      await dir.remove();
    }
  });

  it('have the manifest shapes clients expect (OCI, Docker schema2, index, manifest list)', () => {
    const oci = buildImage({ layers: 3 });
    const manifest = JSON.parse(oci.manifestBytes.toString()) as { mediaType: string; config: { digest: string; size: number }; layers: { mediaType: string }[] };
    expect(manifest.mediaType).toBe(MediaType.OciManifest);
    expect(manifest.config).toMatchObject({ digest: oci.configDigest, size: oci.configBytes.length });
    expect(manifest.layers.map((l) => l.mediaType)).toEqual(Array(3).fill(LayerMediaType.oci));

    const docker = buildDockerImage({ layers: 1 });
    expect(JSON.parse(docker.manifestBytes.toString())).toMatchObject({ mediaType: MediaType.DockerManifest, layers: [{ mediaType: LayerMediaType.docker }] });

    const index = buildIndex([buildImage({ layers: 1, platform: LINUX_AMD64 }), buildImage({ layers: 1, platform: LINUX_ARM64 })]);
    expect(JSON.parse(index.manifestBytes.toString())).toMatchObject({
      mediaType: MediaType.OciIndex,
      manifests: [{ platform: { architecture: 'amd64' } }, { platform: { architecture: 'arm64', variant: 'v8' } }],
    });
    expect(buildIndex([docker]).mediaType).toBe(MediaType.DockerManifestList);
    expect(() => buildIndex([oci, docker])).toThrow();
  });

  it('round-trip through an OCI layout on disk, keeping other tags', async () => {
    const dir = await tempDir('layout');
    try {
      const first = buildImage({ layers: 1, seed: 'first' });
      const index = buildIndex([buildImage({ layers: 1 }), buildImage({ layers: 1, platform: LINUX_ARM64 })]);
      await writeOciLayout(dir.path, { tag: 'one', root: first });
      await writeOciLayout(dir.path, { tag: 'multi', root: index });
      const one = await readOciLayout(dir.path, 'one');
      expect(one.manifestBytes.equals(first.manifestBytes)).toBe(true);
      expect([...one.blobs.keys()].sort()).toEqual(blobsOf(first).map((b) => b.digest).sort());
      const multi = await readOciLayout(dir.path, 'multi');
      expect(multi.descriptor).toMatchObject({ mediaType: MediaType.OciIndex, digest: index.manifestDigest });
      expect(multi.blobs.size).toBe(blobsOf(index).length);
    } finally {
      await dir.remove();
    }
  });
});

describe.skipIf(!requireTool(REFERENCE_REGISTRY_BINARY) || !requireTool('skopeo'))('the reference registry', () => {
  let upstream: ReferenceRegistry;
  let proxy: ReferenceRegistry;
  let skopeo: Skopeo;
  let work: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    work = await tempDir('reference-registry-test');
    skopeo = await createSkopeo();
    upstream = await startReferenceRegistry();
    proxy = await startReferenceRegistry({ proxy: { remoteurl: upstream.url } });
  });

  afterAll(async () => {
    await proxy?.close();
    await upstream?.close();
    await skopeo?.close();
    await work?.remove();
  });

  it('answers /v2/ on loopback with the distribution API header', async () => {
    expect(upstream.host).toMatch(/^127\.0\.0\.1:\d+$/);
    const response = await fetch(`${upstream.url}/v2/`, { signal: AbortSignal.timeout(5000) });
    expect(response.status).toBe(200);
    expect(response.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
  });

  it('serves, as a pull-through proxy, what was pushed to its upstream', async () => {
    const image = buildImage({ layers: 2, seed: 'reference-proxy' });
    const layout = join(work.path, 'layout');
    await writeOciLayout(layout, { tag: 'v1', root: image });
    await skopeo.copy(`oci:${layout}:v1`, `docker://${upstream.host}/library/app:v1`, ['--preserve-digests']);

    const manifest = await fetch(`${proxy.url}/v2/library/app/manifests/v1`, {
      headers: { accept: MediaType.OciManifest },
      signal: AbortSignal.timeout(10_000),
    });
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get('docker-content-digest')).toBe(image.manifestDigest);
    expect(Buffer.from(await manifest.arrayBuffer()).equals(image.manifestBytes)).toBe(true);
    for (const layer of image.layers) {
      const blob = await fetch(`${proxy.url}/v2/library/app/blobs/${layer.digest}`, { signal: AbortSignal.timeout(10_000) });
      expect(blob.status).toBe(200);
      expect(Buffer.from(await blob.arrayBuffer()).equals(layer.bytes)).toBe(true);
    }
  });

  it('stops its process and removes its directory on close()', async () => {
    const registry = await startReferenceRegistry();
    await registry.close();
    expect(() => process.kill(registry.pid, 0)).toThrow();
    await expect(access(registry.dataDir)).rejects.toThrow();
  });
});
