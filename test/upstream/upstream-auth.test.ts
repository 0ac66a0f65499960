import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MediaType } from '../../src/oci/media-types.js';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { expectUpstreamError, UpstreamFixture } from './upstream-fixture.js';

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
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

describe('upstream token flow', () => {
  it('fetches an anonymous token after the 401 challenge and pulls the manifest', async () => {
    const fake = await hub({ auth: 'anonymous-token' });
    const image = fake.addImage('library/alpine', '3.20');
    const { upstream } = fixture.create(fake.url);

    const manifest = await upstream.getManifest('library/alpine', '3.20');

    expect(manifest.bytes.equals(image.bytes)).toBe(true);
    expect(manifest.digest).toBe(image.digest);
    const token = fake.requests.filter((r) => r.kind === 'token');
    expect(token).toHaveLength(1);
    expect(token[0]?.authorization).toBe(false);
    expect(token[0]?.status).toBe(200);
    // First attempt is unauthenticated (learns the challenge), the second carries the token.
    expect(fake.requests.filter((r) => r.kind === 'manifest').map((r) => [r.status, r.authorization])).toEqual([
      [401, false],
      [200, true],
    ]);
  });

  it('sends configured credentials to the realm on the upstream host', async () => {
    const fake = await hub({ auth: { username: 'alice', password: 's3cret' } });
    const image = fake.addImage('team/app', 'v1');
    const { upstream } = fixture.create(fake.url, { username: 'alice', password: 's3cret' });

    const manifest = await upstream.getManifest('team/app', 'v1');

    expect(manifest.digest).toBe(image.digest);
    expect(fake.count({ kind: 'token', authorization: true, status: 200 })).toBe(1);
  });

  it("reports 'unauthorized' when the realm rejects the credentials, without leaking the password", async () => {
    const fake = await hub({ auth: { username: 'alice', password: 's3cret' } });
    fake.addImage('team/app', 'v1');
    const { upstream } = fixture.create(fake.url, { username: 'alice', password: 'wrong-password' });

    const error = await expectUpstreamError(upstream.getManifest('team/app', 'v1'), 'unauthorized');

    expect(error.message).not.toContain('wrong-password');
    expect(fake.count({ kind: 'token', status: 401 })).toBe(1);
  });

  it('reuses the cached token: a second request makes no token request', async () => {
    const fake = await hub();
    fake.addImage('library/alpine', '3.20');
    const { upstream } = fixture.create(fake.url);

    await upstream.getManifest('library/alpine', '3.20');
    await upstream.headManifest('library/alpine', '3.20');
    await upstream.listTags('library/alpine');

    expect(fake.count({ kind: 'token' })).toBe(1);
    expect(fake.count({ kind: 'manifest', status: 401 })).toBe(1);
  });

  it('coalesces concurrent token fetches for the same scope', async () => {
    const fake = await hub();
    fake.addImage('library/alpine', '3.20');
    const { upstream } = fixture.create(fake.url);
    await upstream.headManifest('library/alpine', '3.20'); // learn the challenge
    fake.reset();
    const other = fake.addImage('library/busybox', 'latest');

    const results = await Promise.all(Array.from({ length: 5 }, () => upstream.headManifest('library/busybox', 'latest')));

    expect(results.every((r) => r.digest === other.digest)).toBe(true);
    expect(fake.count({ kind: 'token' })).toBe(1);
  });

  it('refreshes the token before expires_in runs out (injected clock)', async () => {
    const fake = await hub({ tokenExpiresIn: 300 });
    fake.addImage('library/alpine', '3.20');
    let now = 1_000_000;
    const { upstream } = fixture.create(fake.url, {}, { now: () => now });

    await upstream.headManifest('library/alpine', '3.20');
    now += 240_000; // 4 of 5 minutes: still usable
    await upstream.headManifest('library/alpine', '3.20');
    expect(fake.count({ kind: 'token' })).toBe(1);

    now += 40_000; // 20 s before expiry: inside the refresh margin
    await upstream.headManifest('library/alpine', '3.20');
    expect(fake.count({ kind: 'token' })).toBe(2);
    expect(fake.count({ kind: 'manifest', status: 401 })).toBe(1); // refreshed proactively, no 401 round
  });

  it('assumes 60 s when the token response has no expires_in', async () => {
    const fake = await hub({ tokenExpiresIn: null });
    fake.addImage('library/alpine', '3.20');
    let now = 0;
    const { upstream } = fixture.create(fake.url, {}, { now: () => now });

    await upstream.headManifest('library/alpine', '3.20');
    now += 30_000;
    await upstream.headManifest('library/alpine', '3.20');
    expect(fake.count({ kind: 'token' })).toBe(1);
    now += 31_000;
    await upstream.headManifest('library/alpine', '3.20');
    expect(fake.count({ kind: 'token' })).toBe(2);
  });

  it("maps Docker Hub's 401 for a missing repository (after a fresh token) to 'not-found'", async () => {
    const fake = await hub();
    fake.addImage('library/alpine', '3.20');
    const { upstream } = fixture.create(fake.url);

    const error = await expectUpstreamError(upstream.getManifest('library/does-not-exist', 'latest'), 'not-found');

    expect(error.options.status).toBe(401);
    expect(fake.count({ kind: 'token', status: 200 })).toBe(1);
  });

  it("maps 404 for an unknown tag of a known repository to 'not-found'", async () => {
    const fake = await hub();
    fake.addImage('library/alpine', '3.20');
    const { upstream } = fixture.create(fake.url);

    const error = await expectUpstreamError(upstream.getManifest('library/alpine', 'nope'), 'not-found');
    expect(error.options.status).toBe(404);
  });

  it('works without any auth', async () => {
    const fake = await hub({ auth: 'none' });
    const image = fake.addImage('library/alpine', '3.20', { format: 'docker' });
    const { upstream } = fixture.create(fake.url);

    const head = await upstream.headManifest('library/alpine', '3.20');

    expect(head).toEqual({ digest: image.digest, mediaType: MediaType.DockerManifest, size: image.bytes.length });
    expect(fake.count({ kind: 'token' })).toBe(0);
    await expectUpstreamError(upstream.getManifest('library/missing', 'latest'), 'not-found');
  });
});

describe('realm policy (credentials only for the upstream domain)', () => {
  it('sends no credentials to a realm on another host, but still asks it for an anonymous token', async () => {
    const seen: Array<{ authorization: boolean; url: string }> = [];
    const hostile = http.createServer((req, res) => {
      seen.push({ authorization: req.headers.authorization !== undefined, url: req.url ?? '' });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token: 'from-hostile-realm', expires_in: 300 }));
    });
    servers.push(hostile);
    // 127.0.0.2 is loopback too, but a different host than the upstream's 127.0.0.1.
    await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.2', resolve));
    const realm = `http://127.0.0.2:${(hostile.address() as AddressInfo).port}/token`;
    const fake = await hub({ auth: { username: 'alice', password: 's3cret' }, realm });
    fake.addImage('team/app', 'v1');
    const { upstream } = fixture.create(fake.url, { username: 'alice', password: 's3cret' });

    // The hub rejects the foreign token as invalid_token: an auth failure, not a missing repository.
    await expectUpstreamError(upstream.getManifest('team/app', 'v1'), 'unauthorized');

    expect(seen).toHaveLength(1);
    expect(seen[0]?.authorization).toBe(false);
    expect(seen[0]?.url).toContain('scope=repository%3Ateam%2Fapp%3Apull');
  });
});
