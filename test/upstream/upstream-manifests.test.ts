import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MediaType } from '../../src/oci/media-types.js';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { expectUpstreamError, sha256, UpstreamFixture } from './upstream-fixture.js';

const fixture = new UpstreamFixture();
const hubs: FakeHub[] = [];
const servers: http.Server[] = [];

async function hub(options: Parameters<typeof startFakeHub>[0] = {}): Promise<FakeHub> {
  const started = await startFakeHub(options);
  hubs.push(started);
  return started;
}

afterEach(async () => {
  await fixture.closeAll();
  await Promise.all(hubs.splice(0).map((h) => h.close()));
  for (const server of servers.splice(0)) server.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

describe('manifests', () => {
  it('asks for all four manifest media types plus */*', async () => {
    const fake = await hub();
    const index = fake.addIndex('library/alpine', '3.20', [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ]);
    const { upstream } = fixture.create(fake.url);

    const manifest = await upstream.getManifest('library/alpine', '3.20');
    await upstream.headManifest('library/alpine', index.digest);

    expect(manifest).toMatchObject({ mediaType: MediaType.OciIndex, digest: index.digest });
    const accepts = fake.requests.filter((r) => r.kind === 'manifest').map((r) => r.accept ?? '');
    expect(accepts.length).toBeGreaterThanOrEqual(2);
    for (const accept of accepts) {
      for (const type of [MediaType.OciIndex, MediaType.OciManifest, MediaType.DockerManifestList, MediaType.DockerManifest, '*/*']) {
        expect(accept).toContain(type);
      }
    }
  });

  it('returns the exact bytes, the media type without parameters, and the digest header', async () => {
    const fake = await hub({ auth: 'none' });
    const bytes = Buffer.from('{"schemaVersion":2,  "mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}\n');
    const digest = fake.addManifest('library/odd', 'spaced', bytes, `${MediaType.OciManifest}; charset=utf-8`);
    const { upstream } = fixture.create(fake.url);

    const manifest = await upstream.getManifest('library/odd', 'spaced');

    expect(manifest.bytes.equals(bytes)).toBe(true);
    expect(manifest.mediaType).toBe(MediaType.OciManifest);
    expect(manifest.digest).toBe(digest);
    expect(sha256(manifest.bytes)).toBe(digest);
  });

  it("rejects a manifest larger than maxManifestBytes with 'invalid' (declared length)", async () => {
    const fake = await hub();
    fake.addImage('library/alpine', 'big', { layerCount: 50 });
    const { upstream } = fixture.create(fake.url, { maxManifestBytes: 1024 });

    const error = await expectUpstreamError(upstream.getManifest('library/alpine', 'big'), 'invalid');
    expect(error.message).toContain('1024');
  });

  it("rejects an oversized chunked manifest (no Content-Length) with 'invalid' and stops reading", async () => {
    let written = 0;
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': MediaType.OciManifest }); // chunked: no length announced
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      const timer = setInterval(() => {
        if (res.destroyed || written > 8 * 1024 * 1024) {
          clearInterval(timer);
          res.destroy();
          return;
        }
        written += chunk.length;
        res.write(chunk);
      }, 1);
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { upstream } = fixture.create(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { maxManifestBytes: 64 * 1024 });

    await expectUpstreamError(upstream.getManifest('library/alpine', 'endless'), 'invalid');
    expect(written).toBeLessThan(8 * 1024 * 1024);
  });

  it('reports ratelimit-limit / ratelimit-remaining to the observer', async () => {
    const fake = await hub();
    fake.addImage('library/alpine', '3.20');
    const { upstream, observer } = fixture.create(fake.url);

    await upstream.getManifest('library/alpine', '3.20');
    await upstream.getManifest('library/alpine', '3.20');

    expect(observer.rateLimits.at(-1)).toEqual({ limit: 100, remaining: 98 });
    // Token responses carry no rate-limit headers and report nothing (absence = unlimited).
    expect(observer.rateLimits.every((r) => r.limit === 100)).toBe(true);
  });

  it('reports nothing when the upstream sends no rate-limit headers', async () => {
    const fake = await hub({ rateLimit: null });
    fake.addImage('library/alpine', '3.20');
    const { upstream, observer } = fixture.create(fake.url);

    await upstream.getManifest('library/alpine', '3.20');
    expect(observer.rateLimits).toEqual([]);
    expect(observer.requests.map((r) => r.status)).toEqual([401, 200, 200]);
  });
});

describe('tags', () => {
  it('pages through tags/list with n and the Link header', async () => {
    const fake = await hub();
    const tags = ['1.0', '1.1', '2.0', '2.1', 'latest'];
    const image = fake.addImage('library/alpine', tags[0] as string);
    for (const tag of tags.slice(1)) fake.addManifest('library/alpine', tag, image.bytes, image.mediaType);
    const { upstream } = fixture.create(fake.url);

    const first = await upstream.listTags('library/alpine', { n: 2 });
    const second = await upstream.listTags('library/alpine', { n: 2, last: first.next ?? undefined });
    const third = await upstream.listTags('library/alpine', { n: 2, last: second.next ?? undefined });

    expect(first).toEqual({ tags: ['1.0', '1.1'], next: '1.1' });
    expect(second).toEqual({ tags: ['2.0', '2.1'], next: '2.1' });
    expect(third).toEqual({ tags: ['latest'], next: null });
    expect(fake.requests.filter((r) => r.kind === 'tags' && r.status === 200).map((r) => r.query)).toEqual([
      '?n=2',
      '?n=2&last=1.1',
      '?n=2&last=2.1',
    ]);
  });

  it("answers 'not-found' for the tags of a missing repository", async () => {
    const fake = await hub();
    const { upstream } = fixture.create(fake.url);
    await expectUpstreamError(upstream.listTags('library/nothing'), 'not-found');
  });
});
