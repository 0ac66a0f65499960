/**
 * Blob uploads as clients really send them: monolithic POST (containerd), POST then PUT with a body,
 * chunked PATCH with Content-Range, docker's streamed PATCH (chunked transfer encoding, no
 * Content-Length, no Content-Range, no Content-Type), status, cancel, digest checks, mounts and
 * concurrent pushes of one blob.
 */
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/processes.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { rawRequest } from './raw-request.js';
import { bytesOf, expectOciError, RegistryClient, sha256, sha512 } from './registry-client.js';

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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function expectBlob(repo: string, bytes: Buffer, digest = sha256(bytes)): Promise<void> {
  const res = await client.fetch(`/v2/${repo}/blobs/${digest}`);
  expect(res.status).toBe(200);
  expect(res.headers.get('docker-content-digest')).toBe(digest);
  const body = Buffer.from(await res.arrayBuffer());
  expect(body.length).toBe(bytes.length);
  expect(body.equals(bytes)).toBe(true);
}

async function expectNoBlob(repo: string, digest: string): Promise<void> {
  await expectOciError(await client.fetch(`/v2/${repo}/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
}

/** Every blob in the store. */
async function storedDigests(): Promise<string[]> {
  const found: string[] = [];
  for await (const blob of stowage.app.storage.blobs.list()) found.push(blob.digest);
  return found;
}

/** The ids of the upload sessions the store holds. */
const sessionIds = async (of: RunningStowage = stowage): Promise<string[]> => (await of.app.storage.uploads.list()).map((s) => s.id);

describe('starting an upload', () => {
  it('POST is 202 with Location, Range 0-0, Docker-Upload-UUID and Blob-Upload-Session-ID', async () => {
    const res = await client.fetch('/v2/up/start/blobs/uploads/', { method: 'POST' });
    expect(res.status).toBe(202);
    const id = res.headers.get('docker-upload-uuid')!;
    expect(id).toMatch(UUID);
    expect(res.headers.get('blob-upload-session-id')).toBe(id);
    expect(res.headers.get('location')).toBe(`/v2/up/start/blobs/uploads/${id}`);
    expect(res.headers.get('range')).toBe('0-0');
    expect(res.headers.get('content-length')).toBe('0');
  });

  it('POST without the trailing slash works too', async () => {
    const res = await client.fetch('/v2/up/start/blobs/uploads', { method: 'POST' });
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toMatch(/^\/v2\/up\/start\/blobs\/uploads\/[0-9a-f-]{36}$/);
  });

  it('a monolithic POST ?digest= with the body is 201 with Location and Docker-Content-Digest', async () => {
    const bytes = bytesOf('mono', 70_000);
    const digest = sha256(bytes);
    const res = await client.fetch(`/v2/up/mono/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: bytes,
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/v2/up/mono/blobs/${digest}`);
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    await expectBlob('up/mono', bytes);
  });

  it('a monolithic POST with the wrong digest is 400 DIGEST_INVALID and leaves no session behind', async () => {
    const before = await sessionIds();
    const bytes = bytesOf('mono-wrong', 1000);
    const claimed = sha256('something else');
    const res = await client.fetch(`/v2/up/mono/blobs/uploads/?digest=${claimed}`, { method: 'POST', body: bytes });
    await expectOciError(res, 400, 'DIGEST_INVALID');
    await expectNoBlob('up/mono', claimed);
    await expectNoBlob('up/mono', sha256(bytes));
    expect(await storedDigests()).not.toContain(claimed);
    expect(await storedDigests()).not.toContain(sha256(bytes));
    expect((await sessionIds()).sort()).toEqual(before.sort());
  });
});

describe('completing with PUT', () => {
  it('POST then PUT ?digest= with the whole body (containerd) is 201', async () => {
    const bytes = bytesOf('post-put', 12_345);
    const location = await client.startUpload('up/put');
    const res = await client.fetch(`${location}?digest=${sha256(bytes)}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: bytes,
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/v2/up/put/blobs/${sha256(bytes)}`);
    expect(res.headers.get('docker-content-digest')).toBe(sha256(bytes));
    await expectBlob('up/put', bytes);
    // The session is gone once completed.
    await expectOciError(await client.fetch(location), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('PUT with a wrong digest is 400 DIGEST_INVALID and stores nothing under either digest', async () => {
    const bytes = bytesOf('wrong-digest', 4096);
    const claimed = sha256('not these bytes');
    const location = await client.startUpload('up/wrong');
    const res = await client.fetch(`${location}?digest=${claimed}`, { method: 'PUT', body: bytes });
    const error = await expectOciError(res, 400, 'DIGEST_INVALID');
    expect(error.detail).toMatchObject({ expected: claimed, actual: sha256(bytes) });
    await expectNoBlob('up/wrong', claimed);
    await expectNoBlob('up/wrong', sha256(bytes));
    const stored = await storedDigests();
    expect(stored).not.toContain(claimed);
    expect(stored).not.toContain(sha256(bytes));
  });

  it('PUT without ?digest= is 400 DIGEST_INVALID and the session survives', async () => {
    const location = await client.startUpload('up/nodigest');
    const patch = await client.fetch(location, { method: 'PATCH', body: Buffer.from('abc') });
    expect(patch.status).toBe(202);
    await expectOciError(await client.fetch(location, { method: 'PUT' }), 400, 'DIGEST_INVALID');
    const status = await client.fetch(location);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-2');
  });

  it.each(['sha256:abc', 'md5:d41d8cd98f00b204e9800998ecf8427e', `sha256:${'A'.repeat(64)}`])('PUT ?digest=%s is 400 DIGEST_INVALID', async (digest) => {
    const location = await client.startUpload('up/baddigest');
    await expectOciError(await client.fetch(`${location}?digest=${encodeURIComponent(digest)}`, { method: 'PUT' }), 400, 'DIGEST_INVALID');
  });

  it('a sha512 digest is verified with sha512 (chunked and monolithic)', async () => {
    const bytes = bytesOf('sha512-upload', 50_000);
    const location = await client.startUpload('up/sha512');
    expect((await client.fetch(location, { method: 'PATCH', body: bytes.subarray(0, 20_000) })).status).toBe(202);
    const res = await client.fetch(`${location}?digest=${sha512(bytes)}`, { method: 'PUT', body: bytes.subarray(20_000) });
    expect(res.status).toBe(201);
    expect(res.headers.get('docker-content-digest')).toBe(sha512(bytes));
    await expectBlob('up/sha512', bytes, sha512(bytes));
    await expectNoBlob('up/sha512', sha256(bytes));

    const wrong = await client.startUpload('up/sha512');
    await expectOciError(await client.fetch(`${wrong}?digest=${sha512('other')}`, { method: 'PUT', body: bytes }), 400, 'DIGEST_INVALID');
  });
});

describe('chunked PATCH', () => {
  it('with Content-Range and Content-Length, reporting progress in Range, then PUT with an empty body', async () => {
    const bytes = bytesOf('chunked', 30_000);
    let location = await client.startUpload('up/chunked');
    const chunks = [bytes.subarray(0, 10_000), bytes.subarray(10_000, 25_000), bytes.subarray(25_000)];
    let offset = 0;
    for (const chunk of chunks) {
      const res = await client.fetch(location, {
        method: 'PATCH',
        // fetch sends Content-Length for a Buffer body.
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${offset + chunk.length - 1}` },
        body: chunk,
      });
      expect(res.status).toBe(202);
      offset += chunk.length;
      expect(res.headers.get('range')).toBe(`0-${offset - 1}`);
      expect(res.headers.get('docker-upload-uuid')).toMatch(UUID);
      location = res.headers.get('location')!;
    }
    const status = await client.fetch(location);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe(`0-${bytes.length - 1}`);
    expect(status.headers.get('docker-upload-uuid')).toMatch(UUID);
    expect(status.headers.get('location')).toBe(location);

    const done = await client.fetch(`${location}?digest=${sha256(bytes)}`, { method: 'PUT' });
    expect(done.status).toBe(201);
    expect(done.headers.get('docker-content-digest')).toBe(sha256(bytes));
    await expectBlob('up/chunked', bytes);
  });

  it('an out-of-order chunk is 416 with Range and Location, and the upload can continue', async () => {
    const bytes = bytesOf('out-of-order', 2000);
    const location = await client.startUpload('up/order');
    expect((await client.fetch(location, { method: 'PATCH', headers: { 'Content-Range': '0-999' }, body: bytes.subarray(0, 1000) })).status).toBe(202);
    // A chunk that skips ahead, and one that overlaps what was received.
    for (const range of ['1500-1999', '500-1499']) {
      const [start, end] = range.split('-').map(Number) as [number, number];
      const res = await client.fetch(location, { method: 'PATCH', headers: { 'Content-Range': range }, body: bytes.subarray(start, end + 1) });
      await expectOciError(res, 416, 'BLOB_UPLOAD_INVALID');
      expect(res.headers.get('range')).toBe('0-999');
      expect(res.headers.get('location')).toBe(location);
    }
    const next = await client.fetch(location, { method: 'PATCH', headers: { 'Content-Range': '1000-1999' }, body: bytes.subarray(1000) });
    expect(next.status).toBe(202);
    expect(next.headers.get('range')).toBe('0-1999');
    expect((await client.fetch(`${location}?digest=${sha256(bytes)}`, { method: 'PUT' })).status).toBe(201);
    await expectBlob('up/order', bytes);
  });

  it('a first chunk that does not start at 0 is 416', async () => {
    const location = await client.startUpload('up/order');
    const res = await client.fetch(location, { method: 'PATCH', headers: { 'Content-Range': '10-19' }, body: Buffer.alloc(10) });
    await expectOciError(res, 416, 'BLOB_UPLOAD_INVALID');
    expect(res.headers.get('range')).toBe('0-0');
  });

  it('a malformed Content-Range is 400 and does not move the offset', async () => {
    const location = await client.startUpload('up/badrange');
    const res = await client.fetch(location, { method: 'PATCH', headers: { 'Content-Range': 'garbage' }, body: Buffer.alloc(10) });
    expect(res.status).toBe(400);
    const status = await client.fetch(location);
    expect(status.headers.get('range')).toBe('0-0');
  });

  it('Content-Length disagreeing with Content-Range is 400 SIZE_INVALID', async () => {
    const location = await client.startUpload('up/badrange');
    const res = await rawRequest({
      host: stowage.host,
      method: 'PATCH',
      path: location,
      headers: { 'Content-Range': '0-99' },
      body: Buffer.alloc(10),
    });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ errors: [{ code: 'SIZE_INVALID' }] });
  });

  it('a chunk shorter than its Content-Range is 400 SIZE_INVALID and does not count', async () => {
    const bytes = bytesOf('short-chunk', 100);
    const location = await client.startUpload('up/short');
    const res = await rawRequest({ host: stowage.host, method: 'PATCH', path: location, headers: { 'Content-Range': '0-99' }, body: [bytes.subarray(0, 10)] });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ errors: [{ code: 'SIZE_INVALID' }] });
    expect((await client.fetch(location)).headers.get('range')).toBe('0-0');
    const retry = await client.fetch(location, { method: 'PATCH', headers: { 'Content-Range': '0-99' }, body: bytes });
    expect(retry.status).toBe(202);
    expect(retry.headers.get('range')).toBe('0-99');
    expect((await client.fetch(`${location}?digest=${sha256(bytes)}`, { method: 'PUT' })).status).toBe(201);
    await expectBlob('up/short', bytes);
  });

  it('docker push: PATCH streamed with chunked encoding and no Content-Length/Range/Type, then PUT with an empty body', async () => {
    const bytes = bytesOf('docker-push', 6 * 1024 * 1024 + 123);
    const location = await client.startUpload('up/docker');
    const pieces: Buffer[] = [];
    for (let offset = 0; offset < bytes.length; offset += 256 * 1024) pieces.push(bytes.subarray(offset, offset + 256 * 1024));
    const patch = await rawRequest({ host: stowage.host, method: 'PATCH', path: location, body: pieces });
    expect(patch.status).toBe(202);
    expect(patch.headers['range']).toBe(`0-${bytes.length - 1}`);
    const next = patch.headers.location as string;
    expect(next).toBe(location);
    const put = await rawRequest({ host: stowage.host, method: 'PUT', path: `${next}?digest=${sha256(bytes)}`, headers: { 'Content-Length': 0 } });
    expect(put.status).toBe(201);
    expect(put.headers['docker-content-digest']).toBe(sha256(bytes));
    expect(put.headers.location).toBe(`/v2/up/docker/blobs/${sha256(bytes)}`);
    await expectBlob('up/docker', bytes);
  });

  it('PUT completing a streamed upload can itself carry a chunked final piece', async () => {
    const bytes = bytesOf('put-chunked', 100_000);
    const location = await client.startUpload('up/putchunk');
    expect((await rawRequest({ host: stowage.host, method: 'PATCH', path: location, body: [bytes.subarray(0, 40_000)] })).status).toBe(202);
    const put = await rawRequest({
      host: stowage.host,
      method: 'PUT',
      path: `${location}?digest=${sha256(bytes)}`,
      body: [bytes.subarray(40_000, 70_000), bytes.subarray(70_000)],
    });
    expect(put.status).toBe(201);
    await expectBlob('up/putchunk', bytes);
  });
});

