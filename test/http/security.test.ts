/**
 * Hostile names, digests and upload ids. Requests go out through `node:http` with the path exactly
 * as written, because fetch and `new URL()` would resolve `..` and `%2e%2e` before sending. After
 * every attack, nothing may exist outside the storage root, and inside it only the store's own
 * directories.
 */
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { rawRequest, type RawResponse } from './raw-request.js';
import { buildImage, bytesOf, RegistryClient, sha256 } from './registry-client.js';

let parent: string;
let stowage: RunningStowage;
let client: RegistryClient;
const digest = sha256(Buffer.from('payload'));
const image = buildImage({ seed: 'security' });

beforeAll(async () => {
  // The data dir sits inside a directory of its own, so escapes into its parent are visible.
  parent = await mkdtemp(join(tmpdir(), 'stowage-security-'));
  const dataDir = join(parent, 'data');
  await mkdir(dataDir);
  stowage = await startStowage({ dataDir });
  client = new RegistryClient(stowage.url);
  await client.pushBlob('victim/repo', Buffer.from('payload'));
  await client.pushImage('victim/repo', 'v1', { seed: 'security' });
});
afterAll(async () => {
  await client.close();
  await stowage.close();
  await rm(parent, { recursive: true, force: true });
});

const send = (method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<RawResponse> =>
  rawRequest({ host: stowage.host, method, path, ...(body ? { body } : {}), headers });

function expectError(res: RawResponse, status: number, code: string): void {
  expect({ status: res.status, body: res.body.toString() }).toMatchObject({ status });
  expect(res.json).toMatchObject({ errors: [{ code, message: expect.any(String) }] });
}

/** Every file under `dir`, relative to it. */
async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else out.push(path);
  }
  return out;
}

/** Every request an attacker might aim at a repository path, with a body where the method takes one. */
function attacks(name: string): Array<[string, string, Buffer | undefined]> {
  return [
    ['GET', `/v2/${name}/tags/list`, undefined],
    ['GET', `/v2/${name}/manifests/v1`, undefined],
    ['PUT', `/v2/${name}/manifests/v1`, image.manifest],
    ['DELETE', `/v2/${name}/manifests/${image.digest}`, undefined],
    ['GET', `/v2/${name}/blobs/${digest}`, undefined],
    ['HEAD', `/v2/${name}/blobs/${digest}`, undefined],
    ['DELETE', `/v2/${name}/blobs/${digest}`, undefined],
    ['POST', `/v2/${name}/blobs/uploads/`, undefined],
    ['POST', `/v2/${name}/blobs/uploads/?digest=${sha256(Buffer.from('evil'))}`, Buffer.from('evil')],
    ['POST', `/v2/${name}/blobs/uploads/?mount=${digest}&from=victim/repo`, undefined],
    ['GET', `/v2/${name}/referrers/${digest}`, undefined],
  ];
}

describe('repository names', () => {
  const names = [
    ['uppercase', 'Victim/Repo'],
    ['a dot-dot component', 'victim/../victim/repo'],
    ['a leading dot-dot', '../victim/repo'],
    ['a bare dot-dot', '..'],
    ['a dot component', 'victim/./repo'],
    ['an encoded dot-dot', 'victim/%2e%2e/victim/repo'],
    ['an upper-case encoded dot-dot', 'victim/%2E%2E/escape'],
    ['an encoded slash', 'victim%2frepo'],
    ['an encoded backslash', 'victim%5c..%5crepo'],
    ['an empty component', 'victim//repo'],
    ['a trailing slash', 'victim/repo/'],
    ['a leading separator', '-victim/repo'],
    ['a trailing separator', 'victim/repo-'],
    ['a null byte', 'victim%00/repo'],
    ['a space', 'victim%20repo'],
    ['more than 255 characters', `victim/${'a'.repeat(250)}`],
    ['an underscore-prefixed component', 'victim/_manifests'],
  ] as const;

  it.each(names)('a name with %s is 400 NAME_INVALID on every endpoint', async (_, name) => {
    for (const [method, path, body] of attacks(name)) {
      const res = await send(method, path, body);
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 400 });
      if (method !== 'HEAD') expectError(res, 400, 'NAME_INVALID');
    }
  });

  it('a name of exactly 255 characters is accepted (valid, merely unknown)', async () => {
    const name = `long/${'a'.repeat(250)}`;
    expect(name.length).toBe(255);
    const res = await send('GET', `/v2/${name}/tags/list`);
    expect(res.status).toBe(404);
    expect(res.json).toMatchObject({ errors: [{ code: 'NAME_UNKNOWN' }] });
  });

  it('the victim repository is untouched by the attacks', async () => {
    const blob = await client.fetch(`/v2/victim/repo/blobs/${digest}`);
    expect(blob.status).toBe(200);
    expect(Buffer.from(await blob.arrayBuffer()).toString()).toBe('payload');
    const manifest = await client.fetch('/v2/victim/repo/manifests/v1');
    expect(manifest.status).toBe(200);
    expect(Buffer.from(await manifest.arrayBuffer()).equals(image.manifest)).toBe(true);
  });
});

