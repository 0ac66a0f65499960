/**
 * Blob reads and deletes: GET/HEAD headers, byte ranges (containerd resumes with `Range: bytes=N-`),
 * 416 for unsatisfiable ranges, no Content-Encoding ever, repository isolation and DELETE.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { rawRequest } from './raw-request.js';
import { bytesOf, expectOciError, RegistryClient, sha256, sha512, type Response } from './registry-client.js';

let stowage: RunningStowage;
let client: RegistryClient;
const blob = bytesOf('blobs/main', 100_000);
let digest: string;

beforeAll(async () => {
  stowage = await startStowage();
  client = new RegistryClient(stowage.url);
  digest = await client.pushBlob('blobs/repo', blob);
});
afterAll(async () => {
  await client.close();
  await stowage.close();
});

const get = (range?: string, path = `/v2/blobs/repo/blobs/${digest}`): Promise<Response> =>
  client.fetch(path, range === undefined ? {} : { headers: { Range: range } });

describe('GET and HEAD', () => {
  it('GET returns the bytes with Content-Length, Docker-Content-Digest and application/octet-stream', async () => {
    const res = await get();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(blob.length));
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.equals(blob)).toBe(true);
    expect(sha256(body)).toBe(digest);
  });

  it('HEAD returns the same headers and no body', async () => {
    const res = await rawRequest({ host: stowage.host, method: 'HEAD', path: `/v2/blobs/repo/blobs/${digest}` });
    expect(res.status).toBe(200);
    expect(res.headers['content-length']).toBe(String(blob.length));
    expect(res.headers['docker-content-digest']).toBe(digest);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.body.length).toBe(0);
  });

  it('HEAD of an unknown blob is 404', async () => {
    const res = await client.fetch(`/v2/blobs/repo/blobs/${sha256('never pushed')}`, { method: 'HEAD' });
    expect(res.status).toBe(404);
  });

  it('GET of an unknown blob is 404 BLOB_UNKNOWN', async () => {
    await expectOciError(await get(undefined, `/v2/blobs/repo/blobs/${sha256('never pushed')}`), 404, 'BLOB_UNKNOWN');
  });

  it('never adds Content-Encoding, whatever the client accepts', async () => {
    for (const acceptEncoding of ['gzip, zstd', 'zstd, gzip, br, deflate', 'gzip;q=1.0, identity;q=0']) {
      const res = await rawRequest({
        host: stowage.host,
        method: 'GET',
        path: `/v2/blobs/repo/blobs/${digest}`,
        headers: { 'Accept-Encoding': acceptEncoding },
      });
      expect(res.status).toBe(200);
      expect(res.headers['content-encoding']).toBeUndefined();
      expect(res.body.equals(blob)).toBe(true);
    }
  });

  it('serves a blob pushed under a sha512 digest', async () => {
    const bytes = bytesOf('blobs/sha512', 5000);
    const d = await client.pushBlob('blobs/repo', bytes, sha512(bytes));
    const res = await get(undefined, `/v2/blobs/repo/blobs/${d}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-content-digest')).toBe(d);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('serves an empty blob', async () => {
    const d = await client.pushBlob('blobs/repo', Buffer.alloc(0));
    const res = await get(undefined, `/v2/blobs/repo/blobs/${d}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('0');
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });
});

describe('Range', () => {
  it.each([
    ['bytes=0-', 0, blob.length - 1],
    ['bytes=1000-', 1000, blob.length - 1],
    ['bytes=10-19', 10, 19],
    ['bytes=99999-99999', 99_999, 99_999],
    ['bytes=90000-200000', 90_000, blob.length - 1],
    ['bytes=-500', blob.length - 500, blob.length - 1],
    ['bytes=-200000', 0, blob.length - 1],
  ])('%s is 206 with Content-Range and exactly those bytes', async (range, start, end) => {
    const res = await get(range);
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${blob.length}`);
    expect(res.headers.get('content-length')).toBe(String(end - start + 1));
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    expect(Buffer.from(await res.arrayBuffer()).equals(blob.subarray(start, end + 1))).toBe(true);
  });

  it.each(['bytes=100000-', 'bytes=200000-300000', 'bytes=-0'])('%s is 416 with Content-Range: bytes */size', async (range) => {
    const res = await get(range);
    await expectOciError(res, 416, 'SIZE_INVALID');
    expect(res.headers.get('content-range')).toBe(`bytes */${blob.length}`);
  });

  it('ignores a Range in another unit or with several ranges (200, whole blob)', async () => {
    for (const range of ['items=0-10', 'bytes=0-1,5-6']) {
      const res = await get(range);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(blob)).toBe(true);
    }
  });

  it('resuming a download with bytes=N- reassembles the blob exactly', async () => {
    const first = Buffer.from(await (await get('bytes=0-33332')).arrayBuffer());
    const second = Buffer.from(await (await get(`bytes=${first.length}-`)).arrayBuffer());
    expect(sha256(Buffer.concat([first, second]))).toBe(digest);
  });
});

describe('repository isolation', () => {
  it('a blob pushed to one repository is not readable through another', async () => {
    await expectOciError(await get(undefined, `/v2/blobs/other/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
    const head = await client.fetch(`/v2/blobs/other/blobs/${digest}`, { method: 'HEAD' });
    expect(head.status).toBe(404);
    await expectOciError(await get('bytes=0-', `/v2/blobs/other/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
  });

  it('a blob is not readable through a prefix or an extension of the repository name', async () => {
    await expectOciError(await get(undefined, `/v2/blobs/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
    await expectOciError(await get(undefined, `/v2/blobs/repo/sub/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
  });
});

describe('DELETE', () => {
  it('returns 202, then the blob is 404 in that repository only', async () => {
    const bytes = bytesOf('blobs/delete', 300);
    const d = await client.pushBlob('blobs/del-a', bytes);
    await client.pushBlob('blobs/del-b', bytes);
    const res = await client.fetch(`/v2/blobs/del-a/blobs/${d}`, { method: 'DELETE' });
    expect(res.status).toBe(202);
    await expectOciError(await get(undefined, `/v2/blobs/del-a/blobs/${d}`), 404, 'BLOB_UNKNOWN');
    const other = await get(undefined, `/v2/blobs/del-b/blobs/${d}`);
    expect(other.status).toBe(200);
    expect(Buffer.from(await other.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('a second DELETE is 404 BLOB_UNKNOWN', async () => {
    const d = await client.pushBlob('blobs/del-c', bytesOf('blobs/delete-twice', 10));
    expect((await client.fetch(`/v2/blobs/del-c/blobs/${d}`, { method: 'DELETE' })).status).toBe(202);
    await expectOciError(await client.fetch(`/v2/blobs/del-c/blobs/${d}`, { method: 'DELETE' }), 404, 'BLOB_UNKNOWN');
  });
});
