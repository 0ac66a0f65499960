/**
 * Manifest pushes and pulls: every supported media type, by tag and by digest; validation of what a
 * manifest references, its size, its JSON and its digest; byte-identical GET/HEAD with the stored
 * Content-Type; conditional GET; Accept negotiation; and deletes by digest and by tag.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { rawRequest } from './raw-request.js';
import {
  buildImage, buildIndex, bytesOf, descriptorOf, expectOciError, jsonBytes, MT, RegistryClient, sha256, sha512,
} from './registry-client.js';

let stowage: RunningStowage;
let client: RegistryClient;

beforeAll(async () => {
  stowage = await startStowage();
  client = new RegistryClient(stowage.url);
});
afterAll(async () => {
  await client.close();
  await stowage.close();
});

async function expectManifest(repo: string, reference: string, bytes: Buffer, mediaType: string, accept?: string): Promise<void> {
  const res = await client.fetch(`/v2/${repo}/manifests/${reference}`, accept ? { headers: { Accept: accept } } : {});
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe(mediaType);
  expect(res.headers.get('docker-content-digest')).toBe(sha256(bytes));
  expect(res.headers.get('etag')).toBe(`"${sha256(bytes)}"`);
  expect(res.headers.get('content-length')).toBe(String(bytes.length));
  expect(res.headers.get('content-encoding')).toBeNull();
  expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
}

async function pushBlobs(repo: string, image: { config: Buffer; layers: Buffer[] }): Promise<void> {
  for (const blob of [image.config, ...image.layers]) await client.pushBlob(repo, blob);
}

describe('PUT', () => {
  it.each([
    ['an OCI image manifest', false],
    ['a Docker schema2 manifest', true],
  ])('%s by tag is 201 with Location and Docker-Content-Digest, then pulls byte-identical', async (_, docker) => {
    const repo = docker ? 'm/docker' : 'm/oci';
    const image = buildImage({ seed: repo, layers: 2, docker });
    await pushBlobs(repo, image);
    const res = await client.putManifest(repo, 'v1', image.manifest, image.mediaType);
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/v2/${repo}/manifests/${image.digest}`);
    expect(res.headers.get('docker-content-digest')).toBe(image.digest);
    await expectManifest(repo, 'v1', image.manifest, image.mediaType);
    await expectManifest(repo, image.digest, image.manifest, image.mediaType);
  });

  it('by digest is 201 and creates no tag', async () => {
    const repo = 'm/bydigest';
    const image = buildImage({ seed: repo });
    await pushBlobs(repo, image);
    const res = await client.putManifest(repo, image.digest, image.manifest, image.mediaType);
    expect(res.status).toBe(201);
    expect(res.headers.get('docker-content-digest')).toBe(image.digest);
    expect(res.headers.get('location')).toBe(`/v2/${repo}/manifests/${image.digest}`);
    await expectManifest(repo, image.digest, image.manifest, image.mediaType);
    const tags = (await (await client.fetch(`/v2/${repo}/tags/list`)).json()) as { tags: string[] };
    expect(tags.tags).toEqual([]);
  });

  it.each([
    ['an OCI index', false],
    ['a Docker manifest list', true],
  ])('%s whose children were pushed is 201 and pulls byte-identical', async (_, docker) => {
    const repo = docker ? 'm/list' : 'm/index';
    const children = [buildImage({ seed: `${repo}/amd64`, docker }), buildImage({ seed: `${repo}/arm64`, docker })];
    for (const child of children) {
      await pushBlobs(repo, child);
      expect((await client.putManifest(repo, child.digest, child.manifest, child.mediaType)).status).toBe(201);
    }
    const index = buildIndex(children.map((c) => c.descriptor), { docker });
    const res = await client.putManifest(repo, 'multi', index.bytes, index.mediaType);
    expect(res.status).toBe(201);
    expect(res.headers.get('docker-content-digest')).toBe(index.digest);
    await expectManifest(repo, 'multi', index.bytes, index.mediaType, `${index.mediaType}, ${MT.ociManifest}`);
  });

  it('an artifact manifest with artifactType and the empty config is 201', async () => {
    const repo = 'm/artifact';
    const empty = Buffer.from('{}');
    const payload = bytesOf('artifact-payload', 512);
    await client.pushBlob(repo, empty);
    await client.pushBlob(repo, payload);
    const manifest = jsonBytes({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      artifactType: 'application/vnd.example.sbom.v1+json',
      config: descriptorOf(MT.ociEmpty, empty),
      layers: [descriptorOf('application/vnd.example.sbom.v1+json', payload)],
      annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
    });
    const res = await client.putManifest(repo, 'sbom', manifest, MT.ociManifest);
    expect(res.status).toBe(201);
    expect(res.headers.get('docker-content-digest')).toBe(sha256(manifest));
    await expectManifest(repo, 'sbom', manifest, MT.ociManifest);
  });

  it('an OCI manifest without a mediaType field is stored under the Content-Type it was pushed with', async () => {
    const repo = 'm/nomediatype';
    const image = buildImage({ seed: repo });
    await pushBlobs(repo, image);
    const parsed = JSON.parse(image.manifest.toString()) as Record<string, unknown>;
    delete parsed.mediaType;
    const bytes = jsonBytes(parsed);
    expect((await client.putManifest(repo, 'v1', bytes, MT.ociManifest)).status).toBe(201);
    await expectManifest(repo, 'v1', bytes, MT.ociManifest);
  });

  it('a sha512 digest reference stores and serves the manifest under that digest', async () => {
    const repo = 'm/sha512';
    const image = buildImage({ seed: repo });
    await pushBlobs(repo, image);
    const digest = sha512(image.manifest);
    const res = await client.putManifest(repo, digest, image.manifest, image.mediaType);
    expect(res.status).toBe(201);
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    expect(res.headers.get('location')).toBe(`/v2/${repo}/manifests/${digest}`);
    const get = await client.fetch(`/v2/${repo}/manifests/${digest}`);
    expect(get.status).toBe(200);
    expect(get.headers.get('docker-content-digest')).toBe(digest);
    expect(Buffer.from(await get.arrayBuffer()).equals(image.manifest)).toBe(true);
  });

  it('re-pushing a tag moves it to the new manifest', async () => {
    const repo = 'm/retag';
    const first = await client.pushImage(repo, 'latest', { seed: 'retag-1' });
    const second = await client.pushImage(repo, 'latest', { seed: 'retag-2' });
    expect(first.digest).not.toBe(second.digest);
    await expectManifest(repo, 'latest', second.manifest, second.mediaType);
    await expectManifest(repo, first.digest, first.manifest, first.mediaType);
  });
});

describe('PUT validation', () => {
  it('a manifest referencing a blob that was never pushed is 400 MANIFEST_BLOB_UNKNOWN and is not stored', async () => {
    const repo = 'm/missing';
    const image = buildImage({ seed: repo, layers: 2 });
    await client.pushBlob(repo, image.config);
    await client.pushBlob(repo, image.layers[0]!);
    const res = await client.putManifest(repo, 'v1', image.manifest, image.mediaType);
    const error = await expectOciError(res, 400, 'MANIFEST_BLOB_UNKNOWN');
    expect(JSON.stringify(error.detail)).toContain(sha256(image.layers[1]!));
    await expectOciError(await client.fetch(`/v2/${repo}/manifests/v1`), 404, 'MANIFEST_UNKNOWN');
    await expectOciError(await client.fetch(`/v2/${repo}/manifests/${image.digest}`), 404, 'MANIFEST_UNKNOWN');
  });

  it('a manifest referencing a blob that exists only in another repository is 400 MANIFEST_BLOB_UNKNOWN', async () => {
    const image = buildImage({ seed: 'm/foreign' });
    await pushBlobs('m/foreign-source', image);
    await expectOciError(await client.putManifest('m/foreign-target', 'v1', image.manifest, image.mediaType), 400, 'MANIFEST_BLOB_UNKNOWN');
  });

  it('an index referencing a child manifest that was never pushed is 400 MANIFEST_BLOB_UNKNOWN', async () => {
    const repo = 'm/missing-child';
    const present = await client.pushImage(repo, 'amd64', { seed: 'child-present' });
    const absent = buildImage({ seed: 'child-absent' });
    const index = buildIndex([present.descriptor, absent.descriptor]);
    const res = await client.putManifest(repo, 'multi', index.bytes, index.mediaType);
    const error = await expectOciError(res, 400, 'MANIFEST_BLOB_UNKNOWN');
    expect(JSON.stringify(error.detail)).toContain(absent.digest);
  });

  it.each([
    ['not JSON', Buffer.from('{"schemaVersion": 2,')],
    ['a JSON array', Buffer.from('[]')],
    ['schemaVersion 3', jsonBytes({ schemaVersion: 3, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: sha256('x'), size: 1 }, layers: [] })],
    ['no config', jsonBytes({ schemaVersion: 2, mediaType: MT.ociManifest, layers: [] })],
    ['a layer with a bad digest', jsonBytes({ schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: sha256('x'), size: 1 }, layers: [{ mediaType: MT.ociLayer, digest: 'sha256:nope', size: 1 }] })],
    ['a negative size', jsonBytes({ schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: sha256('x'), size: -1 }, layers: [] })],
    ['an index without manifests', jsonBytes({ schemaVersion: 2, mediaType: MT.ociIndex })],
    ['an unknown mediaType', jsonBytes({ schemaVersion: 2, mediaType: 'application/vnd.example+json', config: { mediaType: MT.ociConfig, digest: sha256('x'), size: 1 }, layers: [] })],
  ])('%s is 400 MANIFEST_INVALID', async (_, bytes) => {
    await expectOciError(await client.putManifest('m/invalid', 'v1', bytes, MT.ociManifest), 400, 'MANIFEST_INVALID');
  });

  it('a Content-Type that contradicts the manifest mediaType is 400 MANIFEST_INVALID', async () => {
    const image = buildImage({ seed: 'm/contradict' });
    await pushBlobs('m/contradict', image);
    await expectOciError(await client.putManifest('m/contradict', 'v1', image.manifest, MT.dockerManifest), 400, 'MANIFEST_INVALID');
  });

  it('a schema1 manifest is 400 MANIFEST_INVALID with a clear message', async () => {
    const schema1 = jsonBytes({ schemaVersion: 1, name: 'm/schema1', tag: 'v1', architecture: 'amd64', fsLayers: [], history: [], signatures: [] });
    for (const type of [MT.dockerSchema1, 'application/vnd.docker.distribution.manifest.v1+json', 'application/json']) {
      const error = await expectOciError(await client.putManifest('m/schema1', 'v1', schema1, type), 400, 'MANIFEST_INVALID');
      expect(JSON.stringify(error.detail)).toMatch(/schema1/i);
    }
    await expectOciError(await client.fetch('/v2/m/schema1/manifests/v1'), 404, 'MANIFEST_UNKNOWN');
  });

  it('a manifest over 4 MiB is 413, sent with or without Content-Length', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
    big.write('{"schemaVersion":2,', 0);
    const res = await client.putManifest('m/big', 'v1', big, MT.ociManifest);
    const error = await expectOciError(res, 413, 'MANIFEST_INVALID');
    expect(error.message).toMatch(/exceeds 4194304 bytes/);
    const chunked = await rawRequest({
      host: stowage.host,
      method: 'PUT',
      path: '/v2/m/big/manifests/v1',
      headers: { 'Content-Type': MT.ociManifest },
      body: [big.subarray(0, 2 * 1024 * 1024), big.subarray(2 * 1024 * 1024)],
    });
    expect(chunked.status).toBe(413);
    await expectOciError(await client.fetch('/v2/m/big/manifests/v1'), 404, 'MANIFEST_UNKNOWN');
  });

  it('a manifest of exactly 4 MiB is accepted', async () => {
    const repo = 'm/limit';
    const image = buildImage({ seed: repo });
    await pushBlobs(repo, image);
    const parsed = JSON.parse(image.manifest.toString()) as Record<string, unknown>;
    const base = jsonBytes({ ...parsed, annotations: { pad: '' } }).length;
    const bytes = jsonBytes({ ...parsed, annotations: { pad: 'x'.repeat(4 * 1024 * 1024 - base) } });
    expect(bytes.length).toBe(4 * 1024 * 1024);
    expect((await client.putManifest(repo, 'v1', bytes, MT.ociManifest)).status).toBe(201);
  });

  it('a body that does not match the digest in the URL is 400 DIGEST_INVALID and is stored under neither digest', async () => {
    const repo = 'm/mismatch';
    const image = buildImage({ seed: repo });
    await pushBlobs(repo, image);
    const claimed = sha256('another manifest');
    await expectOciError(await client.putManifest(repo, claimed, image.manifest, image.mediaType), 400, 'DIGEST_INVALID');
    await expectOciError(await client.fetch(`/v2/${repo}/manifests/${claimed}`), 404, 'MANIFEST_UNKNOWN');
    await expectOciError(await client.fetch(`/v2/${repo}/manifests/${image.digest}`), 404, 'MANIFEST_UNKNOWN');
  });

  it('an invalid tag is 400', async () => {
    const image = buildImage({ seed: 'm/badtag' });
    await pushBlobs('m/badtag', image);
    for (const tag of ['-leading-dash', '.dot', 'x'.repeat(129)]) {
      const res = await client.putManifest('m/badtag', tag, image.manifest, image.mediaType);
      expect(res.status).toBe(400);
      await res.arrayBuffer();
    }
  });
});

describe('GET and HEAD', () => {
  let repo: string;
  let image: { manifest: Buffer; digest: string; mediaType: string };
  let index: { bytes: Buffer; digest: string; mediaType: string };

  beforeAll(async () => {
    repo = 'm/pull';
    image = await client.pushImage(repo, 'image', { seed: 'pull' });
    index = buildIndex([{ mediaType: image.mediaType, digest: image.digest, size: image.manifest.length }]);
    expect((await client.putManifest(repo, 'index', index.bytes, index.mediaType)).status).toBe(201);
  });

  it('HEAD has Content-Type, Content-Length, Docker-Content-Digest and ETag, and no body', async () => {
    for (const reference of ['image', image.digest]) {
      const res = await rawRequest({ host: stowage.host, method: 'HEAD', path: `/v2/${repo}/manifests/${reference}` });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe(image.mediaType);
      expect(res.headers['content-length']).toBe(String(image.manifest.length));
      expect(res.headers['docker-content-digest']).toBe(image.digest);
      expect(res.headers.etag).toBe(`"${image.digest}"`);
      expect(res.body.length).toBe(0);
    }
  });

  it('HEAD of an unknown manifest is 404 without a body', async () => {
    const res = await rawRequest({ host: stowage.host, method: 'HEAD', path: `/v2/${repo}/manifests/nope` });
    expect(res.status).toBe(404);
    expect(res.body.length).toBe(0);
  });

  it('If-None-Match with the ETag is 304 without a body; another ETag gets 200', async () => {
    const res = await rawRequest({ host: stowage.host, method: 'GET', path: `/v2/${repo}/manifests/image`, headers: { 'If-None-Match': `"${image.digest}"` } });
    expect(res.status).toBe(304);
    expect(res.body.length).toBe(0);
    expect(res.headers['docker-content-digest']).toBe(image.digest);
    expect(res.headers.etag).toBe(`"${image.digest}"`);
    const list = await rawRequest({ host: stowage.host, method: 'GET', path: `/v2/${repo}/manifests/image`, headers: { 'If-None-Match': `"sha256:${'1'.repeat(64)}", "${image.digest}"` } });
    expect(list.status).toBe(304);
    const other = await client.fetch(`/v2/${repo}/manifests/image`, { headers: { 'If-None-Match': `"sha256:${'1'.repeat(64)}"` } });
    expect(other.status).toBe(200);
    expect(Buffer.from(await other.arrayBuffer()).equals(image.manifest)).toBe(true);
  });

  it('never adds Content-Encoding', async () => {
    const res = await rawRequest({ host: stowage.host, method: 'GET', path: `/v2/${repo}/manifests/index`, headers: { 'Accept-Encoding': 'gzip, zstd, br', Accept: '*/*' } });
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.body.equals(index.bytes)).toBe(true);
  });

  describe('Accept negotiation', () => {
    it('serves an index when its type, */* or application/* is accepted, or when there is no Accept header', async () => {
      for (const accept of [MT.ociIndex, '*/*', 'application/*', `${MT.dockerManifest}, ${MT.ociIndex};q=0.5`]) {
        await expectManifest(repo, 'index', index.bytes, index.mediaType, accept);
      }
      const none = await rawRequest({ host: stowage.host, method: 'GET', path: `/v2/${repo}/manifests/index` });
      expect(none.status).toBe(200);
      expect(none.body.equals(index.bytes)).toBe(true);
    });

    it('an index whose type is not accepted (and no */*) is 404 MANIFEST_UNKNOWN', async () => {
      for (const accept of [MT.ociManifest, `${MT.dockerManifest}, ${MT.ociManifest}`, MT.dockerList, `${MT.ociIndex};q=0, ${MT.ociManifest}`]) {
        const res = await client.fetch(`/v2/${repo}/manifests/index`, { headers: { Accept: accept } });
        await expectOciError(res, 404, 'MANIFEST_UNKNOWN');
      }
      const head = await client.fetch(`/v2/${repo}/manifests/${index.digest}`, { method: 'HEAD', headers: { Accept: MT.ociManifest } });
      expect(head.status).toBe(404);
    });

    it('reads every Accept header line, not just the first', async () => {
      const res = await rawRequest({
        host: stowage.host,
        method: 'GET',
        path: `/v2/${repo}/manifests/index`,
        headers: { Accept: [MT.dockerManifest, MT.ociManifest, `${MT.dockerList}, ${MT.ociIndex}`] },
      });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe(MT.ociIndex);
      expect(res.body.equals(index.bytes)).toBe(true);
    });

    it('parses media-type parameters and whitespace', async () => {
      await expectManifest(repo, 'index', index.bytes, index.mediaType, ` ${MT.dockerManifest} ;q=0.9 ,  ${MT.ociIndex} ; q=0.8 `);
    });

    it('always serves an image manifest, whatever the Accept header', async () => {
      await expectManifest(repo, 'image', image.manifest, image.mediaType, MT.dockerManifest);
    });
  });
});