describe('digests', () => {
  const digests = [
    ['traversal', 'sha256:../../x'],
    ['encoded traversal', 'sha256:..%2f..%2fx'],
    ['traversal in place of the hex', `sha256:../../../../${'a'.repeat(52)}`],
    ['short hex', 'sha256:abc123'],
    ['long hex', `sha256:${'a'.repeat(65)}`],
    ['upper-case hex', `sha256:${'A'.repeat(64)}`],
    ['an unsupported algorithm', 'md5:d41d8cd98f00b204e9800998ecf8427e'],
    ['sha512 with a sha256 length', `sha512:${'a'.repeat(64)}`],
    ['no algorithm', 'a'.repeat(64)],
    ['an empty hex', 'sha256:'],
    ['non-hex characters', `sha256:${'g'.repeat(64)}`],
    ['a null byte', `sha256:${'a'.repeat(63)}%00`],
  ] as const;

  it.each(digests)('a blob digest with %s is 400 DIGEST_INVALID (GET, HEAD, DELETE)', async (_, bad) => {
    for (const method of ['GET', 'HEAD', 'DELETE']) {
      const res = await send(method, `/v2/victim/repo/blobs/${bad}`);
      expect({ method, status: res.status }).toEqual({ method, status: 400 });
      if (method !== 'HEAD') expectError(res, 400, 'DIGEST_INVALID');
    }
  });

  it.each(digests.filter(([, d]) => d.includes(':')))('a manifest or referrers digest with %s is 400 DIGEST_INVALID', async (_, bad) => {
    expectError(await send('GET', `/v2/victim/repo/manifests/${bad}`), 400, 'DIGEST_INVALID');
    expectError(await send('PUT', `/v2/victim/repo/manifests/${bad}`, image.manifest), 400, 'DIGEST_INVALID');
    expectError(await send('DELETE', `/v2/victim/repo/manifests/${bad}`), 400, 'DIGEST_INVALID');
    expectError(await send('GET', `/v2/victim/repo/referrers/${bad}`), 400, 'DIGEST_INVALID');
  });

  it.each(digests.filter(([, d]) => d.includes(':')))('an upload ?digest= or ?mount= with %s is 400 DIGEST_INVALID', async (_, bad) => {
    expectError(await send('POST', `/v2/victim/repo/blobs/uploads/?digest=${bad}`, Buffer.from('payload')), 400, 'DIGEST_INVALID');
    expectError(await send('POST', `/v2/victim/repo/blobs/uploads/?mount=${bad}&from=victim/repo`), 400, 'DIGEST_INVALID');
    const start = await send('POST', '/v2/victim/repo/blobs/uploads/');
    expectError(await send('PUT', `${start.headers.location as string}?digest=${bad}`, Buffer.from('payload')), 400, 'DIGEST_INVALID');
  });

  it('a manifest whose layers carry a traversal digest is 400 MANIFEST_INVALID', async () => {
    const bytes = Buffer.from(JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: 'sha256:../../../etc/passwd', size: 1 },
      layers: [],
    }));
    const res = await send('PUT', '/v2/victim/repo/manifests/evil', bytes, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' });
    expectError(res, 400, 'MANIFEST_INVALID');
  });
});

describe('upload ids and mounts', () => {
  it.each(['../../etc', '..%2f..%2fetc', '%2e%2e%2f%2e%2e%2fetc', '..', '.', 'session.json', `${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(11)}/../x`])(
    'upload id %s is 404 BLOB_UPLOAD_UNKNOWN for GET, PATCH, PUT and DELETE',
    async (id) => {
      for (const [method, suffix, body] of [['GET', '', undefined], ['PATCH', '', bytesOf('evil', 10)], ['PUT', `?digest=${digest}`, Buffer.from('payload')], ['DELETE', '', undefined]] as const) {
        const res = await send(method, `/v2/victim/repo/blobs/uploads/${id}${suffix}`, body);
        expect({ method, status: res.status }).toEqual({ method, status: 404 });
        expectError(res, 404, 'BLOB_UPLOAD_UNKNOWN');
      }
    },
  );

  it('a mount from an invalid or traversal name never links the blob', async () => {
    for (const from of ['..%2fvictim%2frepo', '../victim/repo', 'Victim/Repo', 'victim/repo/..']) {
      const res = await send('POST', `/v2/thief/repo/blobs/uploads/?mount=${digest}&from=${from}`);
      expect(res.status).not.toBe(201);
      expect(res.status).toBeLessThan(500);
    }
    expect((await client.fetch(`/v2/thief/repo/blobs/${digest}`)).status).toBe(404);
  });
});

describe('the storage root', () => {
  it('holds nothing outside the data directory, and only the store layout inside it', async () => {
    const everything = await walk(parent);
    const dataDir = join(parent, 'data');
    for (const file of everything) expect(relative(dataDir, file).startsWith('..')).toBe(false);
    const top = new Set((await readdir(dataDir)).filter((e) => !e.startsWith('.')));
    // pulls/ appears once the pull counts are first flushed (every few seconds): it may or may not be there yet.
    for (const entry of top) expect(['blobs', 'fills', 'tmp', 'uploads', 'repositories', 'pulls']).toContain(entry);
    // Repositories (and their pull counts) are only the ones named validly by a request.
    for (const tree of ['repositories', 'pulls']) {
      const files = await walk(join(dataDir, tree)).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? [] : Promise.reject(e)));
      for (const file of files) {
        expect(relative(join(dataDir, tree), file)).toMatch(/^hosted\/(victim\/repo|long\/a{250})\/_/);
      }
    }
    // No file anywhere is named after an attack payload.
    for (const file of everything) expect(relative(parent, file)).not.toMatch(/etc|passwd|evil|\.\./);
  });

  it('left nothing in the system temp directory next to the data directory', async () => {
    // The parent holds exactly one entry: the data directory itself.
    expect(await readdir(parent)).toEqual(['data']);
    await expect(stat(join(parent, 'x'))).rejects.toThrow();
  });
});
