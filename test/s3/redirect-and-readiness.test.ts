/**
 * `storage.s3.redirect` and the bucket's readiness probe, black-box over HTTP against a Stowage on
 * the `s3` project's Ceph RGW: warm blob GETs answer 307 to a presigned URL on `publicEndpoint`
 * (Range works through it, HEAD stays local), presigned URLs never reach the log, and /readyz
 * says when the bucket is gone.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { sha256 } from '../support/digests.js';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { createTestBucket, type TestBucket } from '../support/s3-test-bucket.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';

const store = inject('s3Store');

describe.skipIf(!store)('storage.s3.redirect', () => {
  let hub: FakeHub;
  let bucket: TestBucket;
  let stowage: RunningStowage;
  const log: string[] = [];
  // The store as clients see it: another host name for the same gateway (S3 rejects a request that
  // carries a presigned query and the Authorization some clients keep on a same-host redirect).
  const publicEndpoint = store?.endpoint.replace('127.0.0.1', 'localhost') ?? '';

  beforeAll(async () => {
    hub = await startFakeHub({ auth: 'anonymous-token' });
    bucket = await createTestBucket(store!, undefined, { prefix: 'r/', redirect: true, publicEndpoint });
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        log.push(chunk.toString('utf8'));
        callback();
      },
    });
    stowage = await startStowage({
      config: {
        hosted: ['team/**'],
        upstreams: { 'docker.io': { url: hub.url } },
        defaultUpstream: 'docker.io',
        storage: { driver: 's3', s3: bucket.settings },
      },
      app: { logger: pino({ level: 'debug' }, sink) },
    });
  });
  afterAll(async () => {
    await stowage?.close();
    await hub?.close();
    await bucket?.remove();
  });

  it('a warm proxied blob is a 307 to the store on publicEndpoint; Range works there; HEAD and the cold GET stay here', async () => {
    const image = hub.addImage('library/alpine', '3.20', { layerCount: 1, layerSize: 300_000 });
    const layer = image.layers[0]!;
    const url = `${stowage.url}/v2/library/alpine/blobs/${layer.digest}`;
    const cold = await fetch(url);
    expect(cold.status).toBe(200); // filling: streamed by Stowage while it downloads
    expect(sha256(new Uint8Array(await cold.arrayBuffer()))).toBe(layer.digest);

    const warm = await fetch(url, { redirect: 'manual', headers: { range: 'bytes=1000-1999' } });
    expect(warm.status).toBe(307);
    expect(warm.headers.get('docker-content-digest')).toBe(layer.digest);
    expect(warm.headers.get('cache-control')).toBe('no-store');
    const location = new URL(warm.headers.get('location')!);
    expect(location.origin).toBe(publicEndpoint);
    expect(location.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);

    const ranged = await fetch(location, { headers: { range: 'bytes=1000-1999' } });
    expect(ranged.status).toBe(206);
    const whole = await (await fetch(location)).arrayBuffer();
    expect(sha256(new Uint8Array(whole))).toBe(layer.digest);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(Buffer.from(whole).subarray(1000, 2000))).toBe(true);

    // A client that follows redirects gets the blob from the store.
    const followed = await fetch(url);
    expect(followed.status).toBe(200);
    expect(sha256(new Uint8Array(await followed.arrayBuffer()))).toBe(layer.digest);

    const head = await fetch(url, { method: 'HEAD', redirect: 'manual' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(layer.bytes.length));
  });

  it('a hosted blob is redirected too, and no presigned URL or signature is ever logged', async () => {
    const bytes = Buffer.from('hosted layer bytes '.repeat(1000));
    const digest = sha256(bytes);
    const start = await fetch(`${stowage.url}/v2/team/app/blobs/uploads/?digest=${digest}`, { method: 'POST', body: bytes });
    expect(start.status).toBe(201);
    const res = await fetch(`${stowage.url}/v2/team/app/blobs/${digest}`, { redirect: 'manual' });
    expect(res.status).toBe(307);
    const signature = new URL(res.headers.get('location')!).searchParams.get('X-Amz-Signature')!;
    const text = log.join('');
    expect(text).toContain(`/v2/team/app/blobs/${digest}`); // the request was logged…
    expect(text).not.toContain(signature); // …but not where it was sent
    expect(text).not.toMatch(/X-Amz-(Signature|Credential)/i);
  });
});

describe.skipIf(!store)('readiness on the s3 driver', () => {
  it('/readyz checks that the bucket takes writes, and says which store error it got when it does not', async () => {
    const bucket = await createTestBucket(store!);
    const stowage = await startStowage({ config: { storage: { driver: 's3', s3: bucket.settings } } });
    try {
      const ready = await fetch(`${stowage.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ready', checks: { storage: 'ok', shutdown: 'no', freeSpace: 'ok' } });
      expect(await bucket.keys()).toEqual([]); // the probe object is gone again

      await bucket.remove();
      // The result is cached for 5 s: poll until the next probe notices.
      let report: { status: string; checks: { storage: string } } | null = null;
      for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
        const res = await fetch(`${stowage.url}/readyz`);
        report = (await res.json()) as typeof report;
        if (res.status === 503) break;
      }
      expect(report).toEqual({ status: 'not ready', checks: { storage: 'object store: NoSuchBucket', shutdown: 'no', freeSpace: 'ok' } });
    } finally {
      await stowage.close();
    }
  });
});
