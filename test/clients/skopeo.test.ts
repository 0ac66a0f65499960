/**
 * A real client (skopeo, containers/image) pushing to and pulling from a real Stowage over HTTP on
 * loopback. Every image is generated here, so each manifest and blob that comes back is compared
 * byte for byte (and by sha256) with what was pushed. `--preserve-digests` makes skopeo fail
 * rather than silently convert formats, so a digest change anywhere is an error.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../../src/oci/digest.js';
import {
  blobsOf, buildDockerImage, buildImage, buildIndex, LINUX_AMD64, LINUX_ARM64, readDirTransport, readOciLayout, writeDirTransport, writeOciLayout,
  type BuiltArtifact, type BuiltImage,
} from '../support/oci-layout.js';
import { requireTool, tempDir } from '../support/processes.js';
import { REFERENCE_REGISTRY_BINARY, startReferenceRegistry } from '../support/reference-registry.js';
import { createSkopeo, type Skopeo } from '../support/skopeo.js';
import { startStowage } from '../support/stowage.js';

interface Registry {
  host: string;
  close(): Promise<void>;
}

// The same suite also runs against the reference registry as a baseline: a failure there is a bug
// in the test or the fixtures, a failure only against Stowage is a bug in Stowage.
// (Locally without docker-registry the baseline is left out; under CI requireTool throws instead.)
const subjects: [name: string, start: () => Promise<Registry>][] = [
  ['Stowage', () => startStowage()],
  ...(requireTool(REFERENCE_REGISTRY_BINARY) ? [['the reference registry (baseline)', () => startReferenceRegistry()] as [string, () => Promise<Registry>]] : []),
];

describe.runIf(requireTool('skopeo')).each(subjects)('skopeo push and pull through %s', (_name, start) => {
  let registry: Registry;
  let skopeo: Skopeo;
  let work: Awaited<ReturnType<typeof tempDir>>;

  beforeAll(async () => {
    work = await tempDir('skopeo-test');
    skopeo = await createSkopeo({ timeoutMs: 60_000 });
    registry = await start();
  });

  afterAll(async () => {
    await registry?.close();
    await skopeo?.close();
    await work?.remove();
  });

  let layouts = 0;
  /**
   * Writes `root` to a fresh OCI layout (Docker schema2: a `dir:`, which skopeo's oci: source
   * cannot hold) and pushes it to HOST/REPO:TAG without changing a digest.
   */
  async function push(root: BuiltArtifact, repository: string, tag: string): Promise<string> {
    const layout = join(work.path, `push-${++layouts}`);
    if (root.format === 'oci') await writeOciLayout(layout, { tag, root });
    else await writeDirTransport(layout, root);
    const source = root.format === 'oci' ? `oci:${layout}:${tag}` : `dir:${layout}`;
    const reference = `docker://${registry.host}/${repository}:${tag}`;
    await skopeo.copy(source, reference, ['--preserve-digests', ...(root.kind === 'index' ? ['--all'] : [])]);
    return reference;
  }

  /** Every generated object came back with identical bytes, and nothing else came back. */
  function expectIdenticalBlobs(root: BuiltArtifact, received: Map<string, Buffer>): void {
    const expected = blobsOf(root);
    for (const [digest, bytes] of received) expect(digestOf(bytes), `content of ${digest}`).toBe(digest);
    expect([...received.keys()].sort()).toEqual(expected.map((b) => b.digest).sort());
    for (const blob of expected) expect(received.get(blob.digest)?.equals(blob.bytes), `bytes of ${blob.digest}`).toBe(true);
  }

  it('round-trips a 3-layer OCI image with identical manifest and blob digests', async () => {
    const image = buildImage({ layers: 3, layerSize: 64 * 1024, seed: 'skopeo/oci-3-layers' });
    const reference = await push(image, 'team/app', 'v1');

    const raw = await skopeo.inspectRaw(reference);
    expect(raw.equals(image.manifestBytes)).toBe(true);

    const inspection = await skopeo.inspect(reference);
    expect(inspection.Digest).toBe(image.manifestDigest);
    expect(inspection.Layers).toEqual(image.layers.map((l) => l.digest));
    expect(inspection.Architecture).toBe('amd64');
    expect(inspection.Os).toBe('linux');

    const out = join(work.path, 'pull-oci');
    await skopeo.copy(reference, `oci:${out}:v1`, ['--preserve-digests']);
    const pulled = await readOciLayout(out, 'v1');
    expect(pulled.descriptor.digest).toBe(image.manifestDigest);
    expectIdenticalBlobs(image, pulled.blobs);
  });

  it('pushes the same image into a second repository (blobs known to the registry) and pulls it back', async () => {
    // skopeo's blob-info cache knows these blobs live in team/app, so it may try a cross-repo
    // mount (POST ?mount=&from=) or find them with HEAD; either way the result must be identical.
    const image = buildImage({ layers: 3, layerSize: 64 * 1024, seed: 'skopeo/oci-3-layers' });
    await push(image, 'team/app', 'v1');
    const reference = await push(image, 'team/other', 'v1');
    expect((await skopeo.inspectRaw(reference)).equals(image.manifestBytes)).toBe(true);
    const out = join(work.path, 'pull-other');
    await skopeo.copy(reference, `oci:${out}:v1`, ['--preserve-digests']);
    expectIdenticalBlobs(image, (await readOciLayout(out, 'v1')).blobs);
  });

  it('round-trips a two-platform OCI index with --all, and each platform resolves to its own image', async () => {
    const amd64 = buildImage({ layers: 2, platform: LINUX_AMD64, seed: 'skopeo/index-amd64' });
    const arm64 = buildImage({ layers: 2, platform: LINUX_ARM64, seed: 'skopeo/index-arm64' });
    const index = buildIndex([amd64, arm64]);
    const reference = await push(index, 'team/app', 'multi');

    expect((await skopeo.inspectRaw(reference)).equals(index.manifestBytes)).toBe(true);
    for (const image of [amd64, arm64]) {
      const byDigest = `docker://${registry.host}/team/app@${image.manifestDigest}`;
      expect((await skopeo.inspectRaw(byDigest)).equals(image.manifestBytes)).toBe(true);
      const chosen = await skopeo.inspect(reference, ['--override-os', 'linux', '--override-arch', image.platform.architecture]);
      expect(chosen.Layers).toEqual(image.layers.map((l) => l.digest));
      expect(chosen.Architecture).toBe(image.platform.architecture);
    }

    const out = join(work.path, 'pull-index');
    await skopeo.copy(reference, `oci:${out}:multi`, ['--all', '--preserve-digests']);
    const pulled = await readOciLayout(out, 'multi');
    expect(pulled.descriptor.digest).toBe(index.manifestDigest);
    expectIdenticalBlobs(index, pulled.blobs);
  });

  it('round-trips a Docker schema2 image without converting it', async () => {
    const image: BuiltImage = buildDockerImage({ layers: 2, seed: 'skopeo/docker-schema2' });
    const reference = await push(image, 'team/app', 'docker');

    const raw = await skopeo.inspectRaw(reference);
    expect(raw.equals(image.manifestBytes)).toBe(true);
    expect(JSON.parse(raw.toString()).mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect((await skopeo.inspect(reference)).Layers).toEqual(image.layers.map((l) => l.digest));

    // The oci: transport only stores OCI manifests; the dir: transport keeps any type as is.
    const out = join(work.path, 'pull-docker');
    await skopeo.copy(reference, `dir:${out}`, ['--preserve-digests']);
    expect((await readFile(join(out, 'manifest.json'))).equals(image.manifestBytes)).toBe(true);
    expectIdenticalBlobs(image, await readDirTransport(out));
  });

  it('round-trips a Docker manifest list with --all', async () => {
    const list = buildIndex([
      buildDockerImage({ layers: 1, platform: LINUX_AMD64, seed: 'skopeo/list-amd64' }),
      buildDockerImage({ layers: 1, platform: LINUX_ARM64, seed: 'skopeo/list-arm64' }),
    ]);
    const reference = await push(list, 'team/app', 'docker-multi');
    expect((await skopeo.inspectRaw(reference)).equals(list.manifestBytes)).toBe(true);

    const out = join(work.path, 'pull-docker-list');
    await skopeo.copy(reference, `dir:${out}`, ['--all', '--preserve-digests']);
    expectIdenticalBlobs(list, await readDirTransport(out));
  });
});
