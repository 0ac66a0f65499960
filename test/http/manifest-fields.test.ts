/**
 * Pushed manifests with fields of the wrong type are 400 MANIFEST_INVALID naming the field:
 * annotations are maps of strings everywhere, descriptor fields have the image spec's types, and
 * nesting is bounded (a 10,000-deep annotation is refused, and nothing overflows the stack).
 * Unknown fields stay allowed, and an upstream manifest with the same oddities is still pulled and
 * served byte for byte.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { descriptorOf, expectOciError, jsonBytes, MT, RegistryClient, sha256 } from './registry-client.js';

let stowage: RunningStowage;
let client: RegistryClient;
let hub: FakeHub;

const REPO = 'fields/repo';
const config = jsonBytes({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
const layer = Buffer.from('layer bytes');
const configDescriptor = descriptorOf(MT.ociConfig, config);
const layerDescriptor = descriptorOf(MT.ociLayer, layer);

beforeAll(async () => {
  hub = await startFakeHub({ auth: 'none' });
  stowage = await startStowage({ config: { hosted: ['fields/**'], upstreams: { 'hub.test': { url: hub.url } } } });
  client = new RegistryClient(stowage.url);
  await client.pushBlob(REPO, config);
  await client.pushBlob(REPO, layer);
});
afterAll(async () => {
  await client.close();
  await stowage.close();
  await hub.close();
});

const image = (fields: Record<string, unknown> = {}, layerFields: Record<string, unknown> = {}): Buffer =>
  jsonBytes({ schemaVersion: 2, mediaType: MT.ociManifest, config: configDescriptor, layers: [{ ...layerDescriptor, ...layerFields }], ...fields });

/** `depth` objects nested inside an annotation value. */
function deepAnnotation(depth: number): Buffer {
  const head = image().toString().slice(0, -1);
  return Buffer.from(`${head},"annotations":{"deep":${'{"a":'.repeat(depth)}"x"${'}'.repeat(depth)}}}`);
}

describe('pushes with fields of the wrong type', () => {
  it.each([
    ['manifest annotations that are a string', image({ annotations: 'yes' }), 'manifest.annotations must be a map'],
    ['manifest annotations that are an array', image({ annotations: ['a'] }), 'manifest.annotations must be a map'],
    ['a manifest annotation that is a number', image({ annotations: { 'org.example.n': 1 } }), 'manifest.annotations["org.example.n"] must be a string'],
    ['a manifest annotation that is an object', image({ annotations: { nested: { a: 'b' } } }), 'manifest.annotations["nested"] must be a string'],
    ['a layer annotation that is null', image({}, { annotations: { a: null } }), 'layers[0].annotations["a"] must be a string'],
    ['config annotations that are a number', image({ config: { ...configDescriptor, annotations: 7 } }), 'config.annotations must be a map'],
    ['a subject annotation that is a boolean', image({ subject: { ...configDescriptor, mediaType: MT.ociManifest, annotations: { a: true } } }), 'subject.annotations["a"] must be a string'],
    ['urls that are a string', image({}, { urls: 'https://example.com/layer' }), 'layers[0].urls must be an array of strings'],
    ['urls holding a number', image({}, { urls: ['https://example.com/layer', 1] }), 'layers[0].urls must be an array of strings'],
    ['a size that is a string', image({}, { size: '11' }), 'layers[0].size must be a non-negative integer'],
    ['a size that is a fraction', image({}, { size: 1.5 }), 'layers[0].size must be a non-negative integer'],
    ['a size past 2^53', image({}, { size: 2 ** 60 }), 'layers[0].size must be a non-negative integer'],
    ['a mediaType that is a number', image({}, { mediaType: 5 }), 'layers[0].mediaType must be a non-empty string'],
    ['a digest that is a number', image({}, { digest: 5 }), 'layers[0].digest is not a valid digest'],
    ['a descriptor artifactType that is a number', image({}, { artifactType: 1 }), 'layers[0].artifactType must be a string'],
    ['a manifest artifactType that is an object', image({ artifactType: { a: 1 } }), 'artifactType must be a string'],
    ['a manifest mediaType that is a number', image({ mediaType: 2 }), 'mediaType must be a string'],
    ['a descriptor that is an array', image({ layers: [[layerDescriptor]] }), 'layers[0]: descriptor must be an object'],
  ])('%s is 400 MANIFEST_INVALID naming the field', async (_, bytes, reason) => {
    const error = await expectOciError(await client.putManifest(REPO, 'bad', bytes, MT.ociManifest), 400, 'MANIFEST_INVALID');
    expect(error.message).toContain(reason);
  });

  it.each([
    ['an index annotation that is a number', { annotations: { n: 1 } }, {}, 'manifest.annotations["n"] must be a string'],
    ['a child annotation that is a list', {}, { annotations: { n: ['x'] } }, 'manifests[0].annotations["n"] must be a string'],
    ['a platform without os', {}, { platform: { architecture: 'amd64' } }, 'manifests[0].platform.os must be a string'],
    ['platform features that are a string', {}, { platform: { architecture: 'amd64', os: 'linux', features: 'sse4' } }, 'manifests[0].platform.features must be an array of strings'],
  ])('in an index, %s is 400 MANIFEST_INVALID', async (_, indexFields, childFields, reason) => {
    const child = image();
    expect((await client.putManifest(REPO, 'child', child, MT.ociManifest)).status).toBe(201);
    const index = jsonBytes({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [{ ...descriptorOf(MT.ociManifest, child), ...childFields }], ...indexFields });
    const error = await expectOciError(await client.putManifest(REPO, 'bad-index', index, MT.ociIndex), 400, 'MANIFEST_INVALID');
    expect(error.message).toContain(reason);
  });

  it('an annotation nested 10,000 levels deep is refused, and the server stays healthy', async () => {
    const error = await expectOciError(await client.putManifest(REPO, 'deep', deepAnnotation(10_000), MT.ociManifest), 400, 'MANIFEST_INVALID');
    expect(error.message).toMatch(/nested deeper than 64 levels/);
    // Not even as a referrer: the subject's referrers list (which serialises descriptors) still answers.
    const referrer = deepAnnotation(10_000).toString().replace('"annotations"', `"subject":${JSON.stringify(descriptorOf(MT.ociManifest, image()))},"annotations"`);
    await expectOciError(await client.putManifest(REPO, 'deep-referrer', Buffer.from(referrer), MT.ociManifest), 400, 'MANIFEST_INVALID');
    const referrers = await client.fetch(`/v2/${REPO}/referrers/${sha256(image())}`);
    expect(referrers.status).toBe(200);
    expect(((await referrers.json()) as { manifests: unknown[] }).manifests).toEqual([]);
    await expectOciError(await client.fetch(`/v2/${REPO}/manifests/deep`), 404, 'MANIFEST_UNKNOWN');
    expect((await client.fetch('/v2/')).status).toBe(200);
  });

  it('nothing invalid was stored under its tag or digest', async () => {
    for (const bytes of [image({ annotations: { n: 1 } }), deepAnnotation(10_000)]) {
      await expectOciError(await client.fetch(`/v2/${REPO}/manifests/${sha256(bytes)}`), 404, 'MANIFEST_UNKNOWN');
    }
    await expectOciError(await client.fetch(`/v2/${REPO}/manifests/bad`), 404, 'MANIFEST_UNKNOWN');
  });
});

