/**
 * Blob fills, black-box: one upstream download per blob, shared by every client, streamed while it
 * is written, detached from any one client, verified before it is stored or served as complete.
 * Pacing comes from a hand-driven upstream (support/controlled-upstream.ts); cuts and resumes from
 * the fake hub's body faults.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { startControlledUpstream, type ControlledUpstream } from './support/controlled-upstream.js';
import { blobLinked, blobStored, CountingObserver, errorCode, partialFills, sha256, waitFor, within } from './support/proxy-helpers.js';

const UPSTREAM = 'ctl.test';
const REPO = 'team-images/app';

async function readAll(reader: ReadableStreamDefaultReader<Uint8Array>, first?: Uint8Array): Promise<Buffer> {
  const chunks: Buffer[] = first ? [Buffer.from(first)] : [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks);
    chunks.push(Buffer.from(value));
  }
}

describe('blob fills from a hand-paced upstream', () => {
  let upstream: ControlledUpstream;
  let stowage: RunningStowage;
  const observer = new CountingObserver();
  const blobUrl = (digest: string): string => `${stowage.url}/v2/${REPO}/blobs/${digest}`;
  const upstreamGets = (digest: string): number => upstream.count((r) => r.method === 'GET' && r.path.endsWith(digest));

  beforeAll(async () => {
    upstream = await startControlledUpstream();
    stowage = await startStowage({
      config: { hosted: ['team/**'], upstreams: { [UPSTREAM]: { url: upstream.url } }, defaultUpstream: UPSTREAM },
      app: { registryObserver: observer },
    });
  });
  afterAll(async () => {
    await upstream?.close();
    await stowage?.close();
  });
  beforeEach(() => {
    observer.results.length = 0;
    observer.digestMismatches = 0;
  });

  it('a cold pull streams to the client while the upstream is still sending', async () => {
    const blob = upstream.addBlob(REPO, randomBytes(1024 * 1024), { holdAfter: 256 * 1024 });
    const response = await within(fetch(blobUrl(blob.digest)), 5_000, 'response headers');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-length')).toBe(String(blob.bytes.length));
    expect(response.headers.get('docker-content-digest')).toBe(blob.digest);
    const reader = response.body!.getReader();
    // The upstream has sent a quarter and waits: the client must already have bytes.
    await blob.held;
    const first = await within(reader.read(), 5_000, 'first bytes while the upstream is paused');
    expect(first.done).toBe(false);
    expect(first.value!.length).toBeGreaterThan(0);
    blob.release();
    const bytes = await readAll(reader, first.value);
    expect(sha256(bytes)).toBe(blob.digest);
    expect(upstreamGets(blob.digest)).toBe(1);
  });

  it('20 concurrent cold readers share one in-progress download and all get identical, correct bytes', async () => {
    const blob = upstream.addBlob(REPO, randomBytes(2 * 1024 * 1024), { holdAfter: 512 * 1024 });
    const responses = await within(Promise.all(Array.from({ length: 20 }, () => fetch(blobUrl(blob.digest)))), 5_000, 'all 20 response heads');
    expect(responses.map((r) => r.status)).toEqual(Array(20).fill(200));
    // Every client got its headers while the upstream was still paused: all 20 joined one fill.
    expect(observer.results.filter((r) => r === 'blob:miss')).toHaveLength(1);
    expect(observer.results.filter((r) => r === 'blob:coalesced')).toHaveLength(19);
    blob.release();
    const digests = await Promise.all(responses.map(async (r) => sha256(new Uint8Array(await r.arrayBuffer()))));
    expect(digests).toEqual(Array(20).fill(blob.digest));
    expect(upstreamGets(blob.digest)).toBe(1);
  });

  it('an upstream blob without Content-Length is served whole, with a length, once verified', async () => {
    const blob = upstream.addBlob(REPO, randomBytes(300 * 1024), { noLength: true });
    const response = await fetch(blobUrl(blob.digest), { headers: { range: 'bytes=1000-' } });
    expect(response.status).toBe(206);
    expect(response.headers.get('content-length')).toBe(String(300 * 1024 - 1000));
    expect(Buffer.from(await response.arrayBuffer()).equals(blob.bytes.subarray(1000))).toBe(true);
    // One miss, not a miss followed by a hit for the same client request.
    expect(observer.results.filter((r) => r.startsWith('blob:'))).toEqual(['blob:miss']);
    expect(upstreamGets(blob.digest)).toBe(1);
  });

  it('a reader that stops reading stalls neither the other readers nor the cache', async () => {
    const blob = upstream.addBlob(REPO, randomBytes(16 * 1024 * 1024));
    const [host, port] = stowage.host.split(':');
    let paused!: http.IncomingMessage;
    const request = http.get({ host, port: Number(port), path: `/v2/${REPO}/blobs/${blob.digest}`, agent: false });
    await new Promise<void>((resolve, reject) => {
      request.on('error', reject);
      request.on('response', (res) => {
        paused = res;
        res.once('data', () => {
          res.pause();
          resolve();
        });
      });
    });
    try {
      const others = await within(
        Promise.all([1, 2].map(async () => sha256(new Uint8Array(await (await fetch(blobUrl(blob.digest))).arrayBuffer())))),
        10_000,
        'the other readers finishing',
      );
      expect(others).toEqual([blob.digest, blob.digest]);
      await waitFor(() => blobStored(stowage, blob.digest), 5_000, 'the blob to be committed');
      expect(paused.readableEnded).toBe(false);
    } finally {
      request.destroy();
    }
    expect(upstreamGets(blob.digest)).toBe(1);
  });

  it('a client that disconnects mid-blob cancels neither the download nor the cache', async () => {
    const blob = upstream.addBlob(REPO, randomBytes(1024 * 1024), { holdAfter: 128 * 1024 });
    const abort = new AbortController();
    const leaver = await fetch(blobUrl(blob.digest), { signal: abort.signal });
    const stayer = await fetch(blobUrl(blob.digest));
    await blob.held;
    const reader = leaver.body!.getReader();
    await reader.read();
    abort.abort();
    await new Promise((resolve) => setTimeout(resolve, 50)); // let Stowage see the closed socket
    blob.release();
    expect(sha256(new Uint8Array(await stayer.arrayBuffer()))).toBe(blob.digest);
    await waitFor(async () => (await blobStored(stowage, blob.digest)) && blobLinked(stowage, UPSTREAM, REPO, blob.digest), 5_000, 'commit');

    const before = upstream.count();
    const again = await fetch(blobUrl(blob.digest));
    expect(sha256(new Uint8Array(await again.arrayBuffer()))).toBe(blob.digest);
    expect(upstream.count()).toBe(before);
  });

  it('the only client disconnecting still leaves the blob committed, and the next GET is a pure cache hit', async () => {
    const blob = upstream.addBlob(REPO, randomBytes(1024 * 1024), { holdAfter: 128 * 1024 });
    const abort = new AbortController();
    const response = await fetch(blobUrl(blob.digest), { signal: abort.signal });
    await blob.held;
    await response.body!.getReader().read();
    abort.abort();
    await new Promise((resolve) => setTimeout(resolve, 50));
    blob.release();
    await waitFor(async () => (await blobStored(stowage, blob.digest)) && blobLinked(stowage, UPSTREAM, REPO, blob.digest), 5_000, 'commit');
    const before = upstream.count();
    const again = await fetch(blobUrl(blob.digest));
    expect(sha256(new Uint8Array(await again.arrayBuffer()))).toBe(blob.digest);
    expect(upstream.count()).toBe(before);
    expect(upstreamGets(blob.digest)).toBe(1);
  });

  it('bytes that do not match their digest are never served as complete and never stored', async () => {
    const claimed = sha256(randomBytes(32));
    upstream.addBlob(REPO, randomBytes(300 * 1024), { digest: claimed });

    const first = await fetch(blobUrl(claimed));
    expect(first.status).toBe(200); // the head goes out before the last byte could be checked ...
    await expect(first.arrayBuffer()).rejects.toThrow(); // ... so the only honest signal is a cut
    await waitFor(() => observer.digestMismatches === 1, 2_000, 'the mismatch to be counted');
    expect(await blobStored(stowage, claimed)).toBe(false);
    await waitFor(async () => (await partialFills(stowage)).length === 0, 2_000, 'the spooled bytes to be removed');

    // Nothing was cached: the next request asks the upstream again, and a Range to the end (how a
    // client resumes) is cut just the same.
    const ranged = await fetch(blobUrl(claimed), { headers: { range: 'bytes=1000-' } });
    if (ranged.status === 206) await expect(ranged.arrayBuffer()).rejects.toThrow();
    else expect(ranged.status).toBeGreaterThanOrEqual(500);
    expect(upstreamGets(claimed)).toBe(2);
    expect(await blobStored(stowage, claimed)).toBe(false);
  });

  it('a small mismatching blob is cut too (the last byte waits for the digest check)', async () => {
    const claimed = sha256(randomBytes(32));
    upstream.addBlob(REPO, Buffer.from('not the bytes you are looking for'), { digest: claimed });
    // Cut before or after the head went out (a race with the digest check): never a complete body.
    await expect(fetch(blobUrl(claimed)).then((response) => response.arrayBuffer())).rejects.toThrow();
    expect(await blobStored(stowage, claimed)).toBe(false);
  });

  it('Range on a blob still downloading: bytes already written come at once, later ones when they arrive', async () => {
    const size = 1024 * 1024;
    const blob = upstream.addBlob(REPO, randomBytes(size), { holdAfter: 512 * 1024 });
    const early = await fetch(blobUrl(blob.digest), { headers: { range: 'bytes=1000-1999' } });
    expect(early.status).toBe(206);
    expect(early.headers.get('content-range')).toBe(`bytes 1000-1999/${size}`);
    expect(early.headers.get('content-length')).toBe('1000');
    await blob.held;
    const earlyBytes = Buffer.from(await within(early.arrayBuffer(), 5_000, 'a range inside the written part'));
    expect(earlyBytes.equals(blob.bytes.subarray(1000, 2000))).toBe(true);

    // A range beyond what is written waits for those bytes (its head goes out with the first of them).
    let settled = false;
    const lateBytes = fetch(blobUrl(blob.digest), { headers: { range: `bytes=${size - 5000}-` } }).then(async (late) => {
      expect(late.status).toBe(206);
      expect(late.headers.get('content-range')).toBe(`bytes ${size - 5000}-${size - 1}/${size}`);
      return Buffer.from(await late.arrayBuffer());
    }).finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(settled).toBe(false);
    blob.release();
    expect((await within(lateBytes, 5_000, 'the late range')).equals(blob.bytes.subarray(size - 5000))).toBe(true);
    expect(upstreamGets(blob.digest)).toBe(1);
  });

  it('Range on a cached blob: open-ended, bounded, suffix, and unsatisfiable', async () => {
    const blob = upstream.addBlob(REPO, randomBytes(10_000));
    await (await fetch(blobUrl(blob.digest))).arrayBuffer();
    await waitFor(() => blobLinked(stowage, UPSTREAM, REPO, blob.digest), 5_000, 'link');
    const before = upstream.count();
    const cases: Array<[string, number, number]> = [
      ['bytes=9000-', 9000, 9999],
      ['bytes=10-19', 10, 19],
      ['bytes=-100', 9900, 9999],
      ['bytes=9990-20000', 9990, 9999],
    ];
    for (const [range, start, end] of cases) {
      const response = await fetch(blobUrl(blob.digest), { headers: { range } });
      expect(response.status, range).toBe(206);
      expect(response.headers.get('content-range'), range).toBe(`bytes ${start}-${end}/10000`);
      expect(Buffer.from(await response.arrayBuffer()).equals(blob.bytes.subarray(start, end + 1)), range).toBe(true);
    }
    const beyond = await fetch(blobUrl(blob.digest), { headers: { range: 'bytes=10000-' } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe('bytes */10000');
    await beyond.arrayBuffer();
    expect(upstream.count()).toBe(before);
  });

  it('HEAD on a blob that is not cached asks the upstream with HEAD and downloads nothing', async () => {
    const blob = upstream.addBlob(REPO, randomBytes(4321));
    const head = await fetch(blobUrl(blob.digest), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('4321');
    expect(head.headers.get('docker-content-digest')).toBe(blob.digest);
    expect(head.headers.get('content-type')).toBe('application/octet-stream');
    expect(upstream.count((r) => r.path.endsWith(blob.digest) && r.method === 'HEAD')).toBe(1);
    expect(upstreamGets(blob.digest)).toBe(0);
    expect(await blobStored(stowage, blob.digest)).toBe(false);

    const unknown = await fetch(blobUrl(sha256(randomBytes(8))), { method: 'HEAD' });
    expect(unknown.status).toBe(404);
  });

  it('GET of a blob the upstream does not have is 404 BLOB_UNKNOWN', async () => {
    const response = await fetch(blobUrl(sha256(randomBytes(8))));
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe('BLOB_UNKNOWN');
  });
});

