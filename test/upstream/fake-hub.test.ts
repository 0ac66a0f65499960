import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/media-types.js';
import { buildImage } from '../support/fake-hub-images.js';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { hasTool } from '../support/processes.js';
import { REFERENCE_REGISTRY_BINARY, startReferenceRegistry, type ReferenceRegistry } from '../support/reference-registry.js';
import { readAll, UpstreamFixture } from './upstream-fixture.js';

/** The fake hub is test infrastructure other suites rely on: its Docker-Hub-like rules are pinned here. */
const hubs: FakeHub[] = [];
async function hub(options: Parameters<typeof startFakeHub>[0] = {}): Promise<FakeHub> {
  const started = await startFakeHub(options);
  hubs.push(started);
  return started;
}
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close()));
});

async function get(url: string, headers: Record<string, string> = {}) {
  const response = await request(url, { headers });
  const body = await response.body.text();
  return { status: response.statusCode, headers: response.headers, body };
}

async function token(fake: FakeHub, repository: string): Promise<string> {
  const answer = await get(`${fake.url}/token?service=fake-hub&scope=repository:${repository}:pull`);
  return (JSON.parse(answer.body) as { token: string }).token;
}

describe('fake hub', () => {
  it('challenges on /v2/ and registry requests, with the scope', async () => {
    const fake = await hub();
    const ping = await get(`${fake.url}/v2/`);
    expect(ping.status).toBe(401);
    expect(ping.headers['www-authenticate']).toBe(`Bearer realm="${fake.url}/token",service="fake-hub"`);
    const manifest = await get(`${fake.url}/v2/library/alpine/manifests/latest`);
    expect(manifest.headers['www-authenticate']).toContain('scope="repository:library/alpine:pull"');
  });

  it('answers 401 for an unknown repository even with a valid token, 404 for an unknown tag', async () => {
    const fake = await hub();
    fake.addImage('library/alpine', '3.20');
    const missingRepo = await get(`${fake.url}/v2/library/nope/manifests/latest`, { authorization: `Bearer ${await token(fake, 'library/nope')}` });
    expect(missingRepo.status).toBe(401);
    const missingTag = await get(`${fake.url}/v2/library/alpine/manifests/nope`, { authorization: `Bearer ${await token(fake, 'library/alpine')}` });
    expect(missingTag.status).toBe(404);
    expect(missingTag.body).toContain('MANIFEST_UNKNOWN');
  });

  it('checks Basic credentials at the token endpoint', async () => {
    const fake = await hub({ auth: { username: 'alice', password: 's3cret' } });
    const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    const url = `${fake.url}/token?service=fake-hub&scope=repository:team/app:pull`;
    expect((await get(url)).status).toBe(401);
    expect((await get(url, { authorization: basic('alice', 'nope') })).status).toBe(401);
    expect((await get(url, { authorization: basic('alice', 's3cret') })).status).toBe(200);
  });

  it('CDN: serves signed URLs with Range, rejects Authorization with 400', async () => {
    const fake = await hub({ auth: 'none', cdn: true });
    const digest = fake.addBlob('library/alpine', Buffer.from('0123456789'));
    const redirect = await get(`${fake.url}/v2/library/alpine/blobs/${digest}`);
    expect(redirect.status).toBe(307);
    const location = redirect.headers.location as string;
    expect(location.startsWith(`${fake.cdnUrl}/blobs/${digest}?sig=`)).toBe(true);

    expect((await get(location, { authorization: 'Bearer anything' })).status).toBe(400);
    const ranged = await get(location, { range: 'bytes=4-' });
    expect([ranged.status, ranged.headers['content-range'], ranged.body]).toEqual([206, 'bytes 4-9/10', '456789']);
    expect((await get(location.replace(/sig=[^&]+/, 'sig=forged'))).status).toBe(403);
    // Every request records the body bytes it was sent (tests assert what the upstream paid for).
    expect(fake.requests.map((r) => [r.kind, r.status, r.bodyBytes])).toEqual([
      ['blob', 307, redirect.body.length],
      ['cdn', 400, expect.any(Number)],
      ['cdn', 206, 6],
      ['cdn', 403, expect.any(Number)],
    ]);
  });

  it('paces blob bodies to a set bandwidth (the bench models a 1 Gbit/s uplink with it)', async () => {
    const fake = await hub({ auth: 'none' });
    const bytes = Buffer.alloc(600_000, 7);
    const digest = fake.addBlob('library/alpine', bytes);
    fake.faults.bandwidth = 4_000_000; // 600 kB at 4 MB/s: at least 150 ms
    const started = performance.now();
    const paced = await get(`${fake.url}/v2/library/alpine/blobs/${digest}`);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    expect(paced.body.length).toBe(bytes.length);
    fake.faults.clear();
    expect(fake.faults.bandwidth).toBeNull();
  });

  it("goes down ('reset' and 'refuse') and comes back", async () => {
    const fake = await hub({ auth: 'none' });
    await fake.faults.down('reset');
    await expect(get(`${fake.url}/v2/`)).rejects.toThrow();
    await fake.faults.down('refuse');
    await expect(get(`${fake.url}/v2/`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await fake.faults.up();
    expect((await get(`${fake.url}/v2/`)).status).toBe(200);
  });
});

describe.skipIf(!hasTool(REFERENCE_REGISTRY_BINARY))('fake hub in backend mode (reference registry)', () => {
  let backend: ReferenceRegistry;
  const image = buildImage({ layerCount: 2, layerSize: 50_000 });
  const fixture = new UpstreamFixture();

  beforeAll(async () => {
    backend = await startReferenceRegistry();
    for (const blob of [image.config, ...image.layers]) await pushBlob(backend.url, 'team/app', blob.bytes);
    const put = await request(`${backend.url}/v2/team/app/manifests/v1`, {
      method: 'PUT',
      headers: { 'content-type': image.mediaType },
      body: image.bytes,
    });
    await put.body.dump();
    expect(put.statusCode).toBe(201);
  }, 30_000);

  afterAll(async () => {
    await fixture.closeAll();
    await backend?.close();
  });

  it('serves manifests, blobs (through the CDN, with a resume) and tags from the backend', async () => {
    const fake = await hub({ backend: backend.url, cdn: true });
    const { upstream } = fixture.create(fake.url);

    const manifest = await upstream.getManifest('team/app', 'v1');
    expect(manifest).toMatchObject({ digest: image.digest, mediaType: MediaType.OciManifest });
    expect(manifest.bytes.equals(image.bytes)).toBe(true);

    const layer = image.layers[0]!;
    fake.faults.cutBody({ afterBytes: 10_000 });
    const blob = await upstream.getBlob('team/app', layer.digest);
    expect((await readAll(blob.body)).equals(layer.bytes)).toBe(true);
    expect(fake.count({ kind: 'cdn' })).toBe(2);

    expect(await upstream.listTags('team/app')).toEqual({ tags: ['v1'], next: null });
    await expect(upstream.getManifest('team/missing', 'v1')).rejects.toMatchObject({ kind: 'not-found' });
  });
});

async function pushBlob(registry: string, repository: string, bytes: Buffer): Promise<void> {
  const start = await request(`${registry}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
  await start.body.dump();
  const location = new URL(start.headers.location as string, registry);
  location.searchParams.set('digest', digestOf(bytes));
  const put = await request(location, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
  await put.body.dump();
  if (put.statusCode !== 201) throw new Error(`blob push answered ${put.statusCode}`);
}