describe('DELETE', () => {
  it('by digest is 202; the manifest and every tag pointing at it are gone', async () => {
    const repo = 'm/delete';
    const image = await client.pushImage(repo, 'one', { seed: 'delete' });
    expect((await client.putManifest(repo, 'two', image.manifest, image.mediaType)).status).toBe(201);
    const keep = await client.pushImage(repo, 'keep', { seed: 'delete-keep' });
    const res = await client.fetch(`/v2/${repo}/manifests/${image.digest}`, { method: 'DELETE' });
    expect(res.status).toBe(202);
    await expectOciError(await client.fetch(`/v2/${repo}/manifests/${image.digest}`), 404, 'MANIFEST_UNKNOWN');
    await expectOciError(await client.fetch(`/v2/${repo}/manifests/one`), 404, 'MANIFEST_UNKNOWN');
    await expectOciError(await client.fetch(`/v2/${repo}/manifests/two`), 404, 'MANIFEST_UNKNOWN');
    const tags = (await (await client.fetch(`/v2/${repo}/tags/list`)).json()) as { tags: string[] };
    expect(tags.tags).toEqual(['keep']);
    await expectManifest(repo, 'keep', keep.manifest, keep.mediaType);
    await expectOciError(await client.fetch(`/v2/${repo}/manifests/${image.digest}`, { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');
  });

  it('by tag is 202 and removes only the tag', async () => {
    const repo = 'm/untag';
    const image = await client.pushImage(repo, 'a', { seed: 'untag' });
    expect((await client.putManifest(repo, 'b', image.manifest, image.mediaType)).status).toBe(201);
    expect((await client.fetch(`/v2/${repo}/manifests/a`, { method: 'DELETE' })).status).toBe(202);
    await expectOciError(await client.fetch(`/v2/${repo}/manifests/a`), 404, 'MANIFEST_UNKNOWN');
    await expectManifest(repo, 'b', image.manifest, image.mediaType);
    await expectManifest(repo, image.digest, image.manifest, image.mediaType);
    await expectOciError(await client.fetch(`/v2/${repo}/manifests/a`, { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');
  });

  it('a manifest in one repository is not visible, nor deletable, through another', async () => {
    const image = await client.pushImage('m/owner', 'v1', { seed: 'owner' });
    await expectOciError(await client.fetch(`/v2/m/other/manifests/${image.digest}`), 404, 'MANIFEST_UNKNOWN');
    await expectOciError(await client.fetch(`/v2/m/other/manifests/${image.digest}`, { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');
    await expectManifest('m/owner', 'v1', image.manifest, image.mediaType);
  });
});