describe('blob fills from the fake hub: cuts and resumes', () => {
  let hub: FakeHub;
  let stowage: RunningStowage;

  beforeAll(async () => {
    hub = await startFakeHub({ auth: 'anonymous-token', cdn: true });
    stowage = await startStowage({
      config: {
        hosted: ['team/**'],
        upstreams: {
          'docker.io': { url: hub.url, blobResumes: 3 },
          // The same hub again, without resumes: a cut is final.
          'noresume.test': { url: hub.url, blobResumes: 0, retries: 0 },
        },
        defaultUpstream: 'docker.io',
      },
    });
  });
  afterAll(async () => {
    await stowage?.close();
    await hub?.close();
  });

  it('a mid-blob upstream cut is resumed with Range and the blob is correct', async () => {
    const image = hub.addImage('library/resumed', 'v1', { layerCount: 1, layerSize: 256 * 1024 });
    const layer = image.layers[0]!;
    hub.reset();
    hub.faults.cutBody({ afterBytes: 100_000 });
    const response = await fetch(`${stowage.url}/v2/resumed/blobs/${layer.digest}`);
    expect(response.status).toBe(200);
    expect(sha256(new Uint8Array(await response.arrayBuffer()))).toBe(layer.digest);
    const ranged = hub.requests.filter((r) => r.kind === 'cdn' && r.range !== undefined);
    expect(ranged).toHaveLength(1);
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(ranged[0]!.range!)?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(100_000);
    await waitFor(() => blobStored(stowage, layer.digest), 5_000, 'commit');
  });

  it('with resumes exhausted, readers see a cut, nothing is stored, and the next request resumes from the spooled bytes', async () => {
    const image = hub.addImage('library/cut', 'v1', { layerCount: 1, layerSize: 256 * 1024 });
    const layer = image.layers[0]!;
    const url = `${stowage.url}/v2/library/cut/blobs/${layer.digest}?ns=noresume.test`;
    hub.reset();
    hub.faults.cutBody({ afterBytes: 100_000 });
    for (const response of await Promise.all([fetch(url), fetch(url)])) {
      // Normally the head is out before the cut, so the body is cut; if the cut beats the first byte
      // to disk, the head is still unsent and the reader gets a clean 502 instead. Never a 200 + EOF.
      if (response.status === 200) await expect(response.arrayBuffer()).rejects.toThrow();
      else expect(await errorCode(response)).toBe('UPSTREAM_UNAVAILABLE');
    }
    expect(await blobStored(stowage, layer.digest)).toBe(false);
    // What arrived before the cut is kept, never as a blob: the partial fill is in the spool.
    await waitFor(async () => (await partialFills(stowage)).length === 1, 2_000, 'the partial fill to be kept');
    const [partial] = await partialFills(stowage);
    expect(partial).toMatchObject({ digest: layer.digest, origin: { upstream: 'noresume.test', repository: 'proxied/noresume.test/library/cut', size: 256 * 1024 } });
    expect(partial!.bytes).toBeGreaterThan(0);
    expect(partial!.bytes).toBeLessThanOrEqual(100_000);

    // Straight away: the failed fill must not be joined, and must not be a 500; it continues with Range.
    const next = await fetch(url);
    expect(next.status).toBe(200);
    expect(sha256(new Uint8Array(await next.arrayBuffer()))).toBe(layer.digest);
    const gets = hub.requests.filter((r) => r.kind === 'cdn');
    expect(gets).toHaveLength(2);
    expect(gets[1]!.range).toBe(`bytes=${partial!.bytes}-`);
    await waitFor(async () => (await partialFills(stowage)).length === 0, 2_000, 'the spool to be empty');
    await waitFor(() => blobStored(stowage, layer.digest), 2_000, 'commit');
  });

  it('a fill that fails before its first byte answers every waiting client with a clean 502, not a cut', async () => {
    const image = hub.addImage('library/early-cut', 'v1', { layerCount: 1, layerSize: 64 * 1024 });
    const layer = image.layers[0]!;
    const url = `${stowage.url}/v2/library/early-cut/blobs/${layer.digest}?ns=noresume.test`;
    hub.reset();
    // The upstream answers 200 and sends one byte, then resets: the fill has a byte, but the last
    // byte of what it has is never released before a digest check, so no client has a byte yet.
    hub.faults.cutBody({ afterBytes: 1 });
    for (const response of await Promise.all([fetch(url), fetch(url)])) {
      expect(response.status).toBe(502);
      expect(await errorCode(response)).toBe('UPSTREAM_UNAVAILABLE');
    }
    expect(await blobStored(stowage, layer.digest)).toBe(false);
  });

  it('an uncached blob while the upstream is down or rate limiting is a clear 502/503, never a 500', async () => {
    const image = hub.addImage('library/outage', 'v1', { layerCount: 1 });
    const url = `${stowage.url}/v2/outage/blobs/${image.layers[0]!.digest}`;
    await hub.faults.down('refuse');
    try {
      for (const method of ['GET', 'HEAD']) {
        const response = await fetch(url, { method });
        expect(response.status, method).toBe(502);
        if (method === 'GET') expect(await errorCode(response)).toBe('UPSTREAM_UNAVAILABLE');
      }
    } finally {
      await hub.faults.up();
    }
    hub.faults.fail('any', { status: 429, retryAfter: 3600, times: Infinity });
    try {
      const limited = await fetch(url);
      expect(limited.status).toBe(503);
      expect(limited.headers.get('retry-after')).toBe('3600');
      await limited.arrayBuffer();
    } finally {
      hub.faults.clear();
    }
    expect(await blobStored(stowage, image.layers[0]!.digest)).toBe(false);
  });
});