describe('status and cancel', () => {
  it('GET on an upload is 204 with its progress', async () => {
    const location = await client.startUpload('up/status');
    const fresh = await client.fetch(location);
    expect(fresh.status).toBe(204);
    expect(fresh.headers.get('range')).toBe('0-0');
    await client.fetch(location, { method: 'PATCH', body: Buffer.alloc(64, 1) });
    const after = await client.fetch(location);
    expect(after.status).toBe(204);
    expect(after.headers.get('range')).toBe('0-63');
    expect(after.headers.get('docker-upload-uuid')).toBe(location.split('/').at(-1));
  });

  it('DELETE cancels: 204, then the session is 404 BLOB_UPLOAD_UNKNOWN for every method', async () => {
    const location = await client.startUpload('up/cancel');
    await client.fetch(location, { method: 'PATCH', body: Buffer.alloc(10) });
    const res = await client.fetch(location, { method: 'DELETE' });
    expect(res.status).toBe(204);
    await expectOciError(await client.fetch(location), 404, 'BLOB_UPLOAD_UNKNOWN');
    await expectOciError(await client.fetch(location, { method: 'PATCH', body: Buffer.alloc(1) }), 404, 'BLOB_UPLOAD_UNKNOWN');
    await expectOciError(await client.fetch(`${location}?digest=${sha256(Buffer.alloc(10))}`, { method: 'PUT' }), 404, 'BLOB_UPLOAD_UNKNOWN');
    await expectOciError(await client.fetch(location, { method: 'DELETE' }), 404, 'BLOB_UPLOAD_UNKNOWN');
    expect(await sessionIds()).not.toContain(location.split('/').at(-1));
  });

  it('a PUT that completes the session finishes it at once: a GET or late PATCH while it runs, or after, is 404 and writes nothing', async () => {
    const parts = [bytesOf('finish/1', 1000), bytesOf('finish/2', 1000), bytesOf('finish/3', 1000)];
    const whole = Buffer.concat(parts);
    const location = await client.startUpload('up/finish');
    expect((await client.fetch(location, { method: 'PATCH', body: parts[0] })).status).toBe(202);

    // The completing PUT carries the last chunks, streamed: it is still running while we probe.
    const [host, port] = stowage.host.split(':');
    const put = httpRequest({ host, port: Number(port), method: 'PUT', path: `${location}?digest=${sha256(whole)}`, headers: { 'Transfer-Encoding': 'chunked' } });
    const putDone = new Promise<number>((resolve, reject) => {
      put.on('response', (res) => res.resume().on('end', () => resolve(res.statusCode ?? 0)));
      put.on('error', reject);
    });
    put.write(parts[1]);
    // Until the PUT reached the session, GET reports the first chunk; from then on the session is finished
    // (without the fix, GET keeps answering 204 while the PUT's chunk is written).
    await waitFor(async () => (await client.fetch(location)).status === 404, { timeoutMs: 5000, intervalMs: 10, description: 'GET to see the session as finished while the PUT runs' });
    const latePatch = client.fetch(location, { method: 'PATCH', body: Buffer.from('written too late') });
    await expectOciError(await latePatch, 404, 'BLOB_UPLOAD_UNKNOWN');
    put.end(parts[2]);
    expect(await putDone).toBe(201);

    await expectBlob('up/finish', whole);
    for (const [method, body] of [['GET', undefined], ['PATCH', Buffer.from('after')], ['DELETE', undefined]] as const) {
      await expectOciError(await client.fetch(location, { method, ...(body ? { body } : {}) }), 404, 'BLOB_UPLOAD_UNKNOWN');
    }
    await expectOciError(await client.fetch(`${location}?digest=${sha256(whole)}`, { method: 'PUT', body: Buffer.from('again') }), 404, 'BLOB_UPLOAD_UNKNOWN');
    expect(await sessionIds()).not.toContain(location.split('/').at(-1));
    await expectBlob('up/finish', whole);
  });

  it('a PUT that fails (wrong digest) leaves the session open for a corrected PUT', async () => {
    const bytes = bytesOf('finish/retry', 2000);
    const location = await client.startUpload('up/finish');
    await expectOciError(await client.fetch(`${location}?digest=${sha256('other')}`, { method: 'PUT', body: bytes }), 400, 'DIGEST_INVALID');
    const status = await client.fetch(location);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-1999');
    expect((await client.fetch(`${location}?digest=${sha256(bytes)}`, { method: 'PUT' })).status).toBe(201);
  });

  it('an upload started in one repository is unknown in another', async () => {
    const location = await client.startUpload('up/owner');
    const id = location.split('/').at(-1)!;
    await expectOciError(await client.fetch(`/v2/up/intruder/blobs/uploads/${id}`), 404, 'BLOB_UPLOAD_UNKNOWN');
    await expectOciError(await client.fetch(`/v2/up/intruder/blobs/uploads/${id}`, { method: 'PATCH', body: Buffer.alloc(5) }), 404, 'BLOB_UPLOAD_UNKNOWN');
    await expectOciError(await client.fetch(`/v2/up/intruder/blobs/uploads/${id}`, { method: 'DELETE' }), 404, 'BLOB_UPLOAD_UNKNOWN');
    expect((await client.fetch(location)).headers.get('range')).toBe('0-0');
  });

  it.each([
    '../../etc',
    '..%2F..%2Fetc',
    '%2e%2e',
    'not-a-uuid',
    '00000000-0000-4000-8000-000000000000',
    '00000000-0000-4000-8000-00000000000G',
  ])('upload id %s is 404 BLOB_UPLOAD_UNKNOWN', async (id) => {
    for (const method of ['GET', 'PATCH', 'PUT', 'DELETE']) {
      const query = method === 'PUT' ? `?digest=${sha256('x')}` : '';
      const res = await rawRequest({ host: stowage.host, method, path: `/v2/up/ids/blobs/uploads/${id}${query}`, ...(method === 'PATCH' ? { body: Buffer.from('x') } : {}) });
      expect({ method, status: res.status }).toEqual({ method, status: 404 });
      expect(res.json).toMatchObject({ errors: [{ code: 'BLOB_UPLOAD_UNKNOWN' }] });
    }
  });
});

