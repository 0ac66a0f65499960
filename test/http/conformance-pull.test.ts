/**
 * OCI distribution-spec v1.1 conformance, Pull workflow (the one category every registry MUST
 * support): the checks of the suite's `01_pull_test.go` and of the newer runner's pull, HEAD and
 * range tests, over real HTTP against a hosted Stowage. Test names start with the check id used in
 * docs/conformance.md.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { rawRequest } from './raw-request.js';
import { bytesOf, expectOciError, jsonBytes, MT, RegistryClient, sha256, type Response } from './registry-client.js';

let stowage: RunningStowage;
let client: RegistryClient;

const REPO = 'conformance/pull';
// The suite's "nonexistent manifest" is not even a valid tag: it must still be a plain 404.
const NONEXISTENT_MANIFEST = '.INVALID_MANIFEST_NAME';
const DUMMY_DIGEST = sha256('hello world');
// The error codes the suite accepts in a 400 body (the spec's table plus the legacy Docker ones).
const SUITE_ERROR_CODES = [
  'BLOB_UNKNOWN', 'BLOB_UPLOAD_INVALID', 'BLOB_UPLOAD_UNKNOWN', 'DIGEST_INVALID', 'MANIFEST_BLOB_UNKNOWN', 'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN', 'MANIFEST_UNVERIFIED', 'NAME_INVALID', 'NAME_UNKNOWN', 'SIZE_INVALID', 'TAG_INVALID', 'UNAUTHORIZED', 'DENIED', 'UNSUPPORTED',
];

/** Like the suite's setup: a config with a unique author, pretty-printed with tabs. */
const configOf = (author: string): Buffer =>
  Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, author }, null, '\t'));
const layer = bytesOf('conformance/pull/layer', 4096);
const configs = [configOf('pull-author-0'), configOf('pull-author-1')];
/** The suite's manifests: the config descriptor embeds its bytes (`data`) and an unknown field. */
const manifestOf = (config: Buffer): Buffer =>
  Buffer.from(
    JSON.stringify(
      {
        schemaVersion: 2,
        mediaType: MT.ociManifest,
        config: { mediaType: MT.ociConfig, digest: sha256(config), size: config.length, data: config.toString('base64'), newUnspecifiedField: 'aGVsbG8gd29ybGQ=' },
        layers: [{ mediaType: MT.ociLayer, digest: sha256(layer), size: layer.length }],
      },
      null,
      '\t',
    ),
  );
const manifests = configs.map(manifestOf);
const TAG = 'tagtest0';
const index = jsonBytes({
  schemaVersion: 2,
  mediaType: MT.ociIndex,
  manifests: manifests.map((m, i) => ({ mediaType: MT.ociManifest, digest: sha256(m), size: m.length, platform: { architecture: ['amd64', 'arm64'][i]!, os: 'linux' } })),
});

/** POST then PUT, as the suite's setup pushes every blob. */
async function postPut(repo: string, bytes: Buffer): Promise<Response> {
  const location = await client.startUpload(repo);
  return client.fetch(`${location}?digest=${sha256(bytes)}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: bytes,
  });
}

const noBody = async (res: Response): Promise<void> => expect((await res.arrayBuffer()).byteLength).toBe(0);

beforeAll(async () => {
  stowage = await startStowage();
  client = new RegistryClient(stowage.url);
  // Setup, as the suite: two configs and a layer, manifest[0] by tag, manifest[1] by digest.
  for (const blob of [...configs, layer]) {
    const res = await postPut(REPO, blob);
    expect(res.status, await res.text()).toBe(201);
  }
  const byTag = await client.putManifest(REPO, TAG, manifests[0]!, MT.ociManifest);
  expect(byTag.status, await byTag.text()).toBe(201);
  const byDigest = await client.putManifest(REPO, sha256(manifests[1]!), manifests[1]!, MT.ociManifest);
  expect(byDigest.status, await byDigest.text()).toBe(201);
});
afterAll(async () => {
  await client.close();
  await stowage.close();
});

describe('API version check (end-1)', () => {
  it('pull-0: GET /v2/ is 200 and says Docker-Distribution-API-Version: registry/2.0', async () => {
    const res = await client.fetch('/v2/');
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    await res.arrayBuffer();
  });
});

describe('Pull blobs (end-2)', () => {
  it('pull-1: HEAD request to nonexistent blob should result in 404 response', async () => {
    const res = await client.fetch(`/v2/${REPO}/blobs/${DUMMY_DIGEST}`, { method: 'HEAD' });
    expect(res.status).toBe(404);
    await noBody(res);
  });

  it('pull-2: HEAD request to existing blob should yield 200, with its digest and size and no body', async () => {
    const res = await client.fetch(`/v2/${REPO}/blobs/${sha256(configs[0]!)}`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(sha256(configs[0]!));
    expect(res.headers.get('content-length')).toBe(String(configs[0]!.length));
    await noBody(res);
  });

  it('pull-3: GET nonexistent blob should result in 404 response', async () => {
    await expectOciError(await client.fetch(`/v2/${REPO}/blobs/${DUMMY_DIGEST}`), 404, 'BLOB_UNKNOWN');
  });

  it('pull-4: GET request to existing blob URL should yield 200 with the blob, its length and a matching digest', async () => {
    for (const blob of [configs[0]!, layer]) {
      const res = await client.fetch(`/v2/${REPO}/blobs/${sha256(blob)}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBe(String(blob.length));
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.equals(blob)).toBe(true);
      // "If present, the value of this header MUST be a digest matching that of the response body."
      expect(res.headers.get('docker-content-digest')).toBe(sha256(body));
    }
  });

  it('pull-5: a blob is only found in a repository that holds it (404 elsewhere)', async () => {
    await expectOciError(await client.fetch(`/v2/conformance/other/blobs/${sha256(layer)}`), 404, 'BLOB_UNKNOWN');
  });
});

