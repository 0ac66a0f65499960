import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { MockAgent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { digestOf } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/media-types.js';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { expectUpstreamError, readAll, UpstreamFixture } from './upstream-fixture.js';

const fixture = new UpstreamFixture();
const hubs: FakeHub[] = [];
const servers: http.Server[] = [];
const agents: MockAgent[] = [];

async function serve(handler: http.RequestListener, host = '127.0.0.1'): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return `http://${host}:${(server.address() as AddressInfo).port}`;
}

function mockAgent(): MockAgent {
  const agent = new MockAgent();
  agent.disableNetConnect();
  agents.push(agent);
  return agent;
}

afterEach(async () => {
  await fixture.closeAll();
  await Promise.all(hubs.splice(0).map((h) => h.close()));
  for (const server of servers) server.closeAllConnections();
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  await Promise.all(agents.splice(0).map((a) => a.close()));
});

const BLOB = randomBytes(2048);
const BLOB_DIGEST = digestOf(BLOB);

describe('redirects', () => {
  it('follows a registry-API redirect to another registry with a fresh token handshake there', async () => {
    const backend = await startFakeHub({ auth: 'anonymous-token' });
    hubs.push(backend);
    const image = backend.addImage('pause', '3.10');
    // The front registry (another host: 127.0.0.2) wants credentials, then sends manifests to `backend`.
    const front = await startFakeHub({ auth: { username: 'alice', password: 's3cret' }, host: '127.0.0.2', redirectManifestsTo: backend.url });
    hubs.push(front);
    front.addImage('pause', '3.10');
    const { upstream } = fixture.create(front.url, { username: 'alice', password: 's3cret' });

    const manifest = await upstream.getManifest('pause', '3.10');

    expect(manifest.digest).toBe(image.digest);
    expect(front.count({ kind: 'token', authorization: true, status: 200 })).toBe(1);
    expect(front.count({ kind: 'manifest', status: 307 })).toBe(1);
    // The backend saw no Authorization from the front's origin, challenged, and issued its own token —
    // anonymously, since its realm is not on the configured upstream's host.
    expect(backend.requests.map((r) => [r.kind, r.status, r.authorization])).toEqual([
      ['manifest', 401, false],
      ['token', 200, false],
      ['manifest', 200, true],
    ]);
  });

  it('follows up to 10 redirects and refuses the 11th', async () => {
    let requests = 0;
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: {}, layers: [] }));
    const hopsBeforeAnswer = { value: 10 };
    const base = await serve((req, res) => {
      requests++;
      const hop = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('hop') ?? '0');
      if (hop < hopsBeforeAnswer.value) {
        res.writeHead(302, { location: `/v2/library/alpine/manifests/latest?hop=${hop + 1}` });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': MediaType.OciManifest, 'content-length': String(manifest.length) });
      res.end(manifest);
    });
    const { upstream } = fixture.create(base);

    await expect(upstream.getManifest('library/alpine', 'latest')).resolves.toMatchObject({ mediaType: MediaType.OciManifest });
    expect(requests).toBe(11);

    requests = 0;
    hopsBeforeAnswer.value = 11;
    const error = await expectUpstreamError(upstream.getManifest('library/alpine', 'latest'), 'invalid');
    expect(error.message).toContain('redirects');
    expect(requests).toBe(11);
  });

  it('refuses an https → http downgrade', async () => {
    const agent = mockAgent();
    agent
      .get('https://registry.example.com')
      .intercept({ path: `/v2/library/alpine/blobs/${BLOB_DIGEST}`, method: 'GET' })
      .reply(307, '', { headers: { location: `http://cdn.example.net/blob?sig=secret-signature` } });
    const { upstream } = fixture.create('https://registry.example.com', {}, { dispatcher: agent });

    const error = await expectUpstreamError(upstream.getBlob('library/alpine', BLOB_DIGEST), 'invalid');

    expect(error.message).toContain('https down to http');
    expect(error.message).not.toContain('secret-signature');
  });

  it('refuses a redirect from a public upstream to a private or loopback address', async () => {
    const agent = mockAgent();
    const pool = agent.get('https://registry.example.com');
    pool.intercept({ path: `/v2/library/alpine/blobs/${BLOB_DIGEST}`, method: 'GET' }).reply(307, '', { headers: { location: 'https://10.1.2.3/blob' } });
    pool.intercept({ path: `/v2/library/alpine/blobs/${BLOB_DIGEST}`, method: 'GET' }).reply(307, '', { headers: { location: 'https://[::1]/blob' } });
    const { upstream } = fixture.create('https://registry.example.com', {}, { dispatcher: agent });

    await expectUpstreamError(upstream.getBlob('library/alpine', BLOB_DIGEST), 'invalid');
    await expectUpstreamError(upstream.getBlob('library/alpine', BLOB_DIGEST), 'invalid');
  });

  it('refuses a token realm on a private address named by a public upstream (no request is sent there)', async () => {
    const agent = mockAgent();
    agent
      .get('https://registry.example.com')
      .intercept({ path: '/v2/library/alpine/manifests/latest', method: 'GET' })
      .reply(401, '', { headers: { 'www-authenticate': 'Bearer realm="http://169.254.169.254/latest/meta-data",service="x"' } });
    const { upstream, observer } = fixture.create('https://registry.example.com', {}, { dispatcher: agent });

    const error = await expectUpstreamError(upstream.getManifest('library/alpine', 'latest'), 'invalid');

    expect(error.message).toContain('169.254.169.254');
    expect(observer.requests).toHaveLength(1);
  });

  it('follows a blob redirect to a CDN on another public host, without Authorization', async () => {
    const agent = mockAgent();
    const registry = agent.get('https://registry.example.com');
    registry
      .intercept({ path: `/v2/library/alpine/blobs/${BLOB_DIGEST}`, method: 'GET' })
      .reply(401, '', { headers: { 'www-authenticate': 'Bearer realm="https://auth.example.com/token",service="registry.example.com"' } });
    agent
      .get('https://auth.example.com')
      .intercept({ path: (path) => path.startsWith('/token?'), method: 'GET' })
      .reply(200, { token: 'tkn', expires_in: 300 });
    registry
      .intercept({ path: `/v2/library/alpine/blobs/${BLOB_DIGEST}`, method: 'GET', headers: { authorization: 'Bearer tkn' } })
      .reply(307, '', { headers: { location: 'https://cdn.example.net/blob?sig=abc' } });
    agent
      .get('https://cdn.example.net')
      .intercept({ path: '/blob?sig=abc', method: 'GET', headers: (headers) => !('authorization' in headers) })
      .reply(200, BLOB, { headers: { 'content-length': String(BLOB.length) } });
    const { upstream } = fixture.create('https://registry.example.com', {}, { dispatcher: agent });

    const blob = await upstream.getBlob('library/alpine', BLOB_DIGEST);

    expect((await readAll(blob.body)).equals(BLOB)).toBe(true);
    agent.assertNoPendingInterceptors();
  });

  it("fails the stream with 'invalid' when a resume's Content-Range starts elsewhere", async () => {
    const bytes = randomBytes(100_000);
    const digest = digestOf(bytes);
    let calls = 0;
    const base = await serve((req, res) => {
      calls++;
      if (calls === 1) {
        res.writeHead(200, { 'content-length': String(bytes.length) });
        res.write(bytes.subarray(0, 10_000), () => setTimeout(() => res.destroy(), 10));
        return;
      }
      // Asked for `bytes=10000-`, answers from byte 5000.
      res.writeHead(206, { 'content-range': `bytes 5000-99999/${bytes.length}`, 'content-length': String(95_000) });
      res.end(bytes.subarray(5000));
    });
    const { upstream } = fixture.create(base);

    const blob = await upstream.getBlob('library/alpine', digest);
    await expect(readAll(blob.body)).rejects.toMatchObject({ kind: 'invalid' });
    expect(calls).toBe(2);
  });
});
