/**
 * OCI distribution-spec v1.1 conformance, Push workflow: the checks of the suite's
 * `02_push_test.go` (streamed, monolithic and chunked uploads, cross-repository mounts, manifest
 * uploads) and of the newer runner's blob-API, bad-digest and manifest data tests, over real HTTP
 * against a hosted Stowage. Test names start with the check id used in docs/conformance.md.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { rawRequest } from './raw-request.js';
import { bytesOf, expectOciError, jsonBytes, MT, RegistryClient, sha256, sha512, type Response } from './registry-client.js';

let stowage: RunningStowage;
let client: RegistryClient;

const REPO = 'conformance/push';
const CROSSMOUNT = 'conformance-3f0c9a52-8a1e-4c1f-9a55-0f9bd1c1f2aa';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
const DUMMY_DIGEST = sha256('hello world');

const configOf = (author: string): Buffer =>
  Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, author }, null, '\t'));
const config = configOf('push-author');
const layer = bytesOf('conformance/push/layer', 3000);
/** As the suite's manifests: the config descriptor carries `data` and a field the spec does not define. */
const manifest = Buffer.from(
  JSON.stringify(
    {
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: { mediaType: MT.ociConfig, digest: sha256(config), size: config.length, data: config.toString('base64'), newUnspecifiedField: 'aGk=' },
      layers: [{ mediaType: MT.ociLayer, digest: sha256(layer), size: layer.length }],
    },
    null,
    '\t',
  ),
);
/** The suite's "empty layer" manifest: no layers, and no mediaType field (the Content-Type says it). */
const emptyLayerManifest = Buffer.from(
  JSON.stringify({ schemaVersion: 2, config: { mediaType: MT.ociConfig, digest: sha256(config), size: config.length }, layers: [] }, null, '\t'),
);

const noBody = async (res: Response): Promise<void> => expect((await res.arrayBuffer()).byteLength).toBe(0);

/** Resolves a Location header (relative or absolute) to a path the client can request. */
function pathOf(res: Response): string {
  const location = res.headers.get('location');
  expect(location, `no Location on ${res.status}`).toBeTruthy();
  return new URL(location!, stowage.url).pathname;
}

async function post(repo: string, query = '', init: { headers?: Record<string, string>; body?: Buffer } = {}): Promise<Response> {
  return client.fetch(`/v2/${repo}/blobs/uploads/${query}`, { method: 'POST', ...init });
}

/** GETs `location` and checks it serves exactly `bytes` (the suite's BlobVerifyLocation). */
async function expectPullable(location: string, bytes: Buffer): Promise<void> {
  const res = await client.fetch(location);
  expect(res.status).toBe(200);
  expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
}

/** Monolithic POST+PUT; expects 201. */
async function pushBlob(repo: string, bytes: Buffer, digest = sha256(bytes)): Promise<void> {
  const started = await post(repo);
  expect(started.status).toBe(202);
  const res = await client.fetch(`${pathOf(started)}?digest=${digest}`, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: bytes });
  expect(res.status, await res.clone().text()).toBe(201);
  await res.arrayBuffer();
}

beforeAll(async () => {
  stowage = await startStowage();
  client = new RegistryClient(stowage.url);
});
afterAll(async () => {
  await client.close();
  await stowage.close();
});