describe('what stays allowed', () => {
  it('unknown fields anywhere, any nesting within the bound, and valid typed fields', async () => {
    const bytes = image(
      {
        annotations: { 'org.opencontainers.image.title': 'ok', '': '' },
        artifactType: 'application/vnd.example',
        'x-vendor': { any: [1, { thing: null }] },
      },
      { annotations: { a: 'b' }, urls: [], artifactType: 'application/x', data: 'bGF5ZXIgYnl0ZXM=', 'x-extra': 42 },
    );
    const res = await client.putManifest(REPO, 'good', bytes, MT.ociManifest);
    expect(res.status).toBe(201);
    const got = await client.fetch(`/v2/${REPO}/manifests/good`, { headers: { Accept: MT.ociManifest } });
    expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('an unknown field may nest up to the bound (brackets inside strings do not count)', async () => {
    const nested = (depth: number): unknown => (depth === 0 ? '[[[{{' : [nested(depth - 1)]);
    expect((await client.putManifest(REPO, 'deep-ok', image({ 'x-nested': nested(60) }), MT.ociManifest)).status).toBe(201);
    await expectOciError(await client.putManifest(REPO, 'deep-no', image({ 'x-nested': nested(64) }), MT.ociManifest), 400, 'MANIFEST_INVALID');
  });

  it('an upstream manifest with the same oddities is pulled and served byte for byte', async () => {
    const blobs = [hub.addBlob('odd/image', config), hub.addBlob('odd/image', layer)];
    expect(blobs).toEqual([configDescriptor.digest, layerDescriptor.digest]);
    const odd = image({ annotations: { count: 3, nested: { a: ['b'] } } }, { urls: 'not-a-list' });
    const digest = hub.addManifest('odd/image', 'v1', odd, MT.ociManifest);
    const res = await client.fetch('/v2/hub.test/odd/image/manifests/v1', { headers: { Accept: MT.ociManifest } });
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    expect(Buffer.from(await res.arrayBuffer()).equals(odd)).toBe(true);
  });
});