describe('cross-repository mount', () => {
  it('is 201 with Location and Docker-Content-Digest when the blob is in `from`, and the blob becomes readable', async () => {
    const bytes = bytesOf('mount', 777);
    const digest = await client.pushBlob('mount/source', bytes);
    await expectNoBlob('mount/target', digest);
    const res = await client.fetch(`/v2/mount/target/blobs/uploads/?mount=${digest}&from=mount/source`, { method: 'POST' });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/v2/mount/target/blobs/${digest}`);
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    await expectBlob('mount/target', bytes);
  });

  it('is 202 with a normal upload session when `from` does not have the blob', async () => {
    const digest = await client.pushBlob('mount/elsewhere', bytesOf('not-in-source', 99));
    const res = await client.fetch(`/v2/mount/target2/blobs/uploads/?mount=${digest}&from=mount/source`, { method: 'POST' });
    expect(res.status).toBe(202);
    const location = res.headers.get('location')!;
    expect(location).toMatch(/^\/v2\/mount\/target2\/blobs\/uploads\/[0-9a-f-]{36}$/);
    expect(res.headers.get('docker-upload-uuid')).toMatch(UUID);
    // The blob is still not linked, and the session works.
    await expectNoBlob('mount/target2', digest);
    expect((await client.fetch(location)).status).toBe(204);
  });

  it('is 202 when `from` names a repository that does not have it, even if another one does', async () => {
    const digest = await client.pushBlob('mount/source', bytesOf('mount-2', 10));
    const res = await client.fetch(`/v2/mount/target3/blobs/uploads/?mount=${digest}&from=mount/nothing-here`, { method: 'POST' });
    expect(res.status).toBe(202);
    await expectNoBlob('mount/target3', digest);
  });

  it('without `from`, is 201 when a repository the caller may read has the blob (automatic content discovery)', async () => {
    const bytes = bytesOf('mount-anywhere', 321);
    const digest = await client.pushBlob('mount/somewhere/else', bytes);
    const res = await client.fetch(`/v2/mount/discovered/blobs/uploads/?mount=${digest}`, { method: 'POST' });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/v2/mount/discovered/blobs/${digest}`);
    expect(res.headers.get('docker-content-digest')).toBe(digest);
    await expectBlob('mount/discovered', bytes);
  });

  it('without `from`, is 202 for a blob no repository has: never pushed, or deleted from the only one that had it', async () => {
    const never = sha256('never pushed anywhere');
    const first = await client.fetch(`/v2/mount/discovered2/blobs/uploads/?mount=${never}`, { method: 'POST' });
    expect(first.status).toBe(202);
    const digest = await client.pushBlob('mount/deleting', bytesOf('mount-deleted', 99));
    expect((await client.fetch(`/v2/mount/deleting/blobs/${digest}`, { method: 'DELETE' })).status).toBe(202);
    const res = await client.fetch(`/v2/mount/discovered2/blobs/uploads/?mount=${digest}`, { method: 'POST' });
    expect(res.status).toBe(202);
    await expectNoBlob('mount/discovered2', digest);
  });

  it('is 400 DIGEST_INVALID for a malformed mount digest', async () => {
    await expectOciError(await client.fetch('/v2/mount/target/blobs/uploads/?mount=sha256:nope&from=mount/source', { method: 'POST' }), 400, 'DIGEST_INVALID');
  });
});

