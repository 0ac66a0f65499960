/**
 * The /metrics endpoint itself: exposition format (checked by promtool), per-app registries,
 * `metrics.enabled: false`, and the separate listener from `metrics.listen`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseListenAddress } from '../../src/http/metrics-routes.js';
import { RegistryClient } from '../http/registry-client.js';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { requireTool, runChecked } from '../support/processes.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { parseExposition, scrape } from './exposition.js';

const ACCEPT = 'application/vnd.oci.image.manifest.v1+json';

let hub: FakeHub;
let a: RunningStowage;
let b: RunningStowage;

beforeAll(async () => {
  hub = await startFakeHub({ auth: 'anonymous-token', cdn: true });
  const config = { hosted: ['team/**'], upstreams: { 'docker.io': { url: hub.url } }, defaultUpstream: 'docker.io' };
  [a, b] = await Promise.all([startStowage({ config }), startStowage({ config })]);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await hub?.close();
});

async function pullImage(stowage: RunningStowage, repository: string): Promise<void> {
  const image = hub.addImage(repository, 'latest', { layerCount: 2, layerSize: 20_000 });
  const manifest = await fetch(`${stowage.url}/v2/${repository}/manifests/latest`, { headers: { accept: ACCEPT } });
  expect(manifest.status).toBe(200);
  await manifest.arrayBuffer();
  for (const layer of [image.config, ...image.layers]) {
    for (let i = 0; i < 2; i++) {
      const blob = await fetch(`${stowage.url}/v2/${repository}/blobs/${layer.digest}`);
      expect(blob.status).toBe(200);
      await blob.arrayBuffer();
    }
  }
}

describe('GET /metrics', () => {
  it('answers in the Prometheus text format, uncached', async () => {
    const res = await fetch(`${a.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const m = parseExposition(await res.text());
    expect(m.types.get('stowage_cache_requests_total')).toBe('counter');
    expect(m.types.get('stowage_upstream_request_duration_seconds')).toBe('histogram');
    expect(m.types.get('stowage_http_request_duration_seconds')).toBe('histogram');
    expect(m.types.get('stowage_fills_in_progress')).toBe('gauge');
  });

  it('keeps each app in its own registry: traffic to one never shows in the other', async () => {
    await pullImage(a, 'library/isolated');
    const [ma, mb] = await Promise.all([scrape(a.url), scrape(b.url)]);
    expect(ma.value('stowage_cache_requests_total', { upstream: 'docker.io', kind: 'blob', result: 'miss' })).toBe(3);
    expect(ma.value('stowage_cache_requests_total', { upstream: 'docker.io', kind: 'blob', result: 'hit' })).toBe(3);
    expect(mb.sum('stowage_cache_requests_total')).toBe(0);
    expect(mb.sum('stowage_upstream_requests_total')).toBe(0);
    // Both carry the (shared, process-wide) Node metrics.
    expect(mb.value('process_start_time_seconds')).toBe(ma.value('process_start_time_seconds'));
  });

  it.skipIf(!requireTool('promtool'))('passes `promtool check metrics` after real traffic', async () => {
    await pullImage(b, 'library/linted');
    const client = new RegistryClient(b.url);
    try {
      await client.pushImage('team/linted', 'v1', { seed: 'promtool' });
    } finally {
      await client.close();
    }
    await (await fetch(`${b.url}/v2/team/linted/manifests/nope`)).arrayBuffer();
    await (await fetch(`${b.url}/healthz`)).arrayBuffer();
    const text = await (await fetch(`${b.url}/metrics`)).text();
    expect(parseExposition(text).sum('stowage_hosted_pushes_total')).toBe(3);
    const result = await runChecked('promtool', ['check', 'metrics'], { input: text, timeoutMs: 20_000 });
    // promtool prints nothing for a clean exposition; any line is a lint problem.
    expect(`${result.stdout}${result.stderr}`.trim()).toBe('');
  });
});

describe('metrics.enabled: false', () => {
  it('serves no /metrics but keeps the health endpoints', async () => {
    const off = await startStowage({ config: { metrics: { enabled: false, listen: null } } });
    try {
      expect(off.app.metrics).toBeNull();
      const res = await fetch(`${off.url}/metrics`);
      expect(res.status).toBe(404);
      await res.arrayBuffer();
      expect((await fetch(`${off.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${off.url}/readyz`)).status).toBe(200);
    } finally {
      await off.close();
    }
  });
});

describe('metrics.listen', () => {
  it('serves /metrics and the probes on a separate listener too, and closes it with the app', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'stowage-ops-'));
    const ops = await startStowage({ dataDir, config: { metrics: { enabled: true, listen: '127.0.0.1:0' } } });
    try {
      expect(ops.app.ops).not.toBeNull();
      expect(ops.app.ops!.address).toEqual({ host: '127.0.0.1', port: 0 });
      const url = await ops.app.ops!.server.listen(ops.app.ops!.address);
      await (await fetch(`${ops.url}/v2/`)).arrayBuffer();
      const m = await scrape(url);
      expect(m.value('stowage_http_request_duration_seconds_count', { route: 'base', method: 'GET', status_class: '2xx' })).toBe(1);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      // Only operational routes: the registry API is not on this port.
      expect((await fetch(`${url}/v2/`)).status).toBe(404);
      // Still on the main port as well.
      expect((await fetch(`${ops.url}/metrics`)).status).toBe(200);
    } finally {
      await ops.close();
      await rm(dataDir, { recursive: true, force: true });
    }
    expect(ops.app.ops!.server.server.listening).toBe(false);
  });

  it('parses HOST:PORT, [IPv6]:PORT, :PORT and PORT, and rejects anything else', () => {
    expect(parseListenAddress('127.0.0.1:9091')).toEqual({ host: '127.0.0.1', port: 9091 });
    expect(parseListenAddress('[::1]:9091')).toEqual({ host: '::1', port: 9091 });
    expect(parseListenAddress(':9091')).toEqual({ host: '0.0.0.0', port: 9091 });
    expect(parseListenAddress('9091')).toEqual({ host: '0.0.0.0', port: 9091 });
    expect(parseListenAddress('metrics.internal:9091')).toEqual({ host: 'metrics.internal', port: 9091 });
    for (const bad of ['', '127.0.0.1', '127.0.0.1:', '127.0.0.1:99999', '::1:9091', 'host:port', 'http://127.0.0.1:9091']) {
      expect(() => parseListenAddress(bad), bad).toThrow(/metrics\.listen/);
    }
  });

  it('fails at startup on a malformed address', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'stowage-ops-'));
    try {
      await expect(startStowage({ dataDir, config: { metrics: { enabled: true, listen: 'localhost' } } })).rejects.toThrow(/metrics\.listen/);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
