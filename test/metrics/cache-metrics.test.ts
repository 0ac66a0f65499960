/**
 * Black-box: real pulls and pushes against Stowage (fake Docker-Hub-like upstreams), then exact
 * values read back from GET /metrics.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient, sha256 } from '../http/registry-client.js';
import { ACCEPT_ALL_MANIFESTS } from '../support/digests.js';
import { startFakeHub, type FakeHub, type HubRequest } from '../support/fake-hub.js';
import { waitFor } from '../support/processes.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { scrape, type Exposition } from './exposition.js';

const ACCEPT = ACCEPT_ALL_MANIFESTS;

const UPSTREAMS = ['docker.io', 'ghcr.io'];
const KINDS = ['manifest', 'blob'];
const RESULTS = ['hit', 'miss', 'stale', 'coalesced', 'negative'];

let hub: FakeHub;
let ghcr: FakeHub;
let stowage: RunningStowage;
let client: RegistryClient;
let clock = Date.now();
let dataDir: string;

beforeAll(async () => {
  hub = await startFakeHub({ auth: 'anonymous-token', cdn: true, rateLimit: { limit: 50, windowSeconds: 3600 } });
  ghcr = await startFakeHub({ auth: 'none', rateLimit: null });
  // `storage` replaces startStowage's whole storage section, so it names the data directory too.
  dataDir = await mkdtemp(join(tmpdir(), 'stowage-metrics-'));
  stowage = await startStowage({
    dataDir,
    config: {
      hosted: ['team/**'],
      storage: { path: dataDir, maxSize: '3GiB' },
      upstreams: {
        'docker.io': { url: hub.url, tagTtl: '1m', notFoundTtl: '1h' },
        'ghcr.io': { url: ghcr.url },
      },
      defaultUpstream: 'docker.io',
    },
    app: { now: () => clock },
  });
  client = new RegistryClient(stowage.url);
});
afterAll(async () => {
  await client?.close();
  await stowage?.close();
  await hub?.close();
  await ghcr?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const cache = (m: Exposition, upstream: string, kind: string, result: string): number | undefined =>
  m.value('stowage_cache_requests_total', { upstream, kind, result });

/** Metric deltas between two scrapes, for exact assertions independent of earlier tests. */
function delta(before: Exposition, after: Exposition, name: string, labels: Record<string, string>): number {
  return (after.value(name, labels) ?? NaN) - (before.value(name, labels) ?? NaN);
}

async function getManifest(path: string): Promise<Response> {
  const res = await fetch(`${stowage.url}/v2/${path}`, { headers: { accept: ACCEPT } });
  await res.arrayBuffer();
  return res;
}