describe('Blob Upload Streamed', () => {
  const blob = bytesOf('conformance/push/streamed', 42);
  let location = '';

  it('push-1: PATCH request with blob in body should yield 202 response (with Location and Range)', async () => {
    const started = await post(REPO);
    expect(started.status).toBe(202);
    const res = await client.fetch(pathOf(started), { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream' }, body: blob });
    expect(res.status).toBe(202);
    expect(res.headers.get('range')).toBe(`0-${blob.length - 1}`);
    location = pathOf(res);
    await res.arrayBuffer();
  });

  it('push-2: PUT request to session URL with digest should yield 201 response, and Location is pullable', async () => {
    const res = await client.fetch(`${location}?digest=${sha256(blob)}`, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': '0' } });
    expect(res.status).toBe(201);
    expect(res.headers.get('docker-content-digest')).toBe(sha256(blob));
    await expectPullable(pathOf(res), blob);
  });

  it('push-3: a streamed PATCH without Content-Length (chunked transfer encoding) is accepted too', async () => {
    const streamed = bytesOf('conformance/push/streamed-chunked', 5000);
    const started = await post(REPO);
    const patch = await rawRequest({ host: stowage.host, method: 'PATCH', path: pathOf(started), body: [streamed.subarray(0, 1000), streamed.subarray(1000)] });
    expect(patch.status).toBe(202);
    const put = await client.fetch(`${patch.headers.location as string}?digest=${sha256(streamed)}`, { method: 'PUT' });
    expect(put.status).toBe(201);
    await expectPullable(pathOf(put), streamed);
  });
});

describe('Blob Upload Monolithic', () => {
  it('push-4: GET nonexistent blob should result in 404 response', async () => {
    await expectOciError(await client.fetch(`/v2/${REPO}/blobs/${DUMMY_DIGEST}`), 404, 'BLOB_UNKNOWN');
  });

  it('push-5: POST request with digest and blob should yield a 201 (single POST), with Location', async () => {
    const res = await post(REPO, `?digest=${sha256(config)}`, {
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(config.length) },
      body: config,
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('docker-content-digest')).toBe(sha256(config));
    await expectPullable(pathOf(res), config);
  });

  it('push-6: GET request to blob URL from prior request should yield 200', async () => {
    const res = await client.fetch(`/v2/${REPO}/blobs/${sha256(config)}`);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  });

  it('push-7: POST request should yield a session ID (202, Location containing a UUID)', async () => {
    const res = await post(REPO, '', { headers: { 'Content-Length': '0' } });
    expect(res.status).toBe(202);
    expect(pathOf(res)).toMatch(new RegExp(`^/v2/${REPO}/blobs/uploads/${UUID.source}$`));
    await noBody(res);
  });

  it('push-8: PUT upload of a blob should yield a 201 Response, and GET request to existing blob should yield 200', async () => {
    const started = await post(REPO);
    const res = await client.fetch(`${pathOf(started)}?digest=${sha256(layer)}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(layer.length) },
      body: layer,
    });
    expect(res.status).toBe(201);
    await expectPullable(pathOf(res), layer);
  });
});

describe('Blob Upload Chunked', () => {
  const blob = bytesOf('conformance/push/chunked', 42);
  const chunk1 = blob.subarray(0, 22);
  const chunk2 = blob.subarray(22);
  const range1 = `0-${chunk1.length - 1}`;
  const range2 = `${chunk1.length}-${blob.length - 1}`;
  const patch = (location: string, chunk: Buffer, range: string): Promise<Response> =>
    client.fetch(location, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': range, 'Content-Length': String(chunk.length) }, body: chunk });
  let first = '';
  let location = '';

  it('push-9: Out-of-order blob upload should return 416', async () => {
    const started = await post(REPO, '', { headers: { 'Content-Length': '0' } });
    expect(started.status).toBe(202);
    expect(started.headers.get('oci-chunk-min-length')).toBeNull(); // no minimum chunk size
    const res = await patch(pathOf(started), chunk2, range2);
    expect(res.status).toBe(416);
    await res.arrayBuffer();
  });

  it('push-10: PATCH request with first chunk should return 202, with Range 0-<end> and Location', async () => {
    const started = await post(REPO, '', { headers: { 'Content-Length': '0' } });
    first = pathOf(started);
    const res = await patch(first, chunk1, range1);
    expect(res.status).toBe(202);
    expect(res.headers.get('range')).toBe(range1);
    location = pathOf(res);
    await res.arrayBuffer();
  });

  it('push-11: Retry previous blob chunk should return 416', async () => {
    const res = await patch(first, chunk1, range1);
    expect(res.status).toBe(416);
    await res.arrayBuffer();
  });

  it('push-12: Get on stale blob upload should return 204 with a range and location', async () => {
    const res = await client.fetch(first);
    expect(res.status).toBe(204);
    expect(res.headers.get('range')).toBe(range1);
    location = pathOf(res);
  });

  it('push-13: PATCH request with second chunk should return 202', async () => {
    const res = await patch(location, chunk2, range2);
    expect(res.status).toBe(202);
    expect(res.headers.get('range')).toBe(`0-${blob.length - 1}`);
    location = pathOf(res);
    await res.arrayBuffer();
  });

  it('push-14: PUT request with digest should return 201, and the blob is pullable', async () => {
    const res = await client.fetch(`${location}?digest=${sha256(blob)}`, { method: 'PUT', headers: { 'Content-Length': '0', 'Content-Type': 'application/octet-stream' } });
    expect(res.status).toBe(201);
    await expectPullable(pathOf(res), blob);
  });

  it('push-15: the final chunk may come in the closing PUT, with its Content-Range', async () => {
    const other = bytesOf('conformance/push/put-last-chunk', 42);
    const started = await post(REPO, '', { headers: { 'Content-Length': '0' } });
    const first = await patch(pathOf(started), other.subarray(0, 22), '0-21');
    expect(first.status).toBe(202);
    const res = await client.fetch(`${pathOf(first)}?digest=${sha256(other)}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': '22-41', 'Content-Length': '20' },
      body: other.subarray(22),
    });
    expect(res.status).toBe(201);
    await expectPullable(pathOf(res), other);
  });

  it('push-16: three chunks with an out-of-order one (PATCH and closing PUT) in between: 416, recover with GET, finish', async () => {
    const big = bytesOf('conformance/push/three-chunks', 3 * 1024 - 5);
    const size = 1024;
    let at = pathOf(await post(REPO, '', { headers: { 'Content-Length': '0' } }));
    let lastByte = -1;
    while (lastByte < big.length - 1) {
      // An out-of-order chunk first: skipping ahead, or back to 0 near the end. The one that would
      // end the blob is sent as the closing PUT, as the newer suite does.
      let badStart = lastByte + 1 + size;
      if (badStart >= big.length) badStart = 0;
      const badEnd = Math.min(badStart + size - 1, big.length - 1);
      const closing = badEnd === big.length - 1;
      const bad = await client.fetch(closing ? `${at}?digest=${sha256(big)}` : at, {
        method: closing ? 'PUT' : 'PATCH',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${badStart}-${badEnd}` },
        body: big.subarray(badStart, badEnd + 1),
      });
      expect(bad.status).toBe(416);
      expect(pathOf(bad)).toBe(at);
      await bad.arrayBuffer();
      const status = await client.fetch(at);
      expect(status.status).toBe(204);
      if (lastByte >= 0) expect(status.headers.get('range')).toBe(`0-${lastByte}`);
      at = pathOf(status);
      const start = lastByte + 1;
      lastByte = Math.min(start + size - 1, big.length - 1);
      const good = await client.fetch(at, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${start}-${lastByte}` },
        body: big.subarray(start, lastByte + 1),
      });
      expect(good.status).toBe(202);
      at = pathOf(good);
      await good.arrayBuffer();
    }
    const done = await client.fetch(`${at}?digest=${sha256(big)}`, { method: 'PUT', headers: { 'Content-Length': '0' } });
    expect(done.status).toBe(201);
    await expectPullable(pathOf(done), big);
  });

  it('push-17: a Content-Range that is not <start>-<end>, or disagrees with Content-Length, is 400 (PATCH and PUT)', async () => {
    const at = pathOf(await post(REPO));
    const malformed = await client.fetch(at, { method: 'PATCH', headers: { 'Content-Range': 'bytes=a-b' }, body: Buffer.alloc(4) });
    expect(malformed.status).toBe(400);
    await malformed.arrayBuffer();
    const disagreeing = await rawRequest({ host: stowage.host, method: 'PUT', path: `${at}?digest=${sha256(Buffer.alloc(10))}`, headers: { 'Content-Range': '0-99' }, body: Buffer.alloc(10) });
    expect(disagreeing.status).toBe(400);
    expect(disagreeing.json).toMatchObject({ errors: [{ code: 'SIZE_INVALID' }] });
    // Nothing counted: the session is still empty.
    expect((await client.fetch(at)).headers.get('range')).toBe('0-0');
  });
});

describe('Cancel a blob upload', () => {
  it('push-18: DELETE on the session is 204, and the session is gone (404 BLOB_UPLOAD_UNKNOWN)', async () => {
    const at = pathOf(await post(REPO));
    const res = await client.fetch(at, { method: 'DELETE', headers: { 'Content-Length': '0' } });
    expect(res.status).toBe(204);
    await expectOciError(await client.fetch(at), 404, 'BLOB_UPLOAD_UNKNOWN');
  });
});

describe('Cross-Repository Blob Mount', () => {
  const blob = bytesOf('conformance/push/mountable', 42);
  beforeAll(async () => {
    await pushBlob(REPO, blob);
  });

  it('push-19: Cross-mounting of a blob without the from argument should yield session id', async () => {
    const res = await post(CROSSMOUNT, `?mount=${DUMMY_DIGEST}`);
    expect(res.status).toBe(202);
    expect(pathOf(res)).toMatch(new RegExp(`^/v2/${CROSSMOUNT}/blobs/uploads/${UUID.source}$`));
  });

  it("push-20: POST request to mount another repository's blob should return 201, Location is the blob in the target", async () => {
    const res = await post(CROSSMOUNT, `?mount=${sha256(blob)}&from=${REPO}`);
    expect(res.status).toBe(201);
    expect(pathOf(res)).toBe(`/v2/${CROSSMOUNT}/blobs/${sha256(blob)}`);
    expect(res.headers.get('docker-content-digest')).toBe(sha256(blob));
  });

  it('push-21: GET request to test digest within cross-mount namespace should return 200', async () => {
    await expectPullable(`/v2/${CROSSMOUNT}/blobs/${sha256(blob)}`, blob);
  });

  it('push-22: cross-mounting a blob `from` does not have yields a session (202) that completes with PUT', async () => {
    const missing = bytesOf('conformance/push/mount-missing', 512);
    const res = await post('conformance/push-target', `?mount=${sha256(missing)}&from=${REPO}`);
    expect(res.status).toBe(202);
    const put = await client.fetch(`${pathOf(res)}?digest=${sha256(missing)}`, { method: 'PUT', body: missing });
    expect(put.status).toBe(201);
    await expectPullable(pathOf(put), missing);
  });

  it('push-23: cross-mounting without from (automatic content discovery), when the blob exists elsewhere, is 201', async () => {
    await expectOciError(await client.fetch(`/v2/conformance/push-anonymous/blobs/${sha256(blob)}`), 404, 'BLOB_UNKNOWN');
    const res = await post('conformance/push-anonymous', `?mount=${sha256(blob)}`);
    expect(res.status).toBe(201);
    expect(pathOf(res)).toBe(`/v2/conformance/push-anonymous/blobs/${sha256(blob)}`);
    expect(res.headers.get('docker-content-digest')).toBe(sha256(blob));
    await expectPullable(pathOf(res), blob);
  });

  it('push-24: a `from` that names no repository we can mount from (invalid, unknown upstream) is a plain session (202)', async () => {
    for (const from of ['NOT..valid', 'ghcr.io/some/where']) {
      const res = await post('conformance/push-badfrom', `?mount=${sha256(blob)}&from=${encodeURIComponent(from)}`);
      expect({ from, status: res.status }).toEqual({ from, status: 202 });
      expect(pathOf(res)).toMatch(UUID);
    }
  });
});

describe('Blob pushes with a bad digest (400, nothing stored)', () => {
  const corrupt = (seed: string): { bytes: Buffer; claimed: string } => {
    const good = bytesOf(seed, 3 * 1024 - 5);
    return { bytes: Buffer.concat([good, Buffer.from('oh no')]), claimed: sha256(good) };
  };

  it('push-25: bad digest post only is 400', async () => {
    const { bytes, claimed } = corrupt('bad/post-only');
    await expectOciError(await post(REPO, `?digest=${claimed}`, { body: bytes }), 400, 'DIGEST_INVALID');
    await expectOciError(await client.fetch(`/v2/${REPO}/blobs/${claimed}`), 404, 'BLOB_UNKNOWN');
  });

  it('push-26: bad digest post+put is 400', async () => {
    const { bytes, claimed } = corrupt('bad/post-put');
    const at = pathOf(await post(REPO));
    await expectOciError(await client.fetch(`${at}?digest=${claimed}`, { method: 'PUT', body: bytes }), 400, 'DIGEST_INVALID');
  });

  it('push-27: bad digest chunked (closing PUT empty, or carrying the last chunk) is 400', async () => {
    for (const putLastChunk of [false, true]) {
      const { bytes, claimed } = corrupt(`bad/chunked/${putLastChunk}`);
      const at = pathOf(await post(REPO, '', { headers: { 'Content-Length': '0' } }));
      const split = putLastChunk ? 2048 : bytes.length;
      const res = await client.fetch(at, { method: 'PATCH', headers: { 'Content-Range': `0-${split - 1}` }, body: bytes.subarray(0, split) });
      expect(res.status).toBe(202);
      const put = putLastChunk
        ? await client.fetch(`${pathOf(res)}?digest=${claimed}`, { method: 'PUT', headers: { 'Content-Range': `${split}-${bytes.length - 1}` }, body: bytes.subarray(split) })
        : await client.fetch(`${pathOf(res)}?digest=${claimed}`, { method: 'PUT', headers: { 'Content-Length': '0' } });
      await expectOciError(put, 400, 'DIGEST_INVALID');
    }
  });

  it('push-28: bad digest stream is 400', async () => {
    const { bytes, claimed } = corrupt('bad/stream');
    const at = pathOf(await post(REPO));
    const patch = await rawRequest({ host: stowage.host, method: 'PATCH', path: at, body: [bytes] });
    expect(patch.status).toBe(202);
    await expectOciError(await client.fetch(`${at}?digest=${claimed}`, { method: 'PUT' }), 400, 'DIGEST_INVALID');
  });
});

describe('Well-known blob contents and sha512 (newer suite)', () => {
  it('push-29: the empty blob and the empty JSON blob push (POST+PUT, single POST, chunked with no chunk, stream) and pull with Content-Length', async () => {
    for (const bytes of [Buffer.alloc(0), Buffer.from('{}')]) {
      const digest = sha256(bytes);
      const single = await post(`conformance/push-empty-${bytes.length}`, `?digest=${digest}`, { body: bytes });
      expect(single.status).toBe(201);
      const postPut = await post(REPO);
      expect((await client.fetch(`${pathOf(postPut)}?digest=${digest}`, { method: 'PUT', body: bytes })).status).toBe(201);
      // Chunked with the whole (possibly empty) blob in the closing PUT, as the newer suite's chunk loop sends it.
      const noChunk = await post(REPO, '', { headers: { 'Content-Length': '0' } });
      expect((await client.fetch(`${pathOf(noChunk)}?digest=${digest}`, { method: 'PUT', body: bytes })).status).toBe(201);
      const stream = await post(REPO);
      expect((await rawRequest({ host: stowage.host, method: 'PATCH', path: pathOf(stream), body: [bytes] })).status).toBe(202);
      expect((await client.fetch(`${pathOf(stream)}?digest=${digest}`, { method: 'PUT' })).status).toBe(201);
      const head = await client.fetch(`/v2/${REPO}/blobs/${digest}`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(bytes.length));
      await expectPullable(`/v2/${REPO}/blobs/${digest}`, bytes);
    }
  });

  it('push-30: sha512 blobs push by every method (single POST, POST+PUT, chunked, stream, mount) and are served under that digest', async () => {
    const blobs = ['post', 'put', 'chunked', 'stream'].map((m) => bytesOf(`conformance/sha512/${m}`, 2000));
    const [single, postPut, chunked, stream] = blobs as [Buffer, Buffer, Buffer, Buffer];
    expect((await post(REPO, `?digest=${sha512(single)}`, { body: single })).status).toBe(201);
    expect((await client.fetch(`${pathOf(await post(REPO))}?digest=${sha512(postPut)}`, { method: 'PUT', body: postPut })).status).toBe(201);
    const first = await client.fetch(pathOf(await post(REPO)), { method: 'PATCH', headers: { 'Content-Range': '0-999' }, body: chunked.subarray(0, 1000) });
    const second = await client.fetch(pathOf(first), { method: 'PATCH', headers: { 'Content-Range': '1000-1999' }, body: chunked.subarray(1000) });
    expect((await client.fetch(`${pathOf(second)}?digest=${sha512(chunked)}`, { method: 'PUT' })).status).toBe(201);
    const at = pathOf(await post(REPO));
    expect((await rawRequest({ host: stowage.host, method: 'PATCH', path: at, body: [stream] })).status).toBe(202);
    expect((await client.fetch(`${at}?digest=${sha512(stream)}`, { method: 'PUT' })).status).toBe(201);
    for (const bytes of blobs) {
      const res = await client.fetch(`/v2/${REPO}/blobs/${sha512(bytes)}`);
      expect(res.headers.get('docker-content-digest')).toBe(sha512(bytes));
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    }
    const mounted = await post('conformance/push-sha512', `?mount=${sha512(single)}&from=${REPO}`);
    expect(mounted.status).toBe(201);
    await expectPullable(pathOf(mounted), single);
  });
});

describe('Manifest Upload', () => {
  beforeAll(async () => {
    for (const blob of [config, layer]) await pushBlob(REPO, blob);
  });

  it('push-31: GET nonexistent manifest should return 404', async () => {
    await expectOciError(await client.fetch(`/v2/${REPO}/manifests/.INVALID_MANIFEST_NAME`), 404, 'MANIFEST_UNKNOWN');
  });

  it('push-32: PUT should accept a manifest upload (four tags): 201, Location pullable, Docker-Content-Digest', async () => {
    for (let i = 0; i < 4; i++) {
      const res = await client.putManifest(REPO, `test${i}`, manifest, MT.ociManifest);
      expect(res.status).toBe(201);
      expect(res.headers.get('docker-content-digest')).toBe(sha256(manifest));
      const location = pathOf(res);
      // The newer suite: GET the Location with Accept index+image; same bytes, type and length.
      const got = await client.fetch(location, { headers: { Accept: `${MT.ociIndex}, ${MT.ociManifest}` } });
      expect(got.status).toBe(200);
      expect(got.headers.get('content-type')).toBe(MT.ociManifest);
      expect(got.headers.get('content-length')).toBe(String(manifest.length));
      expect(Buffer.from(await got.arrayBuffer()).equals(manifest)).toBe(true);
    }
  });

  it('push-33: Registry should accept a manifest upload with no layers (and no mediaType field)', async () => {
    const res = await client.putManifest(REPO, 'emptylayer', emptyLayerManifest, MT.ociManifest);
    expect(res.status).toBe(201);
    const got = await client.fetch(pathOf(res));
    expect(got.headers.get('content-type')).toBe(MT.ociManifest);
    expect(Buffer.from(await got.arrayBuffer()).equals(emptyLayerManifest)).toBe(true);
  });

  it('push-34: GET request to manifest URL (digest) should yield 200 response', async () => {
    const res = await client.fetch(`/v2/${REPO}/manifests/${sha256(manifest)}`, { headers: { Accept: MT.ociManifest } });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  });

  it('push-35: PUT by digest is 201; Docker-Content-Digest equals the digest the client gave', async () => {
    const other = jsonBytes({ schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: sha256(config), size: config.length }, layers: [], annotations: { a: 'b' } });
    const res = await client.putManifest(REPO, sha256(other), other, MT.ociManifest);
    expect(res.status).toBe(201);
    expect(res.headers.get('docker-content-digest')).toBe(sha256(other));
    expect(pathOf(res)).toBe(`/v2/${REPO}/manifests/${sha256(other)}`);
  });

  it('push-36: a manifest whose bytes do not match the digest in the URL is 400 (bad-digest-image, sha256:baddigeststring)', async () => {
    const tampered = Buffer.concat([manifest, Buffer.from('  ')]);
    await expectOciError(await client.putManifest(REPO, sha256(manifest), tampered, MT.ociManifest), 400, 'DIGEST_INVALID');
    await expectOciError(await client.putManifest(REPO, 'sha256:baddigeststring', manifest, MT.ociManifest), 400, 'DIGEST_INVALID');
    const res = await client.fetch(`/v2/${REPO}/manifests/sha256:baddigeststring`);
    expect([400, 404]).toContain(res.status);
    await res.arrayBuffer();
  });

  it('push-37: a manifest referencing a blob that was never pushed is rejected with MANIFEST_BLOB_UNKNOWN', async () => {
    const missing = jsonBytes({ schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: DUMMY_DIGEST, size: 11 }, layers: [] });
    const error = await expectOciError(await client.putManifest(REPO, 'missing-blob', missing, MT.ociManifest), 400, 'MANIFEST_BLOB_UNKNOWN');
    expect(error.detail).toMatchObject({ missing: [DUMMY_DIGEST] });
  });

  it('push-38: a manifest whose subject does not exist is accepted, with OCI-Subject', async () => {
    const subject = { mediaType: MT.ociManifest, digest: sha256('a manifest nobody pushed'), size: 123 };
    const referrer = jsonBytes({ schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: sha256(config), size: config.length }, layers: [], subject });
    const res = await client.putManifest(REPO, sha256(referrer), referrer, MT.ociManifest);
    expect(res.status).toBe(201);
    expect(res.headers.get('oci-subject')).toBe(subject.digest);
  });

  it('push-39: parameters on the Content-Type are ignored; the manifest is served with its bare type', async () => {
    const res = await client.putManifest(REPO, 'with-params', emptyLayerManifest, `${MT.ociManifest}; charset=utf-8`);
    expect(res.status).toBe(201);
    const got = await client.fetch(`/v2/${REPO}/manifests/with-params`);
    expect(got.headers.get('content-type')).toBe(MT.ociManifest);
    await got.arrayBuffer();
  });

  it('push-40: a manifest of about 4 MB (large-manifest: 390 annotations of 10 kB) is accepted; one over the limit is 413', async () => {
    const annotations = Object.fromEntries(Array.from({ length: 390 }, (_, i) => [`large-annotation-${i}`, 'A'.repeat(10_000)]));
    const large = jsonBytes({ schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: sha256(config), size: config.length }, layers: [], annotations });
    expect(large.length).toBeGreaterThan(3_900_000);
    const res = await client.putManifest(REPO, 'large-manifest', large, MT.ociManifest);
    expect(res.status).toBe(201);
    const tooLarge = jsonBytes({ ...JSON.parse(large.toString()), annotations: { ...annotations, more: 'A'.repeat(400_000) } });
    const refused = await client.putManifest(REPO, 'too-large', tooLarge, MT.ociManifest);
    expect(refused.status).toBe(413);
    await refused.arrayBuffer();
  });

  it('push-41: an index, an index of indexes and an empty index are accepted and served as pushed', async () => {
    const child = { mediaType: MT.ociManifest, digest: sha256(manifest), size: manifest.length, platform: { architecture: 'amd64', os: 'linux' } };
    const index = jsonBytes({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [child] });
    const nested = jsonBytes({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [{ mediaType: MT.ociIndex, digest: sha256(index), size: index.length }] });
    const empty = jsonBytes({ schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] });
    for (const [tag, bytes] of [['index', index], ['index-of-index', nested], ['empty-index', empty]] as const) {
      const res = await client.putManifest(REPO, tag, bytes, MT.ociIndex);
      expect({ tag, status: res.status }).toEqual({ tag, status: 201 });
      const got = await client.fetch(`/v2/${REPO}/manifests/${tag}`, { headers: { Accept: `${MT.ociIndex}, ${MT.ociManifest}` } });
      expect(got.headers.get('content-type')).toBe(MT.ociIndex);
      expect(Buffer.from(await got.arrayBuffer()).equals(bytes)).toBe(true);
    }
  });

  it('push-42: an artifact (artifactType, empty config), one with custom fields, and a sha512 manifest by digest are accepted', async () => {
    const empty = Buffer.from('{}');
    await pushBlob(REPO, empty);
    const artifact = jsonBytes({ schemaVersion: 2, mediaType: MT.ociManifest, artifactType: 'application/vnd.example.conf1', config: { mediaType: MT.ociEmpty, digest: sha256(empty), size: 2 }, layers: [{ mediaType: MT.ociEmpty, digest: sha256(empty), size: 2 }] });
    const custom = jsonBytes({ schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: sha256(config), size: config.length, 'com.example.extra': [1, 2] }, layers: [], extraField: { anything: true } });
    for (const [tag, bytes] of [['artifact', artifact], ['custom-fields', custom]] as const) {
      expect((await client.putManifest(REPO, tag, bytes, MT.ociManifest)).status).toBe(201);
    }
    const sha512Config = configOf('sha512-author');
    const at = pathOf(await post(REPO));
    expect((await client.fetch(`${at}?digest=${sha512(sha512Config)}`, { method: 'PUT', body: sha512Config })).status).toBe(201);
    const sha512Manifest = jsonBytes({ schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: sha512(sha512Config), size: sha512Config.length }, layers: [] });
    const res = await client.putManifest(REPO, sha512(sha512Manifest), sha512Manifest, MT.ociManifest);
    expect(res.status).toBe(201);
    expect(res.headers.get('docker-content-digest')).toBe(sha512(sha512Manifest));
    const got = await client.fetch(pathOf(res));
    expect(Buffer.from(await got.arrayBuffer()).equals(sha512Manifest)).toBe(true);
  });

  it('push-43: non-distributable layers that name their urls need not be pushed (docker push of Windows images)', async () => {
    const foreign = (mediaType: string, seed: string): { mediaType: string; digest: string; size: number; urls: string[] } => ({
      mediaType,
      digest: sha256(seed),
      size: 123456,
      urls: [`https://store.example.com/blobs/sha256/${sha256(seed).slice(7)}`],
    });
    const image = jsonBytes({
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: { mediaType: MT.ociConfig, digest: sha256(config), size: config.length },
      layers: [
        foreign('application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', 'nd-1'),
        foreign('application/vnd.oci.image.layer.nondistributable.v1.tar', 'nd-2'),
        { mediaType: MT.ociLayer, digest: sha256(layer), size: layer.length },
      ],
    });
    const res = await client.putManifest(REPO, 'non-distributable-image', image, MT.ociManifest);
    expect(res.status, await res.clone().text()).toBe(201);
    const docker = jsonBytes({
      schemaVersion: 2,
      mediaType: MT.dockerManifest,
      config: { mediaType: MT.dockerConfig, digest: sha256(config), size: config.length },
      layers: [foreign('application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', 'windows-base')],
    });
    expect((await client.putManifest(REPO, 'windows', docker, MT.dockerManifest)).status).toBe(201);
    // Without urls, a non-distributable layer is an ordinary blob that must exist.
    const { urls: _urls, ...noUrls } = foreign('application/vnd.oci.image.layer.nondistributable.v1.tar', 'nd-3');
    const without = jsonBytes({ schemaVersion: 2, mediaType: MT.ociManifest, config: { mediaType: MT.ociConfig, digest: sha256(config), size: config.length }, layers: [noUrls] });
    await expectOciError(await client.putManifest(REPO, 'nd-without-urls', without, MT.ociManifest), 400, 'MANIFEST_BLOB_UNKNOWN');
  });
});

describe('Teardown', () => {
  it('push-44: the manifests (by digest) and the blobs created in the tests are deleted with 202', async () => {
    for (const bytes of [manifest, emptyLayerManifest]) {
      const res = await client.fetch(`/v2/${REPO}/manifests/${sha256(bytes)}`, { method: 'DELETE' });
      expect(res.status).toBe(202);
    }
    for (const bytes of [config, layer]) {
      const res = await client.fetch(`/v2/${REPO}/blobs/${sha256(bytes)}`, { method: 'DELETE' });
      expect(res.status).toBe(202);
    }
  });
});
