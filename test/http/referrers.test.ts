/**
 * The referrers API (distribution-spec v1.1): an OCI index of the manifests whose `subject` is a
 * digest, `OCI-Subject` on the push response, `artifactType` (falling back to the config media
 * type), annotations, the `artifactType` filter with `OCI-Filters-Applied`, and cleanup on delete.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { buildIndex, bytesOf, descriptorOf, expectOciError, jsonBytes, MT, RegistryClient, sha256, type Descriptor, type PushedImage } from './registry-client.js';

let stowage: RunningStowage;
let client: RegistryClient;
let subject: PushedImage;

const REPO = 'ref/app';
const SBOM = 'application/vnd.example.sbom.v1+json';
const SIGNATURE = 'application/vnd.example.signature.v1+json';

beforeAll(async () => {
  stowage = await startStowage();
  client = new RegistryClient(stowage.url);
  subject = await client.pushImage(REPO, 'v1', { seed: 'subject' });
  await client.pushBlob(REPO, Buffer.from('{}'));
});
afterAll(async () => {
  await client.close();
  await stowage.close();
});

interface Index {
  schemaVersion: number;
  mediaType: string;
  manifests: Descriptor[];
}

async function referrers(digest: string, query = ''): Promise<{ res: Awaited<ReturnType<RegistryClient['fetch']>>; index: Index }> {
  const res = await client.fetch(`/v2/${REPO}/referrers/${digest}${query}`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe(MT.ociIndex);
  return { res, index: (await res.json()) as Index };
}

/** Pushes an artifact manifest about `about`; returns its bytes and the PUT response headers. */
async function pushArtifact(options: { about: Descriptor; artifactType?: string; configType?: string; annotations?: Record<string, string>; seed: string }) {
  const payload = bytesOf(options.seed, 100);
  await client.pushBlob(REPO, payload);
  const config = options.configType ? jsonBytes({ seed: options.seed }) : Buffer.from('{}');
  if (options.configType) await client.pushBlob(REPO, config);
  const manifest = jsonBytes({
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    ...(options.artifactType ? { artifactType: options.artifactType } : {}),
    config: descriptorOf(options.configType ?? MT.ociEmpty, config),
    layers: [descriptorOf('application/octet-stream', payload)],
    subject: options.about,
    ...(options.annotations ? { annotations: options.annotations } : {}),
  });
  const res = await client.putManifest(REPO, sha256(manifest), manifest, MT.ociManifest);
  expect(res.status, await res.clone().text()).toBe(201);
  return { manifest, digest: sha256(manifest), headers: res.headers };
}

describe('referrers', () => {
  it('is an empty OCI index for a subject nothing refers to (even an unknown one)', async () => {
    for (const digest of [subject.digest, sha256('unknown subject')]) {
      const { index } = await referrers(digest);
      expect(index).toEqual({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] });
    }
  });

  it('is 400 DIGEST_INVALID for a malformed digest', async () => {
    await expectOciError(await client.fetch(`/v2/${REPO}/referrers/sha256:abc`), 400, 'DIGEST_INVALID');
    await expectOciError(await client.fetch(`/v2/${REPO}/referrers/latest`), 400, 'DIGEST_INVALID');
  });

  it('lists a pushed referrer with its artifactType and annotations; the push answers with OCI-Subject', async () => {
    const sbom = await pushArtifact({ about: subject.descriptor, artifactType: SBOM, annotations: { 'org.example.kind': 'sbom' }, seed: 'sbom' });
    expect(sbom.headers.get('oci-subject')).toBe(subject.digest);
    expect(sbom.headers.get('docker-content-digest')).toBe(sbom.digest);
    const { index } = await referrers(subject.digest);
    expect(index.manifests).toEqual([
      { mediaType: MT.ociManifest, digest: sbom.digest, size: sbom.manifest.length, artifactType: SBOM, annotations: { 'org.example.kind': 'sbom' } },
    ]);
  });

  it('without artifactType, the config media type is the artifactType', async () => {
    const sig = await pushArtifact({ about: subject.descriptor, configType: SIGNATURE, seed: 'signature' });
    const { index } = await referrers(subject.digest);
    expect(index.manifests.find((d) => d.digest === sig.digest)).toMatchObject({ artifactType: SIGNATURE, size: sig.manifest.length });
  });

  it('?artifactType= filters and says so in OCI-Filters-Applied', async () => {
    const { res, index } = await referrers(subject.digest, `?artifactType=${encodeURIComponent(SIGNATURE)}`);
    expect(res.headers.get('oci-filters-applied')).toBe('artifactType');
    expect(index.manifests.length).toBeGreaterThan(0);
    expect(index.manifests.every((d) => d.artifactType === SIGNATURE)).toBe(true);
    const none = await referrers(subject.digest, `?artifactType=${encodeURIComponent('application/vnd.none')}`);
    expect(none.res.headers.get('oci-filters-applied')).toBe('artifactType');
    expect(none.index.manifests).toEqual([]);
    const unfiltered = await referrers(subject.digest);
    expect(unfiltered.res.headers.get('oci-filters-applied')).toBeNull();
    expect(new Set(unfiltered.index.manifests.map((d) => d.artifactType))).toEqual(new Set([SBOM, SIGNATURE]));
  });

  it('accepts a referrer whose subject was never pushed, and lists it', async () => {
    const ghost = { mediaType: MT.ociManifest, digest: sha256('ghost subject'), size: 123 };
    const res = await pushArtifact({ about: ghost, artifactType: SBOM, seed: 'ghost' });
    expect(res.headers.get('oci-subject')).toBe(ghost.digest);
    const { index } = await referrers(ghost.digest);
    expect(index.manifests.map((d) => d.digest)).toEqual([res.digest]);
  });

  it('an index can be a referrer too, with its own artifactType', async () => {
    const child = await client.pushImage(REPO, 'child', { seed: 'referrer-child' });
    const indexBytes = jsonBytes({
      schemaVersion: 2,
      mediaType: MT.ociIndex,
      artifactType: 'application/vnd.example.bundle',
      manifests: [child.descriptor],
      subject: subject.descriptor,
    });
    const res = await client.putManifest(REPO, 'bundle', indexBytes, MT.ociIndex);
    expect(res.status).toBe(201);
    expect(res.headers.get('oci-subject')).toBe(subject.digest);
    const { index } = await referrers(subject.digest, '?artifactType=application/vnd.example.bundle');
    expect(index.manifests).toEqual([{ mediaType: MT.ociIndex, digest: sha256(indexBytes), size: indexBytes.length, artifactType: 'application/vnd.example.bundle' }]);
  });

  it('a manifest without a subject gets no OCI-Subject header', async () => {
    const plain = buildIndex([subject.descriptor]);
    const res = await client.putManifest(REPO, 'plain', plain.bytes, plain.mediaType);
    expect(res.status).toBe(201);
    expect(res.headers.get('oci-subject')).toBeNull();
  });

  it('deleting a referrer removes it from the list', async () => {
    const temp = await pushArtifact({ about: subject.descriptor, artifactType: 'application/vnd.example.temp', seed: 'temp' });
    expect((await referrers(subject.digest)).index.manifests.map((d) => d.digest)).toContain(temp.digest);
    expect((await client.fetch(`/v2/${REPO}/manifests/${temp.digest}`, { method: 'DELETE' })).status).toBe(202);
    expect((await referrers(subject.digest)).index.manifests.map((d) => d.digest)).not.toContain(temp.digest);
  });

  it('referrers are per repository', async () => {
    const res = await client.fetch(`/v2/ref/other/referrers/${subject.digest}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as Index).manifests).toEqual([]);
  });
});
