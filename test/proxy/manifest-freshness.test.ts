/**
 * Manifests through the pull-through cache, black-box against the fake hub: digests are immutable,
 * tags expire after tagTtl and are revalidated with one upstream HEAD, stale-if-error and
 * stale-while-revalidate, the negative cache, media-type negotiation, 429 handling, tag lists.
 * Time is the injected clock (`app.now`), never a sleep — except for the revalidation budget, which
 * is real latency.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseDigest } from '../../src/oci/digest.js';
import { startFakeHub, type FakeHub, type HubRequest } from '../support/fake-hub.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { startControlledUpstream, type ControlledUpstream } from './support/controlled-upstream.js';
import { ACCEPT_ALL, blobStored, CountingObserver, errorCode, sha256, TestClock, waitFor } from './support/proxy-helpers.js';

const TAG_TTL = 60_000;
const NOT_FOUND_TTL = 30_000;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

describe('manifest freshness', () => {
  let hub: FakeHub;
  let stowage: RunningStowage;
  const clock = new TestClock();
  let seq = 0;
  /** A repository name no other test uses (the hub and the cache keep state across tests). */
  const fresh = (): string => `library/m${++seq}`;

  const manifestUrl = (repo: string, reference: string, ns?: string): string =>
    `${stowage.url}/v2/${repo}/manifests/${reference}${ns ? `?ns=${ns}` : ''}`;
  const get = (repo: string, reference: string, init: { ns?: string; accept?: string; method?: string } = {}): Promise<Response> =>
    fetch(manifestUrl(repo, reference, init.ns), { method: init.method ?? 'GET', headers: { accept: init.accept ?? ACCEPT_ALL } });
  /** Manifest requests that reached the hub's content (not the 401 that teaches Stowage the challenge). */
  const manifestRequests = (repo: string, method?: 'GET' | 'HEAD'): HubRequest[] =>
    hub.requests.filter((r) => r.kind === 'manifest' && r.repository === repo && r.authorization && (method === undefined || r.method === method));

  beforeAll(async () => {
    hub = await startFakeHub({ auth: 'anonymous-token' });
    const freshness = { tagTtl: `${TAG_TTL}ms`, notFoundTtl: `${NOT_FOUND_TTL}ms` };
    stowage = await startStowage({
      config: {
        hosted: ['team/**'],
        upstreams: {
          'docker.io': { url: hub.url, ...freshness, revalidateBudget: '5s' },
          // The same hub with a short revalidation budget (stale-while-revalidate).
          'slow.test': { url: hub.url, ...freshness, revalidateBudget: '100ms' },
          // The same hub with one retry, to watch Retry-After being honoured.
          'limited.test': { url: hub.url, ...freshness, revalidateBudget: '5s', retries: 1 },
        },
        defaultUpstream: 'docker.io',
      },
      app: { now: clock.now },
    });
  });
  afterAll(async () => {
    await stowage?.close();
    await hub?.close();
  });
  beforeEach(() => hub.reset());

  it('by digest: fetched once, then served from disk forever with no upstream request', async () => {
    const repo = fresh();
    const image = hub.addImage(repo, 'v1');
    const first = await get(repo, image.digest);
    expect(first.status).toBe(200);
    expect(Buffer.from(await first.arrayBuffer()).equals(image.bytes)).toBe(true);
    expect(manifestRequests(repo, 'GET')).toHaveLength(1);
    expect(manifestRequests(repo, 'GET')[0]!.path).toBe(`/v2/${repo}/manifests/${image.digest}`);

    hub.reset();
    clock.advance(365 * 24 * 3_600_000);
    hub.faults.fail('any', { status: 503, times: Infinity }); // even with the upstream broken
    const later = await get(repo, image.digest);
    expect(later.status).toBe(200);
    expect(later.headers.get('warning')).toBeNull();
    expect(Buffer.from(await later.arrayBuffer()).equals(image.bytes)).toBe(true);
    expect(hub.count()).toBe(0);
  });

  it('by tag within tagTtl: zero upstream requests', async () => {
    const repo = fresh();
    const image = hub.addImage(repo, 'v1');
    await (await get(repo, 'v1')).arrayBuffer();
    hub.reset();
    clock.advance(TAG_TTL - 1_000);
    const again = await get(repo, 'v1');
    expect(again.headers.get('docker-content-digest')).toBe(image.digest);
    await again.arrayBuffer();
    expect(hub.count()).toBe(0);
  });

  it('after tagTtl: one upstream HEAD; a GET (by digest) only when the digest changed', async () => {
    const repo = fresh();
    const v1 = hub.addImage(repo, 'latest');
    await (await get(repo, 'latest')).arrayBuffer();

    hub.reset();
    clock.advance(TAG_TTL + 1);
    const unchanged = await get(repo, 'latest');
    expect(unchanged.headers.get('docker-content-digest')).toBe(v1.digest);
    await unchanged.arrayBuffer();
    expect(manifestRequests(repo, 'HEAD')).toHaveLength(1);
    expect(manifestRequests(repo, 'GET')).toHaveLength(0);
    for (const type of ACCEPT_ALL.split(', ')) expect(manifestRequests(repo, 'HEAD')[0]!.accept).toContain(type);
    // The HEAD renewed the tag: within the next TTL nothing is asked.
    hub.reset();
    clock.advance(TAG_TTL - 1_000);
    await (await get(repo, 'latest')).arrayBuffer();
    expect(hub.count({ kind: 'manifest' })).toBe(0);

    const v2 = hub.addImage(repo, 'latest');
    hub.reset();
    clock.advance(TAG_TTL + 1);
    const changed = await get(repo, 'latest');
    expect(changed.headers.get('docker-content-digest')).toBe(v2.digest);
    expect(Buffer.from(await changed.arrayBuffer()).equals(v2.bytes)).toBe(true);
    expect(manifestRequests(repo, 'HEAD')).toHaveLength(1);
    expect(manifestRequests(repo, 'GET').map((r) => r.path)).toEqual([`/v2/${repo}/manifests/${v2.digest}`]);
    // The old version stays addressable by digest, from disk.
    hub.reset();
    const old = await get(repo, v1.digest);
    expect(Buffer.from(await old.arrayBuffer()).equals(v1.bytes)).toBe(true);
    expect(hub.count()).toBe(0);
  });

  it('concurrent revalidations of one tag share one upstream HEAD', async () => {
    const repo = fresh();
    const image = hub.addImage(repo, 'v1');
    await (await get(repo, 'v1')).arrayBuffer();
    hub.reset();
    clock.advance(TAG_TTL + 1);
    hub.faults.delay('manifest', 200, { times: 1 }); // keep the first HEAD in flight while the others arrive
    const responses = await Promise.all(Array.from({ length: 10 }, () => get(repo, 'v1')));
    for (const response of responses) {
      expect(response.status).toBe(200);
      expect(response.headers.get('docker-content-digest')).toBe(image.digest);
      await response.arrayBuffer();
    }
    expect(manifestRequests(repo, 'HEAD')).toHaveLength(1);
    expect(manifestRequests(repo, 'GET')).toHaveLength(0);
  });

  const outages: Array<[string, (hub: FakeHub) => Promise<void> | void, number, string]> = [
    ['unreachable', (h) => h.faults.down('refuse'), 502, 'UPSTREAM_UNAVAILABLE'],
    ['answering 503', (h) => h.faults.fail('any', { status: 503, times: Infinity }), 502, 'UPSTREAM_UNAVAILABLE'],
    ['answering 500', (h) => h.faults.fail('any', { status: 500, times: Infinity }), 502, 'UPSTREAM_UNAVAILABLE'],
    ['answering 429', (h) => h.faults.fail('any', { status: 429, retryAfter: 3600, times: Infinity }), 503, 'UNAVAILABLE'],
  ];
  for (const [what, breakHub, status, code] of outages) {
    it(`upstream ${what} after tagTtl: the cached manifest with a Warning; an uncached one is a clear ${status}`, async () => {
      const repo = fresh();
      const image = hub.addImage(repo, 'v1');
      hub.addImage(repo, 'never-pulled');
      await (await get(repo, 'v1')).arrayBuffer();
      clock.advance(TAG_TTL + 1);
      await breakHub(hub);
      try {
        const stale = await get(repo, 'v1');
        expect(stale.status).toBe(200);
        expect(stale.headers.get('docker-content-digest')).toBe(image.digest);
        expect(stale.headers.get('warning')).toMatch(/^299 - "/);
        expect(Buffer.from(await stale.arrayBuffer()).equals(image.bytes)).toBe(true);

        const uncached = await get(repo, 'never-pulled');
        expect(uncached.status).toBe(status);
        expect(await errorCode(uncached)).toBe(code);
        if (status === 503) expect(Number(uncached.headers.get('retry-after'))).toBeGreaterThan(0);
      } finally {
        await hub.faults.up();
        hub.faults.clear();
      }
      // Once the upstream is back (and past any Retry-After), the tag is revalidated again and the
      // Warning is gone.
      clock.advance(3_600_001);
      const recovered = await get(repo, 'v1');
      expect(recovered.headers.get('warning')).toBeNull();
      await recovered.arrayBuffer();
    });
  }

  it('a slow revalidation is answered from cache within the budget and finishes in the background', async () => {
    const repo = fresh();
    const v1 = hub.addImage(repo, 'v1');
    await (await get(repo, 'v1', { ns: 'slow.test' })).arrayBuffer();
    const v2 = hub.addImage(repo, 'v1');
    hub.reset();
    clock.advance(TAG_TTL + 1);
    hub.faults.delay('manifest', 1_000, { times: 1 });

    const started = Date.now();
    const quick = await get(repo, 'v1', { ns: 'slow.test' });
    const elapsed = Date.now() - started;
    expect(quick.status).toBe(200);
    expect(quick.headers.get('docker-content-digest')).toBe(v1.digest);
    await quick.arrayBuffer();
    expect(elapsed).toBeLessThan(700);

    // The revalidation carries on without any client and lands the new digest.
    await waitFor(async () => {
      const response = await get(repo, 'v1', { ns: 'slow.test' });
      await response.arrayBuffer();
      return response.headers.get('docker-content-digest') === v2.digest;
    }, 5_000, 'the background revalidation');
    expect(manifestRequests(repo, 'HEAD')).toHaveLength(1);
    expect(manifestRequests(repo, 'GET')).toHaveLength(1);
  });

  it('upstream "not found" is remembered for notFoundTtl, then asked again', async () => {
    const repo = fresh();
    hub.addImage(repo, 'exists');
    const first = await get(repo, 'missing');
    expect(first.status).toBe(404);
    expect(await errorCode(first)).toBe('MANIFEST_UNKNOWN');
    expect(manifestRequests(repo)).toHaveLength(1);

    hub.reset();
    clock.advance(NOT_FOUND_TTL - 1_000);
    const second = await get(repo, 'missing');
    expect(second.status).toBe(404);
    expect(await errorCode(second)).toBe('MANIFEST_UNKNOWN');
    expect(hub.count()).toBe(0);

    // The tag appears upstream; once the negative entry expired it is found.
    const image = hub.addImage(repo, 'missing');
    clock.advance(2_000);
    const third = await get(repo, 'missing');
    expect(third.status).toBe(200);
    expect(third.headers.get('docker-content-digest')).toBe(image.digest);
    await third.arrayBuffer();
  });

  it('an unknown repository (Docker Hub answers 401) is negatively cached the same way', async () => {
    const repo = fresh();
    const first = await get(repo, 'latest');
    expect(first.status).toBe(404);
    expect(await errorCode(first)).toBe('MANIFEST_UNKNOWN');
    hub.reset();
    const second = await get(repo, 'latest');
    expect(second.status).toBe(404);
    await second.arrayBuffer();
    expect(hub.count()).toBe(0);
    clock.advance(NOT_FOUND_TTL + 1);
    await (await get(repo, 'latest')).arrayBuffer();
    expect(manifestRequests(repo).length).toBeGreaterThan(0);
  });

  it('a tag removed upstream is forgotten after tagTtl (404), its manifest stays addressable by digest', async () => {
    const repo = fresh();
    const image = hub.addImage(repo, 'gone');
    await (await get(repo, 'gone')).arrayBuffer();
    hub.removeTag(repo, 'gone');
    clock.advance(TAG_TTL + 1);
    const response = await get(repo, 'gone');
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe('MANIFEST_UNKNOWN');

    hub.reset();
    const byDigest = await get(repo, image.digest);
    expect(byDigest.status).toBe(200);
    expect(Buffer.from(await byDigest.arrayBuffer()).equals(image.bytes)).toBe(true);
    // ... and the forgotten tag is negatively cached: no upstream request for it either.
    await (await get(repo, 'gone')).arrayBuffer();
    expect(hub.count()).toBe(0);
  });

  it('a schema1 manifest from upstream is a clear error and is not cached', async () => {
    const repo = fresh();
    const schema1 = Buffer.from(JSON.stringify({ schemaVersion: 1, name: repo, tag: 'old', architecture: 'amd64', fsLayers: [], history: [], signatures: [] }));
    hub.addManifest(repo, 'old', schema1, 'application/vnd.docker.distribution.manifest.v1+prettyjws');
    for (let attempt = 0; attempt < 2; attempt++) {
      const response = await get(repo, 'old', { accept: `${ACCEPT_ALL}, application/vnd.docker.distribution.manifest.v1+prettyjws` });
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).not.toBe(500);
      const body = (await response.json()) as { errors: Array<{ code: string; message: string; detail: unknown }> };
      expect(body.errors[0]!.code).toBe('MANIFEST_INVALID');
      expect(JSON.stringify(body.errors[0])).toMatch(/schema1/i);
    }
    expect(await blobStored(stowage, sha256(schema1))).toBe(false);
    // Not cached, not retried in a loop: one upstream GET per client request.
    expect(manifestRequests(repo, 'GET')).toHaveLength(2);
  });

  it('an index the client cannot accept is 404 MANIFEST_UNKNOWN and not negatively cached; upstream is always asked with every type', async () => {
    const repo = fresh();
    const index = hub.addIndex(repo, 'multi', [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
    ]);
    // The fake hub's addIndex stores the children's blobs but not their manifests.
    for (const image of index.images) hub.addManifest(repo, image.digest, image.bytes, image.mediaType);
    const refused = await get(repo, 'multi', { accept: OCI_MANIFEST });
    expect(refused.status).toBe(404);
    expect(await errorCode(refused)).toBe('MANIFEST_UNKNOWN');

    const accepted = await get(repo, 'multi', { accept: `${OCI_MANIFEST}, ${OCI_INDEX}` });
    expect(accepted.status).toBe(200);
    expect(accepted.headers.get('content-type')).toBe(OCI_INDEX);
    expect(accepted.headers.get('docker-content-digest')).toBe(index.digest);
    expect(Buffer.from(await accepted.arrayBuffer()).equals(index.bytes)).toBe(true);

    // Children by digest, with a client that only knows image manifests.
    const child = await get(repo, index.images[0]!.digest, { accept: OCI_MANIFEST });
    expect(child.status).toBe(200);
    await child.arrayBuffer();

    const requests = manifestRequests(repo);
    expect(requests.length).toBeGreaterThan(0);
    for (const request of requests) {
      for (const type of ACCEPT_ALL.split(', ')) expect(request.accept, request.path).toContain(type);
    }
  });

  it('HEAD by tag: digest, length and type, no body, and never an upstream GET once cached', async () => {
    const repo = fresh();
    const image = hub.addImage(repo, 'v1', { format: 'docker' });
    await (await get(repo, 'v1')).arrayBuffer();
    hub.reset();

    const head = await get(repo, 'v1', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('docker-content-digest')).toBe(image.digest);
    expect(head.headers.get('content-length')).toBe(String(image.bytes.length));
    expect(head.headers.get('content-type')).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    expect(hub.count()).toBe(0);

    clock.advance(TAG_TTL + 1);
    const revalidated = await get(repo, 'v1', { method: 'HEAD' });
    expect(revalidated.headers.get('docker-content-digest')).toBe(image.digest);
    expect(manifestRequests(repo, 'HEAD')).toHaveLength(1);
    expect(manifestRequests(repo, 'GET')).toHaveLength(0);
  });

  it('ETag and If-None-Match on a cached manifest', async () => {
    const repo = fresh();
    const image = hub.addImage(repo, 'v1');
    const first = await get(repo, 'v1');
    expect(first.headers.get('etag')).toBe(`"${image.digest}"`);
    await first.arrayBuffer();
    const notModified = await fetch(manifestUrl(repo, 'v1'), { headers: { accept: ACCEPT_ALL, 'if-none-match': `"${image.digest}"` } });
    expect(notModified.status).toBe(304);
  });

  it('upstream 429 is not retried in a hot loop: Retry-After is waited for, and a stale hit is preferred', async () => {
    const repo = fresh();
    const image = hub.addImage(repo, 'v1');
    hub.addImage(repo, 'cold');
    await (await get(repo, 'v1', { ns: 'limited.test' })).arrayBuffer();

    // A short Retry-After is honoured before the one retry (`retries: 1`): two requests, ≥ 1 s apart.
    hub.reset();
    hub.faults.fail('manifest', { status: 429, retryAfter: 1, times: Infinity });
    const started = Date.now();
    const cold = await get(repo, 'cold', { ns: 'limited.test' });
    expect(cold.status).toBe(503);
    expect(await errorCode(cold)).toBe('UNAVAILABLE');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(manifestRequests(repo)).toHaveLength(2);

    // A long Retry-After is not waited for: the cached tag is served stale at once, one request.
    hub.reset();
    hub.faults.fail('manifest', { status: 429, retryAfter: 3600, times: Infinity });
    clock.advance(TAG_TTL + 1);
    const stale = await get(repo, 'v1', { ns: 'limited.test' });
    expect(stale.status).toBe(200);
    expect(stale.headers.get('docker-content-digest')).toBe(image.digest);
    expect(stale.headers.get('warning')).toMatch(/^299 - "/);
    await stale.arrayBuffer();
    expect(manifestRequests(repo)).toHaveLength(1);

    // While the upstream asked us to wait, further requests do not knock again.
    for (let i = 0; i < 5; i++) {
      const again = await get(repo, 'v1', { ns: 'limited.test' });
      expect(again.status).toBe(200);
      await again.arrayBuffer();
      const coldAgain = await get(repo, 'cold', { ns: 'limited.test' });
      expect(coldAgain.status).toBe(503);
      expect(Number(coldAgain.headers.get('retry-after'))).toBeGreaterThan(3_500);
      await coldAgain.arrayBuffer();
    }
    expect(manifestRequests(repo)).toHaveLength(1);

    // Once Retry-After has passed, the upstream is asked again.
    hub.reset();
    clock.advance(3_600_000);
    const recovered = await get(repo, 'v1', { ns: 'limited.test' });
    expect(recovered.headers.get('warning')).toBeNull();
    await recovered.arrayBuffer();
    expect(manifestRequests(repo, 'HEAD')).toHaveLength(1);
  });
});