describe('concurrency', () => {
  it('two sessions pushing the same blob at once both succeed and the blob is intact', async () => {
    const bytes = bytesOf('concurrent', 3 * 1024 * 1024);
    const digest = sha256(bytes);
    const [a, b] = await Promise.all([client.startUpload('conc/a'), client.startUpload('conc/b')]);
    const pieces: Buffer[] = [];
    for (let offset = 0; offset < bytes.length; offset += 64 * 1024) pieces.push(bytes.subarray(offset, offset + 64 * 1024));
    const push = async (location: string): Promise<number> => {
      const patch = await rawRequest({ host: stowage.host, method: 'PATCH', path: location, body: pieces });
      expect(patch.status).toBe(202);
      const put = await rawRequest({ host: stowage.host, method: 'PUT', path: `${location}?digest=${digest}` });
      return put.status;
    };
    expect(await Promise.all([push(a), push(b)])).toEqual([201, 201]);
    await expectBlob('conc/a', bytes);
    await expectBlob('conc/b', bytes);
  });

  it('many monolithic pushes of one blob into one repository all succeed', async () => {
    const bytes = bytesOf('concurrent-mono', 200_000);
    const statuses = await Promise.all(
      Array.from({ length: 8 }, () =>
        client.fetch(`/v2/conc/mono/blobs/uploads/?digest=${sha256(bytes)}`, { method: 'POST', body: bytes }).then(async (r) => {
          await r.arrayBuffer();
          return r.status;
        }),
      ),
    );
    expect(statuses).toEqual(Array(8).fill(201));
    await expectBlob('conc/mono', bytes);
  });
});

