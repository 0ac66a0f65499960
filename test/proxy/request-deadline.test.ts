/**
 * `upstreams.<name>.requestDeadline` bounds the time to an upstream's response headers for a client
 * request — token rounds, redirects and retries included. An upstream that accepts connections and
 * never answers gets the client a 504 UPSTREAM_TIMEOUT after the deadline (before: retries × 30 s
 * header timeouts, 92 s), or the cached answer when there is one. Once a body streams, bodyTimeout
 * governs: a slow body that outlives the deadline still arrives whole.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCEPT_ALL_MANIFESTS } from '../support/digests.js';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { bytesOf, expectOciError, RegistryClient, sha256 } from '../http/registry-client.js';
import { startControlledUpstream, type ControlledUpstream } from './support/controlled-upstream.js';
import { TestClock, within } from './support/proxy-helpers.js';

const DEADLINE_MS = 400;
/** Generous: the CPU is shared with other test runs. What matters is far below 30 s. */
const ANSWER_WITHIN_MS = 5_000;

/** A TCP server that accepts every connection and never sends a byte. */
async function startHungUpstream(): Promise<{ url: string; connections: () => number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => accepted,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The request, its status and how long the answer took. */
async function timed(client: RegistryClient, path: string, init: Parameters<RegistryClient['fetch']>[1] = {}): Promise<{ res: Awaited<ReturnType<RegistryClient['fetch']>>; ms: number }> {
  const started = performance.now();
  const res = await within(client.fetch(path, init), ANSWER_WITHIN_MS, `an answer to ${init.method ?? 'GET'} ${path}`);
  return { res, ms: performance.now() - started };
}

describe('an upstream that accepts connections and never answers', () => {
  let hung: Awaited<ReturnType<typeof startHungUpstream>>;
  let stowage: RunningStowage;
  let client: RegistryClient;

  beforeAll(async () => {
    hung = await startHungUpstream();
    // headersTimeout and retries at their defaults (30 s, 2): only the deadline can end the wait.
    stowage = await startStowage({ config: { hosted: ['team/**'], upstreams: { 'hung.test': { url: hung.url, requestDeadline: `${DEADLINE_MS}ms` } }, defaultUpstream: 'hung.test' } });
    client = new RegistryClient(stowage.url);
  });
  afterAll(async () => {
    await client.close();
    await stowage.close();
    await hung.close();
  });

  it.each([
    ['a cold manifest', '/v2/library/app/manifests/latest'],
    ['a cold blob', `/v2/library/app/blobs/${sha256('never')}`],
    ['a tag list', '/v2/library/app/tags/list'],
    ['referrers', `/v2/library/app/referrers/${sha256('subject')}`],
  ])('%s is 504 UPSTREAM_TIMEOUT once the deadline passed', async (_, path) => {
    const { res, ms } = await timed(client, path, { headers: { Accept: ACCEPT_ALL_MANIFESTS } });
    const error = await expectOciError(res, 504, 'UPSTREAM_TIMEOUT');
    expect(JSON.stringify(error.detail)).toMatch(/request deadline/);
    expect(ms).toBeGreaterThanOrEqual(DEADLINE_MS * 0.9);
  });

  it('a HEAD is 504 with no body', async () => {
    const { res } = await timed(client, `/v2/library/app/blobs/${sha256('never')}`, { method: 'HEAD' });
    expect(res.status).toBe(504);
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });

  it('the deadline holds for concurrent clients waiting on one upstream request', async () => {
    const all = await Promise.all(Array.from({ length: 5 }, () => timed(client, '/v2/library/other/manifests/v1', { headers: { Accept: ACCEPT_ALL_MANIFESTS } })));
    for (const { res } of all) await expectOciError(res, 504, 'UPSTREAM_TIMEOUT');
  });
});

describe('a Docker-Hub-like upstream that stops answering', () => {
  let hub: FakeHub;
  let stowage: RunningStowage;
  let client: RegistryClient;
  const clock = new TestClock();

  beforeAll(async () => {
    hub = await startFakeHub({ auth: 'anonymous-token' });
    stowage = await startStowage({
      config: {
        hosted: ['team/**'],
        upstreams: { 'docker.io': { url: hub.url, requestDeadline: `${DEADLINE_MS}ms`, tagTtl: '1m', revalidateBudget: '10s' } },
        defaultUpstream: 'docker.io',
      },
      app: { now: clock.now },
    });
    client = new RegistryClient(stowage.url);
  });
  afterAll(async () => {
    await client.close();
    await stowage.close();
    await hub.close();
  });

  it('a token endpoint that hangs counts against the deadline too', async () => {
    hub.addImage('library/tokens', 'v1');
    hub.faults.stall('token', { times: Infinity });
    try {
      const { res } = await timed(client, '/v2/library/tokens/manifests/v1', { headers: { Accept: ACCEPT_ALL_MANIFESTS } });
      await expectOciError(res, 504, 'UPSTREAM_TIMEOUT');
    } finally {
      hub.reset();
    }
  });

  it('a cached tag past its TTL is served stale when the revalidation runs out of time', async () => {
    const image = hub.addImage('library/cached', 'v1');
    const first = await client.fetch('/v2/library/cached/manifests/v1', { headers: { Accept: ACCEPT_ALL_MANIFESTS } });
    expect(first.status).toBe(200);
    await first.arrayBuffer();
    clock.advance(61_000);
    hub.faults.stall('manifest', { times: Infinity });
    try {
      const { res } = await timed(client, '/v2/library/cached/manifests/v1', { headers: { Accept: ACCEPT_ALL_MANIFESTS } });
      expect(res.status).toBe(200);
      expect(res.headers.get('warning')).toMatch(/^299 /);
      expect(Buffer.from(await res.arrayBuffer()).equals(image.bytes)).toBe(true);
    } finally {
      hub.reset();
    }
  });
});

describe('once the body streams', () => {
  let upstream: ControlledUpstream;
  let stowage: RunningStowage;
  let client: RegistryClient;

  beforeAll(async () => {
    upstream = await startControlledUpstream();
    stowage = await startStowage({
      config: { hosted: ['team/**'], upstreams: { 'slow.test': { url: upstream.url, requestDeadline: `${DEADLINE_MS}ms` } }, defaultUpstream: 'slow.test' },
    });
    client = new RegistryClient(stowage.url);
  });
  afterAll(async () => {
    await client.close();
    await stowage.close();
    await upstream.close();
  });

  it('bodyTimeout governs, not the deadline: a body paused for longer than the deadline arrives whole', async () => {
    const bytes = bytesOf('deadline/slow-body', 256 * 1024);
    const blob = upstream.addBlob('library/slow', bytes, { holdAfter: 64 * 1024 });
    const response = client.fetch(`/v2/library/slow/blobs/${blob.digest}`);
    await blob.held;
    await new Promise((resolve) => setTimeout(resolve, DEADLINE_MS * 2));
    blob.release();
    const res = await response;
    expect(res.status).toBe(200);
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(blob.digest);
  });
});