describe('tag lists and the catalog of a proxied repository', () => {
  let hub: FakeHub;
  let stowage: RunningStowage;

  beforeAll(async () => {
    hub = await startFakeHub({ auth: 'anonymous-token' });
    stowage = await startStowage({
      config: { hosted: ['team/**'], upstreams: { 'docker.io': { url: hub.url } }, defaultUpstream: 'docker.io' },
    });
  });
  afterAll(async () => {
    await stowage?.close();
    await hub?.close();
  });

  it('tags come from the upstream, and from the cache when the upstream is down', async () => {
    for (const tag of ['1.0', '1.1', '2.0']) hub.addImage('library/tagged', tag);
    const listed = await fetch(`${stowage.url}/v2/tagged/tags/list`);
    expect(listed.status).toBe(200);
    expect(await listed.json()).toEqual({ name: 'tagged', tags: ['1.0', '1.1', '2.0'] });

    await (await fetch(`${stowage.url}/v2/tagged/manifests/1.1`, { headers: { accept: ACCEPT_ALL } })).arrayBuffer();
    await hub.faults.down('refuse');
    try {
      const fallback = await fetch(`${stowage.url}/v2/tagged/tags/list`);
      expect(fallback.status).toBe(200);
      expect(await fallback.json()).toEqual({ name: 'tagged', tags: ['1.1'] });
      const nothingCached = await fetch(`${stowage.url}/v2/library/never-seen/tags/list`);
      expect(nothingCached.status).toBe(502);
      expect(await errorCode(nothingCached)).toBe('UPSTREAM_UNAVAILABLE');
    } finally {
      await hub.faults.up();
    }
  });

  it('_catalog lists what is stored locally, proxied repositories under their upstream', async () => {
    hub.addImage('library/catalogued', 'v1');
    hub.addImage('library/not-pulled', 'v1');
    await (await fetch(`${stowage.url}/v2/catalogued/manifests/v1`, { headers: { accept: ACCEPT_ALL } })).arrayBuffer();
    const catalog = (await (await fetch(`${stowage.url}/v2/_catalog`)).json()) as { repositories: string[] };
    expect(catalog.repositories).toContain('docker.io/library/catalogued');
    expect(catalog.repositories).not.toContain('docker.io/library/not-pulled');
  });
});