describe('Range requests on blobs (SHOULD, RFC 9110)', () => {
  const blob = bytesOf('conformance/pull/range', 2048);
  const digest = sha256(blob);
  beforeAll(async () => {
    expect((await postPut(REPO, blob)).status).toBe(201);
  });
  const get = (range: string): Promise<Response> => client.fetch(`/v2/${REPO}/blobs/${digest}`, { headers: { Range: range } });

  it.each([
    ['bytes=500-1499', 500, 1499],
    ['bytes=500-', 500, 2047],
    ['bytes=-500', 1548, 2047],
    ['bytes=2000-5000', 2000, 2047],
  ])('pull-6: %s is 206 with exactly those bytes, Content-Length and Content-Range', async (range, start, end) => {
    const res = await get(range);
    expect(res.status).toBe(206);
    expect(res.headers.get('content-length')).toBe(String(end - start + 1));
    expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${blob.length}`);
    expect(Buffer.from(await res.arrayBuffer()).equals(blob.subarray(start, end + 1))).toBe(true);
  });

  it.each(['bytes=500-0', 'bytes=5000-10000'])('pull-7: %s is 416 (not the whole blob)', async (range) => {
    const res = await get(range);
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe(`bytes */${blob.length}`);
    await res.arrayBuffer();
  });
});

describe('Pull manifests (end-3)', () => {
  it('pull-8: HEAD request to nonexistent manifest should return 404', async () => {
    for (const reference of [NONEXISTENT_MANIFEST, 'missing-tag', DUMMY_DIGEST]) {
      const res = await client.fetch(`/v2/${REPO}/manifests/${reference}`, { method: 'HEAD' });
      expect({ reference, status: res.status }).toEqual({ reference, status: 404 });
      await noBody(res);
    }
  });

  it('pull-9: HEAD request to manifest[0] and manifest[1] path (digest) should yield 200 response', async () => {
    for (const manifest of manifests) {
      const res = await client.fetch(`/v2/${REPO}/manifests/${sha256(manifest)}`, { method: 'HEAD', headers: { Accept: MT.ociManifest } });
      expect(res.status).toBe(200);
      expect(res.headers.get('docker-content-digest')).toBe(sha256(manifest));
      expect(res.headers.get('content-length')).toBe(String(manifest.length));
      expect(res.headers.get('content-type')).toBe(MT.ociManifest);
      await noBody(res);
    }
  });

  it('pull-10: HEAD request to manifest path (tag) should yield 200 response', async () => {
    const res = await client.fetch(`/v2/${REPO}/manifests/${TAG}`, { method: 'HEAD', headers: { Accept: MT.ociManifest } });
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(sha256(manifests[0]!));
    await noBody(res);
  });

  it('pull-11: GET nonexistent manifest should return 404 (an impossible tag, a missing tag, a missing digest)', async () => {
    for (const reference of [NONEXISTENT_MANIFEST, 'missing-tag', DUMMY_DIGEST]) {
      await expectOciError(await client.fetch(`/v2/${REPO}/manifests/${reference}`), 404, 'MANIFEST_UNKNOWN');
    }
  });

  it('pull-12: GET request to manifest[0] and manifest[1] path (digest) should yield 200 with the exact bytes', async () => {
    for (const manifest of manifests) {
      const res = await client.fetch(`/v2/${REPO}/manifests/${sha256(manifest)}`, { headers: { Accept: MT.ociManifest } });
      expect(res.status).toBe(200);
      expect(res.headers.get('docker-content-digest')).toBe(sha256(manifest));
      expect(res.headers.get('content-length')).toBe(String(manifest.length));
      expect(Buffer.from(await res.arrayBuffer()).equals(manifest)).toBe(true);
    }
  });

  it('pull-13: GET request to manifest path (tag) should yield 200 response', async () => {
    const res = await client.fetch(`/v2/${REPO}/manifests/${TAG}`, { headers: { Accept: MT.ociManifest } });
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(sha256(manifests[0]!));
    expect(Buffer.from(await res.arrayBuffer()).equals(manifests[0]!)).toBe(true);
  });

  it('pull-14: the Content-Type is the type the manifest was pushed with, without parameters', async () => {
    const res = await client.fetch(`/v2/${REPO}/manifests/${TAG}`, { headers: { Accept: `${MT.ociIndex}, ${MT.ociManifest}` } });
    expect(res.headers.get('content-type')).toBe(MT.ociManifest);
    await res.arrayBuffer();
  });

  it('pull-15: a manifest in a repository that does not exist is 404', async () => {
    await expectOciError(await client.fetch(`/v2/conformance/nowhere/manifests/${TAG}`), 404, 'MANIFEST_UNKNOWN');
  });
});

describe('Error codes', () => {
  it('pull-16: 400 response body should contain OCI-conforming JSON message (GET sha256:totallywrong, with a body)', async () => {
    // The suite sends a body with this GET (Go frames it with Content-Length; node's client would
    // not for a GET, so the header is set here).
    const body = Buffer.from('blablabla');
    const res = await rawRequest({
      host: stowage.host,
      method: 'GET',
      path: `/v2/${REPO}/manifests/sha256:totallywrong`,
      headers: { 'Content-Type': MT.ociManifest, 'Content-Length': body.length },
      body,
    });
    expect([400, 404]).toContain(res.status);
    const { errors } = res.json as { errors: Array<{ code: string; message: string }> };
    expect(errors.length).toBeGreaterThan(0);
    expect(SUITE_ERROR_CODES).toContain(errors[0]!.code);
  });

  it('pull-17: every error body has the OCI shape: errors[] of {code (A-Z and _), message, detail}', async () => {
    for (const path of [`/v2/${REPO}/blobs/${DUMMY_DIGEST}`, `/v2/${REPO}/manifests/missing`, `/v2/${REPO}/blobs/sha256:abc`, '/v2/UPPER/tags/list']) {
      const res = await client.fetch(path);
      const body = (await res.json()) as { errors: Array<{ code: string; message: string; detail: unknown }> };
      expect(res.status).toBeGreaterThanOrEqual(400);
      for (const error of body.errors) {
        expect(error.code).toMatch(/^[A-Z_]+$/);
        expect(SUITE_ERROR_CODES).toContain(error.code);
        expect(typeof error.message).toBe('string');
      }
    }
  });
});

describe('Pulling other manifest types (newer conformance data sets)', () => {
  it('pull-18: an index is served to a client accepting it, with its own Content-Type', async () => {
    expect((await client.putManifest(REPO, 'index', index, MT.ociIndex)).status).toBe(201);
    const res = await client.fetch(`/v2/${REPO}/manifests/index`, { headers: { Accept: `${MT.ociIndex}, ${MT.ociManifest}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(MT.ociIndex);
    expect(res.headers.get('docker-content-digest')).toBe(sha256(index));
    expect(Buffer.from(await res.arrayBuffer()).equals(index)).toBe(true);
  });
});

describe('Teardown (deletes are 2xx)', () => {
  it('pull-19: the manifests, then the config and layer blobs created in setup are deleted with 202', async () => {
    for (const reference of [sha256(index), ...manifests.map((m) => sha256(m))]) {
      const res = await client.fetch(`/v2/${REPO}/manifests/${reference}`, { method: 'DELETE' });
      expect({ reference, status: res.status }).toEqual({ reference, status: 202 });
    }
    for (const blob of [...configs, layer]) {
      const res = await client.fetch(`/v2/${REPO}/blobs/${sha256(blob)}`, { method: 'DELETE' });
      expect(res.status).toBe(202);
    }
  });
});
