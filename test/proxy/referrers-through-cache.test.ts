/**
 * `GET /v2/<proxied repo>/referrers/<digest>` asks the upstream — its referrers API, every `Link`
 * page, or the referrers tag schema when it has no such API — and caches the answer like a tag.
 * Stowage always answers 200 with an OCI index (empty when nothing refers), never a 404 other than
 * NAME_UNKNOWN, and every artifact it lists is then pullable through the cache. Two upstreams: the
 * fake hub (Docker-Hub-like, with the API and paging) and distribution 2.8 (without it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { requireTool } from '../support/processes.js';
import { REFERENCE_REGISTRY_BINARY, startReferenceRegistry, type ReferenceRegistry } from '../support/reference-registry.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { buildImage, expectOciError, jsonBytes, MT, RegistryClient, sha256, type Descriptor } from '../http/registry-client.js';
import { TestClock } from './support/proxy-helpers.js';

const SIGNATURE = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const SBOM = 'application/spdx+json';
const ATTESTATION = 'application/vnd.in-toto+json';
const TTL = 10 * 60_000;
const EMPTY = Buffer.from('{}');

/** An artifact manifest about `subject`: the empty config, one layer of `payload`. */
function artifact(subject: Descriptor, artifactType: string, payload: string): { bytes: Buffer; digest: string; layer: Buffer } {
  const layer = Buffer.from(payload);
  const bytes = jsonBytes({
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    artifactType,
    config: { mediaType: MT.ociEmpty, digest: sha256(EMPTY), size: EMPTY.length },
    layers: [{ mediaType: 'application/octet-stream', digest: sha256(layer), size: layer.length }],
    subject,
    annotations: { 'org.example.payload': payload },
  });
  return { bytes, digest: sha256(bytes), layer };
}

/** POST then PUT: distribution 2.8 has no single-POST upload. */
async function pushBlob(client: RegistryClient, repo: string, bytes: Buffer): Promise<void> {
  const location = await client.startUpload(repo);
  const res = await client.fetch(`${location}${location.includes('?') ? '&' : '?'}digest=${sha256(bytes)}`, { method: 'PUT', body: bytes });
  expect(res.status).toBe(201);
  await res.arrayBuffer();
}

async function pushImage(client: RegistryClient, repo: string, tag: string, seed: string): Promise<Descriptor> {
  const image = buildImage({ seed });
  for (const blob of [image.config, ...image.layers]) await pushBlob(client, repo, blob);
  expect((await client.putManifest(repo, tag, image.manifest, image.mediaType)).status).toBe(201);
  return image.descriptor;
}

async function referrersOf(client: RegistryClient, path: string): Promise<{ res: Response; digests: string[]; manifests: Descriptor[] }> {
  const res = (await client.fetch(path)) as unknown as Response;
  expect(res.status, await res.clone().text()).toBe(200);
  expect(res.headers.get('content-type')).toBe(MT.ociIndex);
  const index = (await res.json()) as { schemaVersion: number; mediaType: string; manifests: Descriptor[] };
  expect(index).toMatchObject({ schemaVersion: 2, mediaType: MT.ociIndex });
  return { res, digests: index.manifests.map((d) => d.digest).sort(), manifests: index.manifests };
}