describe('a cached manifest whose bytes left the disk', () => {
  let hub: FakeHub;
  let dataDir: string;

  beforeAll(async () => {
    hub = await startFakeHub({ auth: 'anonymous-token' });
    dataDir = await mkdtemp(join(tmpdir(), 'stowage-proxy-'));
  });
  afterAll(async () => {
    await hub?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('is fetched again by digest (e.g. after eviction and a restart), never a BLOB_UNKNOWN for a manifest', async () => {
    const config = { hosted: ['team/**'], upstreams: { 'docker.io': { url: hub.url } }, defaultUpstream: 'docker.io' };
    const image = hub.addImage('library/evicted', 'v1');
    const first = await startStowage({ config, dataDir });
    try {
      await (await fetch(`${first.url}/v2/evicted/manifests/v1`, { headers: { accept: ACCEPT_ALL } })).arrayBuffer();
      await first.app.storage.blobs.delete(parseDigest(image.digest)); // what eviction does
    } finally {
      await first.close();
    }

    const second = await startStowage({ config, dataDir });
    try {
      hub.reset();
      for (const reference of ['v1', image.digest]) {
        const response = await fetch(`${second.url}/v2/evicted/manifests/${reference}`, { headers: { accept: ACCEPT_ALL } });
        expect(response.status, reference).toBe(200);
        expect(Buffer.from(await response.arrayBuffer()).equals(image.bytes), reference).toBe(true);
      }
      expect(hub.requests.filter((r) => r.kind === 'manifest' && r.authorization).map((r) => `${r.method} ${r.path}`)).toEqual([
        `GET /v2/library/evicted/manifests/${image.digest}`,
      ]);
      expect(await blobStored(second, image.digest)).toBe(true);
    } finally {
      await second.close();
    }
  });
});

describe('manifests that do not match their digest', () => {
  let upstream: ControlledUpstream;
  let stowage: RunningStowage;
  const observer = new CountingObserver();

  beforeAll(async () => {
    upstream = await startControlledUpstream();
    stowage = await startStowage({
      config: { hosted: ['team/**'], upstreams: { 'ctl.test': { url: upstream.url } }, defaultUpstream: 'ctl.test' },
      app: { registryObserver: observer },
    });
  });
  afterAll(async () => {
    await upstream?.close();
    await stowage?.close();
  });

  const manifestBytes = (): Buffer =>
    Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(Buffer.from(String(Math.random()))), size: 2 }, layers: [] }));

  it('by digest: other bytes under the digest are a 502, counted, never stored or served', async () => {
    const real = manifestBytes();
    const claimed = sha256(manifestBytes());
    upstream.addManifest('acme/app', claimed, real, OCI_MANIFEST, { digestHeader: claimed });
    for (let attempt = 1; attempt <= 2; attempt++) {
      const response = await fetch(`${stowage.url}/v2/acme/app/manifests/${claimed}`, { headers: { accept: ACCEPT_ALL } });
      expect(response.status).toBe(502);
      expect(await errorCode(response)).toBe('UPSTREAM_UNAVAILABLE');
      expect(observer.digestMismatches).toBe(attempt);
    }
    expect(await blobStored(stowage, claimed)).toBe(false);
    expect(await blobStored(stowage, sha256(real))).toBe(false);
  });

  it('by tag: a Docker-Content-Digest that the bytes do not hash to is a 502, and the tag is not set', async () => {
    const real = manifestBytes();
    upstream.addManifest('acme/app', 'v1', real, OCI_MANIFEST, { digestHeader: sha256(manifestBytes()) });
    const response = await fetch(`${stowage.url}/v2/acme/app/manifests/v1`, { headers: { accept: ACCEPT_ALL } });
    expect(response.status).toBe(502);
    expect(await errorCode(response)).toBe('UPSTREAM_UNAVAILABLE');
    expect(await blobStored(stowage, sha256(real))).toBe(false);
    const tags = await fetch(`${stowage.url}/v2/acme/app/tags/list`);
    expect(tags.status).not.toBe(200); // the upstream has no tag list, and nothing was cached
    await tags.arrayBuffer();
  });
});
