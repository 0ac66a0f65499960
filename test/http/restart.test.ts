/**
 * Upload sessions and pushed content live on disk: a session started before a restart continues
 * after it (its running hash is rebuilt from the bytes on disk), and blobs, manifests and tags
 * pushed before are served after.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { rawRequest } from './raw-request.js';
import { bytesOf, expectOciError, RegistryClient, sha256, sha512 } from './registry-client.js';

let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'stowage-restart-'));
});
afterAll(() => rm(dataDir, { recursive: true, force: true }));

/** Runs `body` against a Stowage on `dataDir`, then closes it (the data dir is kept). */
async function withStowage<T>(body: (stowage: RunningStowage, client: RegistryClient) => Promise<T>): Promise<T> {
  const stowage = await startStowage({ dataDir });
  const client = new RegistryClient(stowage.url);
  try {
    return await body(stowage, client);
  } finally {
    await client.close();
    await stowage.close();
  }
}

describe('restart', () => {
  const blob = bytesOf('restart/blob', 2 * 1024 * 1024 + 17);
  const split = 1024 * 1024 + 5;
  let location: string;
  let pushed: { digest: string; manifest: Buffer; mediaType: string };

  it('before: a session receives its first chunk (streamed), and an image is pushed', async () => {
    await withStowage(async (stowage, client) => {
      location = await client.startUpload('restart/repo');
      const first = await rawRequest({ host: stowage.host, method: 'PATCH', path: location, body: [blob.subarray(0, split / 2), blob.subarray(split / 2, split)] });
      expect(first.status).toBe(202);
      expect(first.headers.range).toBe(`0-${split - 1}`);
      pushed = await client.pushImage('restart/repo', 'v1', { seed: 'restart' });
    });
  });

  it('after: the session reports its progress, takes the next chunk and completes with the right digest', async () => {
    await withStowage(async (stowage, client) => {
      const status = await client.fetch(location);
      expect(status.status).toBe(204);
      expect(status.headers.get('range')).toBe(`0-${split - 1}`);
      expect(status.headers.get('location')).toBe(location);

      // A chunk that does not continue from the persisted offset is still refused.
      const wrong = await client.fetch(location, { method: 'PATCH', headers: { 'Content-Range': `0-9` }, body: blob.subarray(0, 10) });
      await expectOciError(wrong, 416, 'BLOB_UPLOAD_INVALID');
      expect(wrong.headers.get('range')).toBe(`0-${split - 1}`);

      const rest = blob.subarray(split);
      const next = await client.fetch(location, { method: 'PATCH', headers: { 'Content-Range': `${split}-${blob.length - 1}` }, body: rest });
      expect(next.status).toBe(202);
      expect(next.headers.get('range')).toBe(`0-${blob.length - 1}`);

      const done = await rawRequest({ host: stowage.host, method: 'PUT', path: `${location}?digest=${sha256(blob)}` });
      expect(done.status).toBe(201);
      expect(done.headers['docker-content-digest']).toBe(sha256(blob));

      const res = await client.fetch(`/v2/restart/repo/blobs/${sha256(blob)}`);
      expect(res.status).toBe(200);
      expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(blob));
      await expectOciError(await client.fetch(location), 404, 'BLOB_UPLOAD_UNKNOWN');
    });
  });

  it('after: a wrong digest is still refused for a session resumed from disk', async () => {
    let second: string;
    const bytes = bytesOf('restart/second', 300_000);
    await withStowage(async (stowage) => {
      const start = await rawRequest({ host: stowage.host, method: 'POST', path: '/v2/restart/repo/blobs/uploads/' });
      second = start.headers.location as string;
      expect((await rawRequest({ host: stowage.host, method: 'PATCH', path: second, body: bytes })).status).toBe(202);
    });
    await withStowage(async (_, client) => {
      await expectOciError(await client.fetch(`${second}?digest=${sha256('not it')}`, { method: 'PUT' }), 400, 'DIGEST_INVALID');
      // ...and sha512 works from disk too.
      const done = await client.fetch(`${second}?digest=${sha512(bytes)}`, { method: 'PUT' });
      expect(done.status).toBe(201);
      expect(done.headers.get('docker-content-digest')).toBe(sha512(bytes));
    });
  });

  it('after: pushed blobs, manifests, tags and the catalog are served as before', async () => {
    await withStowage(async (_, client) => {
      const manifest = await client.fetch('/v2/restart/repo/manifests/v1');
      expect(manifest.status).toBe(200);
      expect(manifest.headers.get('content-type')).toBe(pushed.mediaType);
      expect(manifest.headers.get('docker-content-digest')).toBe(pushed.digest);
      expect(Buffer.from(await manifest.arrayBuffer()).equals(pushed.manifest)).toBe(true);
      expect(await (await client.fetch('/v2/restart/repo/tags/list')).json()).toEqual({ name: 'restart/repo', tags: ['v1'] });
      expect(await (await client.fetch('/v2/_catalog')).json()).toEqual({ repositories: ['restart/repo'] });
    });
  });

  it('after: no temporary files are left behind', async () => {
    expect(await readdir(join(dataDir, 'tmp'))).toEqual([]);
    // (No uploads/ at all on the s3 driver: its sessions live in the bucket.)
    expect(await readdir(join(dataDir, 'uploads')).catch(() => [])).toEqual([]);
  });
});