describe('limits (own servers)', () => {
  it('a blob over limits.blobMaxBytes is 413 SIZE_INVALID, streamed or monolithic, and nothing is kept', async () => {
    const limited = await startStowage({ config: { limits: { blobMaxBytes: '1MiB' } } });
    const limitedClient = new RegistryClient(limited.url);
    try {
      const atLimit = bytesOf('at-limit', 1024 * 1024);
      expect(await limitedClient.pushBlob('lim/repo', atLimit)).toBe(sha256(atLimit));

      const over = bytesOf('over-limit', 1024 * 1024 + 1);
      const location = await limitedClient.startUpload('lim/repo');
      const first = await limitedClient.fetch(location, { method: 'PATCH', body: over.subarray(0, 1000) });
      expect(first.status).toBe(202);
      const pieces: Buffer[] = [];
      for (let offset = 1000; offset < over.length; offset += 64 * 1024) pieces.push(over.subarray(offset, offset + 64 * 1024));
      const streamed = await rawRequest({ host: limited.host, method: 'PATCH', path: location, body: pieces });
      expect(streamed.status).toBe(413);
      expect(streamed.json).toMatchObject({ errors: [{ code: 'SIZE_INVALID' }] });
      // The refused chunk does not count: the session is where it was before it.
      expect((await limitedClient.fetch(location)).headers.get('range')).toBe('0-999');

      const mono = await rawRequest({ host: limited.host, method: 'POST', path: `/v2/lim/repo/blobs/uploads/?digest=${sha256(over)}`, body: over });
      expect(mono.status).toBe(413);
      expect(mono.json).toMatchObject({ errors: [{ code: 'SIZE_INVALID' }] });
      // On a keep-alive connection the refusal closes the connection, so the client stops sending
      // the rest of the body instead of blocking on a socket nobody reads.
      const wayOver = bytesOf('way-over-limit', 4 * 1024 * 1024);
      const keepAlive = await limitedClient.fetch(`/v2/lim/repo/blobs/uploads/?digest=${sha256(wayOver)}`, { method: 'POST', body: wayOver });
      expect(keepAlive.status).toBe(413);
      expect(keepAlive.headers.get('connection')).toBe('close');
      await keepAlive.arrayBuffer();
      await expectOciError(await limitedClient.fetch(`/v2/lim/repo/blobs/${sha256(over)}`), 404, 'BLOB_UNKNOWN');
      // Only the session the client still holds remains.
      expect(await sessionIds(limited)).toEqual([location.split('/').at(-1)]);
    } finally {
      await limitedClient.close();
      await limited.close();
    }
  });

  it('an idle session is purged after limits.uploadSessionTtl; one that keeps sending chunks is not', async () => {
    const ttl = await startStowage({ config: { limits: { uploadSessionTtl: '1s' } } });
    const ttlClient = new RegistryClient(ttl.url);
    try {
      const bytes = bytesOf('slow-push', 10 * 1024);
      const active = await ttlClient.startUpload('ttl/repo');
      const idle = await ttlClient.startUpload('ttl/repo');
      // Ten chunks over ~2.5 s: the session outlives the TTL counted from its start, but is never
      // idle for long (250 ms gaps leave a wide margin under the 1 s TTL on a loaded machine).
      for (let i = 0; i < 10; i++) {
        const res = await ttlClient.fetch(active, { method: 'PATCH', body: bytes.subarray(i * 1024, (i + 1) * 1024) });
        expect(res.status).toBe(202);
        await new Promise((r) => setTimeout(r, 250));
      }
      const done = await ttlClient.fetch(`${active}?digest=${sha256(bytes)}`, { method: 'PUT' });
      expect(done.status).toBe(201);
      await expectOciError(await ttlClient.fetch(idle), 404, 'BLOB_UPLOAD_UNKNOWN');
      expect(await sessionIds(ttl)).toEqual([]);
    } finally {
      await ttlClient.close();
      await ttl.close();
    }
  });
});