async function getBlob(repo: string, digest: string): Promise<Buffer> {
  const res = await client.fetch(`/v2/${repo}/blobs/${digest}`);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

/** Waits until a scrape satisfies `check` (served bytes are counted when the response finished). */
async function scrapeUntil(check: (m: Exposition) => boolean, description: string): Promise<Exposition> {
  let last: Exposition | undefined;
  await waitFor(async () => check((last = await scrape(stowage.url))), { timeoutMs: 5000, intervalMs: 20, description });
  return last!;
}

describe('a fresh app', () => {
  it('exposes every label set at 0 before any traffic', async () => {
    const m = await scrape(stowage.url);
    for (const upstream of UPSTREAMS) {
      for (const kind of KINDS) {
        for (const result of RESULTS) expect(cache(m, upstream, kind, result), `${upstream} ${kind} ${result}`).toBe(0);
        expect(m.value('stowage_digest_mismatches_total', { upstream, kind })).toBe(0);
      }
      for (const method of ['GET', 'HEAD']) {
        for (const status_class of ['2xx', '3xx', '4xx', '5xx', 'error']) {
          expect(m.value('stowage_upstream_requests_total', { upstream, method, status_class })).toBe(0);
        }
        expect(m.value('stowage_upstream_request_duration_seconds_count', { upstream, method })).toBe(0);
        expect(m.value('stowage_upstream_request_duration_seconds_bucket', { upstream, method, le: '+Inf' })).toBe(0);
      }
      for (const name of ['stowage_upstream_downloaded_bytes_total', 'stowage_upstream_retries_total', 'stowage_upstream_resumes_total']) {
        expect(m.value(name, { upstream }), name).toBe(0);
      }
    }
    for (const source of ['cache', 'upstream']) expect(m.value('stowage_served_bytes_total', { source })).toBe(0);
    for (const kind of KINDS) {
      expect(m.value('stowage_hosted_pushes_total', { kind })).toBe(0);
      expect(m.value('stowage_hosted_pushed_bytes_total', { kind })).toBe(0);
    }
    for (const name of ['stowage_fills_in_progress', 'stowage_fill_readers', 'stowage_evictions_total', 'stowage_evicted_bytes_total']) {
      expect(m.value(name), name).toBe(0);
    }
    expect(m.value('stowage_cache_budget_bytes')).toBe(3 * 1024 ** 3);
    expect(m.value('stowage_cache_size_bytes')).toBeGreaterThanOrEqual(0);
    expect(m.value('stowage_cache_objects')).toBeGreaterThanOrEqual(0);
    for (const [route, method] of [['manifest', 'GET'], ['blob', 'GET'], ['blob', 'HEAD'], ['uploads', 'POST'], ['upload', 'PATCH'], ['base', 'GET']]) {
      for (const status_class of ['2xx', '4xx', '5xx']) {
        expect(m.value('stowage_http_request_duration_seconds_count', { route: route!, method: method!, status_class })).toBe(0);
      }
      expect(m.value('stowage_http_responses_aborted_total', { route: route! })).toBe(0);
    }
    // Unknown until an upstream sends pull-limit headers: absent rather than a misleading 0.
    expect(m.find('stowage_upstream_ratelimit_remaining')).toEqual([]);
    // Node/process metrics from prom-client, in the app's own registry.
    expect(m.types.get('process_cpu_seconds_total')).toBe('counter');
    expect(m.types.get('nodejs_heap_size_used_bytes')).toBe('gauge');
  });
});

describe('pull-through outcomes', () => {
  it('counts a cold pull as misses and a warm pull as hits, with bytes by source and upstream requests by status class', async () => {
    const image = hub.addImage('library/alpine', '3.20', { layerCount: 2, layerSize: 100_000 });
    const layerBytes = image.layers.reduce((n, l) => n + l.bytes.length, 0);
    hub.reset();
    const before = await scrape(stowage.url);

    expect((await getManifest('alpine/manifests/3.20')).status).toBe(200);
    for (const layer of image.layers) expect(sha256(await getBlob('library/alpine', layer.digest))).toBe(layer.digest);
    const cold = await scrapeUntil((m) => delta(before, m, 'stowage_served_bytes_total', { source: 'upstream' }) === layerBytes, 'upstream bytes');
    expect(delta(before, cold, 'stowage_cache_requests_total', { upstream: 'docker.io', kind: 'manifest', result: 'miss' })).toBe(1);
    expect(delta(before, cold, 'stowage_cache_requests_total', { upstream: 'docker.io', kind: 'blob', result: 'miss' })).toBe(2);
    expect(delta(before, cold, 'stowage_cache_requests_total', { upstream: 'docker.io', kind: 'blob', result: 'hit' })).toBe(0);
    expect(delta(before, cold, 'stowage_upstream_downloaded_bytes_total', { upstream: 'docker.io' })).toBe(layerBytes);
    expect(delta(before, cold, 'stowage_served_bytes_total', { source: 'cache' })).toBe(0);
    expect(cold.value('stowage_fills_in_progress')).toBe(0);
    expect(cold.value('stowage_fill_readers')).toBe(0);

    // Every upstream exchange the hub saw (401 challenge, token, manifest, 307 to the CDN, CDN GET),
    // by method and status class, and nothing more.
    const expected = new Map<string, number>();
    for (const r of hub.requests as HubRequest[]) {
      const key = `${r.method} ${r.status === 0 ? 'error' : `${Math.trunc(r.status / 100)}xx`}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    expect(expected.get('GET 3xx')).toBe(2); // blob redirects to the CDN
    for (const method of ['GET', 'HEAD']) {
      for (const status_class of ['2xx', '3xx', '4xx', '5xx', 'error']) {
        const labels = { upstream: 'docker.io', method, status_class };
        expect(delta(before, cold, 'stowage_upstream_requests_total', labels), `${method} ${status_class}`).toBe(expected.get(`${method} ${status_class}`) ?? 0);
      }
      const attempts = [...expected].filter(([key]) => key.startsWith(`${method} `)).reduce((n, [, count]) => n + count, 0);
      expect(delta(before, cold, 'stowage_upstream_request_duration_seconds_count', { upstream: 'docker.io', method })).toBe(attempts);
    }
    // Pull-limit headers of the manifest GET (the hub counts it before answering).
    expect(cold.value('stowage_upstream_ratelimit_limit', { upstream: 'docker.io' })).toBe(50);
    expect(cold.value('stowage_upstream_ratelimit_remaining', { upstream: 'docker.io' })).toBe(49);
    expect(cold.find('stowage_upstream_ratelimit_limit', { upstream: 'ghcr.io' })).toEqual([]);

    hub.reset();
    expect((await getManifest('library/alpine/manifests/3.20')).status).toBe(200);
    for (const layer of image.layers) await getBlob('alpine', layer.digest);
    const warm = await scrapeUntil((m) => delta(cold, m, 'stowage_served_bytes_total', { source: 'cache' }) === layerBytes, 'cache bytes');
    expect(hub.count()).toBe(0);
    expect(delta(cold, warm, 'stowage_cache_requests_total', { upstream: 'docker.io', kind: 'manifest', result: 'hit' })).toBe(1);
    expect(delta(cold, warm, 'stowage_cache_requests_total', { upstream: 'docker.io', kind: 'blob', result: 'hit' })).toBe(2);
    expect(delta(cold, warm, 'stowage_served_bytes_total', { source: 'upstream' })).toBe(0);
    expect(delta(cold, warm, 'stowage_upstream_downloaded_bytes_total', { upstream: 'docker.io' })).toBe(0);
    expect(delta(cold, warm, 'stowage_upstream_requests_total', { upstream: 'docker.io', method: 'GET', status_class: '2xx' })).toBe(0);
    // Nothing was counted against the other upstream.
    for (const kind of KINDS) for (const result of RESULTS) expect(cache(warm, 'ghcr.io', kind, result)).toBe(0);
  });

  it('counts concurrent cold requests for one blob as one miss and the rest coalesced', async () => {
    const image = hub.addImage('library/busybox', 'latest', { layerCount: 1, layerSize: 300_000 });
    const layer = image.layers[0]!;
    hub.reset();
    hub.faults.delay('cdn', 400, { times: 1 });
    const before = await scrape(stowage.url);
    const pulls = Promise.all(Array.from({ length: 5 }, () => getBlob('library/busybox', layer.digest)));
    // While the CDN holds the download back, the fill is in progress.
    const during = await scrapeUntil((m) => m.value('stowage_fills_in_progress') === 1, 'a fill in progress');
    expect(during.value('stowage_fills_in_progress')).toBe(1);
    for (const body of await pulls) expect(sha256(body)).toBe(layer.digest);
    expect(hub.count({ kind: 'cdn' })).toBe(1);
    const after = await scrapeUntil(
      (m) => delta(before, m, 'stowage_served_bytes_total', { source: 'upstream' }) === 5 * layer.bytes.length,
      'bytes of 5 responses',
    );
    expect(delta(before, after, 'stowage_cache_requests_total', { upstream: 'docker.io', kind: 'blob', result: 'miss' })).toBe(1);
    expect(delta(before, after, 'stowage_cache_requests_total', { upstream: 'docker.io', kind: 'blob', result: 'coalesced' })).toBe(4);
    expect(delta(before, after, 'stowage_upstream_downloaded_bytes_total', { upstream: 'docker.io' })).toBe(layer.bytes.length);
    expect(after.value('stowage_fills_in_progress')).toBe(0);
    expect(after.value('stowage_fill_readers')).toBe(0);
  });

  it('counts a second request for a missing tag as negative', async () => {
    hub.addImage('library/redis', '7', { layerCount: 1, layerSize: 1000 });
    const before = await scrape(stowage.url);
    expect((await getManifest('library/redis/manifests/does-not-exist')).status).toBe(404);
    hub.reset();
    expect((await getManifest('library/redis/manifests/does-not-exist')).status).toBe(404);
    expect(hub.count()).toBe(0);
    const after = await scrape(stowage.url);
    expect(delta(before, after, 'stowage_cache_requests_total', { upstream: 'docker.io', kind: 'manifest', result: 'miss' })).toBe(1);
    expect(delta(before, after, 'stowage_cache_requests_total', { upstream: 'docker.io', kind: 'manifest', result: 'negative' })).toBe(1);
    expect(delta(before, after, 'stowage_http_request_duration_seconds_count', { route: 'manifest', method: 'GET', status_class: '4xx' })).toBe(2);
  });

  it('counts a tag served after its TTL while the upstream is down as stale', async () => {
    hub.addImage('library/nginx', '1.27', { layerCount: 1, layerSize: 1000 });
    expect((await getManifest('library/nginx/manifests/1.27')).status).toBe(200);
    const before = await scrape(stowage.url);
    clock += 2 * 60_000; // past tagTtl (1m): the next request revalidates upstream
    await hub.faults.down('refuse');
    try {
      const res = await getManifest('library/nginx/manifests/1.27');
      expect(res.status).toBe(200);
      expect(res.headers.get('warning')).toMatch(/^299 - "/);
    } finally {
      await hub.faults.up();
    }
    const after = await scrape(stowage.url);
    expect(delta(before, after, 'stowage_cache_requests_total', { upstream: 'docker.io', kind: 'manifest', result: 'stale' })).toBe(1);
    expect(delta(before, after, 'stowage_cache_requests_total', { upstream: 'docker.io', kind: 'manifest', result: 'hit' })).toBe(0);
    // The revalidation HEAD never got an answer: its attempts (first try and retries) are errors.
    const errors = delta(before, after, 'stowage_upstream_requests_total', { upstream: 'docker.io', method: 'HEAD', status_class: 'error' });
    const retries = delta(before, after, 'stowage_upstream_retries_total', { upstream: 'docker.io' });
    expect(errors).toBeGreaterThanOrEqual(1);
    expect(retries).toBe(errors - 1);
  });

  it('counts upstream retries and resumed blob downloads', async () => {
    const image = hub.addImage('library/postgres', '17', { layerCount: 1, layerSize: 200_000 });
    const before = await scrape(stowage.url);
    hub.faults.fail('manifest', { status: 503, times: 1 });
    expect((await getManifest('library/postgres/manifests/17')).status).toBe(200);
    hub.faults.cutBody({ afterBytes: 50_000 });
    expect(sha256(await getBlob('library/postgres', image.layers[0]!.digest))).toBe(image.layers[0]!.digest);
    const after = await scrape(stowage.url);
    expect(delta(before, after, 'stowage_upstream_retries_total', { upstream: 'docker.io' })).toBe(1);
    expect(delta(before, after, 'stowage_upstream_resumes_total', { upstream: 'docker.io' })).toBe(1);
    expect(delta(before, after, 'stowage_upstream_requests_total', { upstream: 'docker.io', method: 'GET', status_class: '5xx' })).toBe(1);
  });

  it('counts pulls from a second upstream under its own label', async () => {
    const image = ghcr.addImage('org/tool', 'v1', { layerCount: 1, layerSize: 5000 });
    const before = await scrape(stowage.url);
    expect((await getManifest('ghcr.io/org/tool/manifests/v1')).status).toBe(200);
    await getBlob('ghcr.io/org/tool', image.layers[0]!.digest);
    await getBlob('ghcr.io/org/tool', image.layers[0]!.digest);
    const after = await scrapeUntil((m) => delta(before, m, 'stowage_served_bytes_total', { source: 'cache' }) === 5000, 'cache bytes');
    expect(delta(before, after, 'stowage_cache_requests_total', { upstream: 'ghcr.io', kind: 'manifest', result: 'miss' })).toBe(1);
    expect(delta(before, after, 'stowage_cache_requests_total', { upstream: 'ghcr.io', kind: 'blob', result: 'miss' })).toBe(1);
    expect(delta(before, after, 'stowage_cache_requests_total', { upstream: 'ghcr.io', kind: 'blob', result: 'hit' })).toBe(1);
    expect(delta(before, after, 'stowage_upstream_downloaded_bytes_total', { upstream: 'ghcr.io' })).toBe(5000);
    expect(delta(before, after, 'stowage_cache_requests_total', { upstream: 'docker.io', kind: 'blob', result: 'miss' })).toBe(0);
    // No pull-limit headers from this upstream: its gauges stay absent.
    expect(after.find('stowage_upstream_ratelimit_remaining', { upstream: 'ghcr.io' })).toEqual([]);
  });
});

describe('hosted pushes', () => {
  it('counts pushed blobs and manifests with their bytes', async () => {
    const before = await scrape(stowage.url);
    const image = await client.pushImage('team/app', 'v1', { seed: 'metrics-push', layers: 2 });
    const blobBytes = image.config.length + image.layers.reduce((n, l) => n + l.length, 0);
    const after = await scrape(stowage.url);
    expect(delta(before, after, 'stowage_hosted_pushes_total', { kind: 'blob' })).toBe(3);
    expect(delta(before, after, 'stowage_hosted_pushed_bytes_total', { kind: 'blob' })).toBe(blobBytes);
    expect(delta(before, after, 'stowage_hosted_pushes_total', { kind: 'manifest' })).toBe(1);
    expect(delta(before, after, 'stowage_hosted_pushed_bytes_total', { kind: 'manifest' })).toBe(image.manifest.length);
    expect(delta(before, after, 'stowage_http_request_duration_seconds_count', { route: 'uploads', method: 'POST', status_class: '2xx' })).toBe(3);
    expect(delta(before, after, 'stowage_http_request_duration_seconds_count', { route: 'manifest', method: 'PUT', status_class: '2xx' })).toBe(1);
    // Hosted reads are not cache requests.
    const pulled = await client.fetch(`/v2/team/app/blobs/${sha256(image.layers[0]!)}`);
    await pulled.arrayBuffer();
    const read = await scrape(stowage.url);
    for (const upstream of UPSTREAMS) {
      for (const result of RESULTS) expect(delta(after, read, 'stowage_cache_requests_total', { upstream, kind: 'blob', result })).toBe(0);
    }
  });
});

describe('HTTP request metrics', () => {
  it('labels requests by endpoint template, method and status class', async () => {
    const before = await scrape(stowage.url);
    await (await fetch(`${stowage.url}/v2/`)).arrayBuffer();
    await (await fetch(`${stowage.url}/v2/`, { method: 'HEAD' })).arrayBuffer();
    await (await fetch(`${stowage.url}/v2/team/app/tags/list`)).arrayBuffer();
    await (await fetch(`${stowage.url}/no/such/page`)).arrayBuffer();
    await (await fetch(`${stowage.url}/healthz`)).arrayBuffer();
    const after = await scrape(stowage.url);
    const count = (route: string, method: string, status_class: string): number =>
      delta(before, after, 'stowage_http_request_duration_seconds_count', { route, method, status_class });
    expect(count('base', 'GET', '2xx')).toBe(1);
    expect(count('base', 'HEAD', '2xx')).toBe(1);
    expect(count('tags', 'GET', '2xx')).toBe(1);
    expect(count('other', 'GET', '4xx')).toBe(1);
    expect(count('health', 'GET', '2xx')).toBe(1);
    expect(after.sum('stowage_http_request_duration_seconds_count', { route: 'metrics' })).toBeGreaterThanOrEqual(1);
  });

  it('counts a blob response the client abandoned as aborted', async () => {
    const image = hub.addImage('library/big', 'latest', { layerCount: 1, layerSize: 24 * 1024 * 1024 });
    const layer = image.layers[0]!;
    await getBlob('library/big', layer.digest); // cached now
    const before = await scrape(stowage.url);
    // Its own connection pool, destroyed with the request: the abort leaves nothing behind.
    const agent = new Agent();
    const controller = new AbortController();
    const res = await undiciFetch(`${stowage.url}/v2/library/big/blobs/${layer.digest}`, { signal: controller.signal, dispatcher: agent });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await reader.cancel().catch(() => {});
    await agent.destroy();
    const after = await scrapeUntil((m) => delta(before, m, 'stowage_http_responses_aborted_total', { route: 'blob' }) === 1, 'an aborted blob response');
    expect(delta(before, after, 'stowage_http_request_duration_seconds_count', { route: 'blob', method: 'GET', status_class: '2xx' })).toBe(1);
    // Served bytes count completed responses only.
    expect(delta(before, after, 'stowage_served_bytes_total', { source: 'cache' })).toBe(0);
  });
});

describe('label hygiene', () => {
  it('never puts a repository, tag, digest, upload id or address into a label', async () => {
    const m = await scrape(stowage.url);
    const allowed: Record<string, RegExp> = {
      upstream: /^(docker\.io|ghcr\.io)$/,
      kind: /^(manifest|blob|major|minor|incremental|weakcb)$/,
      result: /^(hit|miss|stale|coalesced|negative)$/,
      source: /^(cache|upstream)$/,
      method: /^(GET|HEAD|PUT|POST|PATCH|DELETE|OPTIONS|other)$/,
      status_class: /^([1-5]xx|error)$/,
      route: /^(base|catalog|manifest|blob|uploads|upload|tags|referrers|allTags|gc|api|ui|metrics|health|other)$/,
      mode: /^(delete|dry_run)$/,
      outcome: /^(completed|failed)$/,
      le: /^([0-9.e+-]+|\+Inf)$/,
      // prom-client's process metrics
      type: /^[A-Za-z]+$/,
      space: /^[a-z_]+$/,
      version: /^v[0-9.]+$/,
      major: /^\d+$/,
      minor: /^\d+$/,
      patch: /^\d+$/,
    };
    for (const sample of m.samples) {
      for (const [label, value] of Object.entries(sample.labels)) {
        expect(allowed[label], `label ${label} on ${sample.name}`).toBeDefined();
        expect(value, `${sample.name}{${label}}`).toMatch(allowed[label]!);
      }
    }
    // Names and label sets only: a sample's value (an uptime of 3.2071 s) may well contain "3.20".
    const names = m.text.split('\n').filter((line) => !line.startsWith('#')).map((line) => line.slice(0, line.lastIndexOf(' '))).join('\n');
    for (const needle of ['sha256', 'library', 'alpine', 'team/app', '3.20', '127.0.0.1', 'does-not-exist']) {
      expect(names.includes(needle), needle).toBe(false);
    }
  });
});
