/**
 * Liveness and readiness probes, black-box over HTTP, and the shutdown order: readiness fails
 * first, in-flight requests drain, then the listeners go away.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Readiness } from '../../src/metrics/readiness.js';
import { sha256 } from '../http/registry-client.js';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { waitFor } from '../support/processes.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';

let hub: FakeHub;

beforeAll(async () => {
  hub = await startFakeHub({ auth: 'anonymous-token', cdn: true });
});
afterAll(() => hub?.close());

const proxyConfig = (): Record<string, unknown> => ({
  hosted: ['team/**'],
  upstreams: { 'docker.io': { url: hub.url } },
  defaultUpstream: 'docker.io',
});

async function probe(url: string, method = 'GET'): Promise<{ status: number; body: string; cacheControl: string | null }> {
  const res = await fetch(url, { method });
  return { status: res.status, body: await res.text(), cacheControl: res.headers.get('cache-control') };
}

describe('probes on a running app', () => {
  let stowage: RunningStowage;
  beforeAll(async () => {
    stowage = await startStowage({ config: proxyConfig() });
  });
  afterAll(() => stowage?.close());

  it('liveness answers 200 on /healthz and its aliases, GET and HEAD', async () => {
    for (const path of ['/healthz', '/health', '/health/live']) {
      const res = await probe(`${stowage.url}${path}`);
      expect(res, path).toEqual({ status: 200, body: '{"status":"ok"}', cacheControl: 'no-store' });
      expect((await probe(`${stowage.url}${path}`, 'HEAD')).status, `HEAD ${path}`).toBe(200);
    }
  });

  it('readiness answers 200 with its checks on /readyz and /health/ready', async () => {
    for (const path of ['/readyz', '/health/ready']) {
      const res = await probe(`${stowage.url}${path}`);
      expect(res.status, path).toBe(200);
      expect(JSON.parse(res.body)).toEqual({ status: 'ready', checks: { storage: 'ok', shutdown: 'no', freeSpace: 'ok' } });
    }
  });

  it('neither probe nor GET /v2/ contacts the upstream, and all stay up while it is down', async () => {
    hub.reset();
    await hub.faults.down('refuse');
    try {
      for (const path of ['/healthz', '/readyz', '/v2/']) expect((await probe(`${stowage.url}${path}`)).status, path).toBe(200);
    } finally {
      await hub.faults.up();
    }
    expect(hub.count()).toBe(0);
  });
});

describe('readiness and storage', () => {
  it('fails readiness, not liveness, when the data directory is unusable', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'stowage-ready-'));
    const stowage = await startStowage({ dataDir, config: proxyConfig() });
    try {
      await rm(dataDir, { recursive: true, force: true }); // before the first readiness check
      const ready = await probe(`${stowage.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.body)).toEqual({ status: 'not ready', checks: { storage: 'ENOENT', shutdown: 'no', freeSpace: 'ok' } });
      expect((await probe(`${stowage.url}/healthz`)).status).toBe(200);
    } finally {
      await stowage.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('writes at most one probe per interval, and notices a change after it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'stowage-ready-'));
    let now = 0;
    const readiness = new Readiness({ probeDir: dir, cacheMs: 5000, now: () => now });
    try {
      const first = await Promise.all(Array.from({ length: 10 }, () => readiness.report()));
      expect(first.every((r) => r.ready && r.checks.storage === 'ok')).toBe(true);
      await rm(dir, { recursive: true });
      now = 4999; // still within the interval: the last result, no disk access
      expect((await readiness.report()).ready).toBe(true);
      now = 5000;
      expect(await readiness.report()).toEqual({ ready: false, checks: { storage: 'ENOENT', shutdown: 'no' } });
      await mkdir(dir);
      expect((await readiness.report()).ready).toBe(false);
      now = 10_000;
      expect((await readiness.report()).ready).toBe(true);
      readiness.beginShutdown();
      expect(await readiness.report()).toEqual({ ready: false, checks: { storage: 'ok', shutdown: 'draining' } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('shutdown', () => {
  it('fails readiness first, lets an in-flight download finish, then stops listening', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'stowage-drain-'));
    const stowage = await startStowage({ dataDir, config: { ...proxyConfig(), metrics: { enabled: true, listen: '127.0.0.1:0' } } });
    const ops = await stowage.app.ops!.server.listen(stowage.app.ops!.address);
    const agent = new Agent();
    try {
      const image = hub.addImage('library/slow', 'latest', { layerCount: 1, layerSize: 500_000 });
      const layer = image.layers[0]!;
      hub.reset();
      hub.faults.delay('cdn', 1500, { times: 1 });
      const download = undiciFetch(`${stowage.url}/v2/library/slow/blobs/${layer.digest}`, { dispatcher: agent }).then(async (res) => ({
        status: res.status,
        digest: sha256(new Uint8Array(await res.arrayBuffer())),
      }));
      await waitFor(() => hub.count({ kind: 'cdn' }) === 1, { timeoutMs: 5000, intervalMs: 10, description: 'the download to reach the CDN' });

      // What main.ts does on SIGTERM: readiness first, then close the server and drain.
      stowage.app.readiness.beginShutdown();
      for (const base of [stowage.url, ops]) {
        const ready = await probe(`${base}/readyz`);
        expect(ready.status, base).toBe(503);
        expect(JSON.parse(ready.body)).toEqual({ status: 'not ready', checks: { storage: 'ok', shutdown: 'draining', freeSpace: 'ok' } });
        expect((await probe(`${base}/healthz`)).status, base).toBe(200);
      }
      const closing = stowage.app.server.close();
      // The main port takes no new connections; the ops port keeps answering probes while we drain.
      await expect(fetch(`${stowage.url}/v2/`)).rejects.toThrow();
      expect((await probe(`${ops}/readyz`)).status).toBe(503);
      expect(await download).toEqual({ status: 200, digest: layer.digest });
      // The drained connection is idle keep-alive now; Node's close() waits for idle connections
      // that were busy when it was called, so the client hangs up (main.ts's drain deadline would).
      await agent.close();
      await closing;
    } finally {
      if (!agent.closed) await agent.destroy();
      await stowage.close();
      await rm(dataDir, { recursive: true, force: true });
    }
    await expect(fetch(`${ops}/healthz`)).rejects.toThrow();
  });
});