describe('an upstream with the referrers API (Docker-Hub-like, paged)', () => {
  let hub: FakeHub;
  let stowage: RunningStowage;
  let client: RegistryClient;
  const clock = new TestClock();
  let subject: Descriptor;
  const artifacts: Array<ReturnType<typeof artifact>> = [];

  const config = (dataDir?: string) => ({
    config: { hosted: ['team/**'], upstreams: { 'docker.io': { url: hub.url, tagTtl: `${TTL}ms` } }, defaultUpstream: 'docker.io' },
    app: { now: clock.now },
    ...(dataDir ? { dataDir } : {}),
  });
  const addArtifact = (artifactType: string, payload: string): ReturnType<typeof artifact> => {
    const made = artifact(subject, artifactType, payload);
    hub.addBlob('library/signed', EMPTY);
    hub.addBlob('library/signed', made.layer);
    hub.addManifest('library/signed', made.digest, made.bytes, MT.ociManifest);
    artifacts.push(made);
    return made;
  };

  beforeAll(async () => {
    hub = await startFakeHub({ auth: 'anonymous-token', referrersPageSize: 2 });
    const image = hub.addImage('library/signed', 'v1');
    subject = { mediaType: image.mediaType, digest: image.digest, size: image.bytes.length };
    addArtifact(SIGNATURE, 'signature');
    addArtifact(SBOM, 'sbom');
    addArtifact(ATTESTATION, 'provenance');
    hub.addImage('library/unsigned', 'v1');
    stowage = await startStowage(config());
    client = new RegistryClient(stowage.url);
  });
  afterAll(async () => {
    await client.close();
    await stowage.close();
    await hub.close();
  });

  it('lists what the upstream lists, following its Link pages, as an OCI index', async () => {
    hub.reset();
    const { res, digests, manifests } = await referrersOf(client, `/v2/signed/referrers/${subject.digest}`);
    expect(digests).toEqual(artifacts.map((a) => a.digest).sort());
    expect(manifests.map((d) => d.artifactType).sort()).toEqual([ATTESTATION, SBOM, SIGNATURE].sort());
    expect(res.headers.get('oci-filters-applied')).toBeNull();
    expect(hub.count({ kind: 'referrers', status: 200 })).toBe(2); // three referrers, two per page
  });

  it('applies artifactType itself, with OCI-Filters-Applied, from the cached list', async () => {
    hub.reset();
    const { res, manifests } = await referrersOf(client, `/v2/signed/referrers/${subject.digest}?artifactType=${encodeURIComponent(SIGNATURE)}`);
    expect(manifests.map((d) => d.digest)).toEqual([artifacts[0]!.digest]);
    expect(res.headers.get('oci-filters-applied')).toBe('artifactType');
    expect(hub.count({ kind: 'referrers', status: 200 })).toBe(0);
  });

  it('every listed artifact is pullable through the cache', async () => {
    const { manifests } = await referrersOf(client, `/v2/library/signed/referrers/${subject.digest}`);
    for (const descriptor of manifests) {
      const res = await client.fetch(`/v2/library/signed/manifests/${descriptor.digest}`, { headers: { Accept: descriptor.mediaType } });
      expect(res.status).toBe(200);
      const bytes = Buffer.from(await res.arrayBuffer());
      expect(sha256(bytes)).toBe(descriptor.digest);
      const layer = (JSON.parse(bytes.toString()) as { layers: Descriptor[] }).layers[0]!;
      const blob = await client.fetch(`/v2/library/signed/blobs/${layer.digest}`);
      expect(sha256(Buffer.from(await blob.arrayBuffer()))).toBe(layer.digest);
    }
  });

  it('is cached like a tag: a new signature shows after the TTL, not before', async () => {
    hub.reset();
    const added = addArtifact(SIGNATURE, 'second signature');
    expect((await referrersOf(client, `/v2/signed/referrers/${subject.digest}`)).digests).not.toContain(added.digest);
    expect(hub.count({ kind: 'referrers', status: 200 })).toBe(0);
    clock.advance(TTL + 1);
    expect((await referrersOf(client, `/v2/signed/referrers/${subject.digest}`)).digests).toContain(added.digest);
    expect(hub.count({ kind: 'referrers', status: 200 })).toBe(2);
  });

  it('serves the last known list when the upstream fails (stale-if-error), with a Warning', async () => {
    clock.advance(TTL + 1);
    hub.faults.fail('referrers', { status: 503, times: Infinity });
    try {
      const { res, digests } = await referrersOf(client, `/v2/signed/referrers/${subject.digest}`);
      expect(digests).toEqual(artifacts.map((a) => a.digest).sort());
      expect(res.headers.get('warning')).toMatch(/^299 - "Response is stale/);
    } finally {
      hub.reset();
    }
  });

  it('a subject nothing refers to is an empty index, not a 404', async () => {
    const unsigned = await client.fetch('/v2/unsigned/manifests/v1', { headers: { Accept: MT.ociManifest } });
    const digest = unsigned.headers.get('docker-content-digest')!;
    expect((await referrersOf(client, `/v2/unsigned/referrers/${digest}`)).manifests).toEqual([]);
    expect((await referrersOf(client, `/v2/unsigned/referrers/${sha256('never pushed')}`)).manifests).toEqual([]);
  });

  it('a repository the upstream does not know is 404 NAME_UNKNOWN (Docker Hub answers 401 for it)', async () => {
    await expectOciError(await client.fetch(`/v2/nobody/here/referrers/${subject.digest}`), 404, 'NAME_UNKNOWN');
  });

  it('with the upstream down and nothing known, the answer is 502 (never a 404 clients would take for "no API")', async () => {
    hub.faults.fail('referrers', { status: 503, times: Infinity });
    try {
      await expectOciError(await client.fetch(`/v2/unsigned/referrers/${sha256('cold')}`), 502, 'UPSTREAM_UNAVAILABLE');
    } finally {
      hub.reset();
    }
  });

  it('after a restart with the upstream down, the referrers seen before are served stale', async () => {
    await client.close();
    await stowage.app.shutdown();
    const restarted = await startStowage(config(stowage.dataDir));
    const again = new RegistryClient(restarted.url);
    hub.faults.fail('referrers', { status: 503, times: Infinity });
    try {
      const { res, digests } = await referrersOf(again, `/v2/signed/referrers/${subject.digest}`);
      expect(digests).toEqual(artifacts.map((a) => a.digest).sort());
      expect(res.headers.get('warning')).toMatch(/^299 /);
    } finally {
      hub.reset();
      await again.close();
      await restarted.app.shutdown();
    }
    client = new RegistryClient(stowage.url);
  });
});

describe.skipIf(!requireTool(REFERENCE_REGISTRY_BINARY))('an upstream without the referrers API (distribution 2.8): the referrers tag schema', () => {
  let registry: ReferenceRegistry;
  let upstream: RegistryClient;
  let stowage: RunningStowage;
  let client: RegistryClient;
  let subject: Descriptor;
  let signature: ReturnType<typeof artifact>;
  let unsignedDigest: string;

  beforeAll(async () => {
    registry = await startReferenceRegistry();
    upstream = new RegistryClient(registry.url);
    subject = await pushImage(upstream, 'app/signed', 'v1', 'reference/signed');
    signature = artifact(subject, SIGNATURE, 'signed by the reference');
    await pushBlob(upstream, 'app/signed', EMPTY);
    await pushBlob(upstream, 'app/signed', signature.layer);
    expect((await upstream.putManifest('app/signed', signature.digest, signature.bytes, MT.ociManifest)).status).toBe(201);
    // What oras and cosign write for a registry without the API: an index under sha256-<hex>.
    const fallback = jsonBytes({
      schemaVersion: 2,
      mediaType: MT.ociIndex,
      manifests: [{ mediaType: MT.ociManifest, digest: signature.digest, size: signature.bytes.length, artifactType: SIGNATURE }],
    });
    expect((await upstream.putManifest('app/signed', `sha256-${subject.digest.slice(7)}`, fallback, MT.ociIndex)).status).toBe(201);
    unsignedDigest = (await pushImage(upstream, 'app/signed', 'unsigned', 'reference/unsigned')).digest;
    stowage = await startStowage({ config: { hosted: ['team/**'], upstreams: { 'ref.test': { url: registry.url } }, defaultUpstream: null } });
    client = new RegistryClient(stowage.url);
  }, 30_000);
  afterAll(async () => {
    await client?.close();
    await upstream?.close();
    await stowage?.close();
    await registry?.close();
  });

  it('the registry really has no referrers API', async () => {
    const res = await upstream.fetch(`/v2/app/signed/referrers/${subject.digest}`);
    expect(res.status).toBe(404);
    await res.arrayBuffer();
  });

  it('lists the artifacts of the referrers tag, as an OCI index', async () => {
    const { manifests } = await referrersOf(client, `/v2/ref.test/app/signed/referrers/${subject.digest}`);
    expect(manifests).toEqual([{ mediaType: MT.ociManifest, digest: signature.digest, size: signature.bytes.length, artifactType: SIGNATURE }]);
    const filtered = await referrersOf(client, `/v2/ref.test/app/signed/referrers/${subject.digest}?artifactType=${encodeURIComponent(SBOM)}`);
    expect(filtered.manifests).toEqual([]);
    expect(filtered.res.headers.get('oci-filters-applied')).toBe('artifactType');
  });

  it('the listed signature is pullable through the cache', async () => {
    const res = await client.fetch(`/v2/ref.test/app/signed/manifests/${signature.digest}`, { headers: { Accept: MT.ociManifest } });
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(signature.bytes)).toBe(true);
    const blob = await client.fetch(`/v2/ref.test/app/signed/blobs/${sha256(signature.layer)}`);
    expect(Buffer.from(await blob.arrayBuffer()).equals(signature.layer)).toBe(true);
  });

  it('a subject without a referrers tag is an empty index', async () => {
    expect((await referrersOf(client, `/v2/ref.test/app/signed/referrers/${unsignedDigest}`)).manifests).toEqual([]);
  });
});
