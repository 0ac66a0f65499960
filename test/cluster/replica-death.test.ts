/**
 * Issue 13, "what N replicas must do", 2: a replica that dies in the middle of a download (a real
 * process, SIGKILLed) does not stall the others. Its claim expires after cluster.claimTtl, another
 * replica takes the download over; clients that were streaming from the dead one — directly or
 * through a peer — are cut, and their retry is served; no wrong or partial blob is ever visible.
 */
import { createHash, randomBytes } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Digest } from '../../src/oci/digest.js';
import { S3_LAYOUT } from '../../src/storage/s3/s3-layout.js';
import { scrape } from '../metrics/exposition.js';
import { startFakeHub, type FakeHub, type HubRequest } from '../support/fake-hub.js';
import { freePort, requireTool, tempDir, waitFor } from '../support/processes.js';
import { sharedStore } from '../support/stowage-cluster.js';
import { startRedis, type RedisServer } from '../support/redis-server.js';
import { createTestBucket, type TestBucket } from '../support/s3-test-bucket.js';
import { buildStowage, startStowageProcess, type StowageProcess } from '../support/stowage-process.js';

const MB = 1024 * 1024;
const cdn = (hub: FakeHub): HubRequest[] => hub.requests.filter((r) => r.kind === 'cdn');

/**
 * Reads a blob response to its end or its failure; `progress` sees the bytes so far. A cut shows as
 * `complete: false` (the body failed or ended short of Content-Length).
 */
async function readBlob(url: string, progress: (bytes: number) => void = () => {}): Promise<{ status: number; complete: boolean; digest: string; bytes: number }> {
  const response = await fetch(url);
  const expected = Number(response.headers.get('content-length'));
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      hash.update(chunk);
      progress(bytes);
    }
  } catch {
    return { status: response.status, complete: false, digest: '', bytes };
  }
  return { status: response.status, complete: bytes === expected, digest: `sha256:${hash.digest('hex')}`, bytes };
}

describe.skipIf(!requireTool('redis-server') || !sharedStore())('a replica that dies mid-download', () => {
  let hub: FakeHub;
  let redis: RedisServer;
  let work: Awaited<ReturnType<typeof tempDir>>;
  let bucket: TestBucket;
  const running: StowageProcess[] = [];

  beforeAll(async () => {
    [hub, redis, work, bucket] = await Promise.all([
      startFakeHub({ auth: 'anonymous-token', cdn: true }),
      startRedis(),
      tempDir('replica-death'),
      createTestBucket(sharedStore()!, undefined, { prefix: 'registry/' }),
    ]);
    await buildStowage();
  }, 150_000);
  afterAll(async () => {
    for (const stowage of running) await stowage.stop();
    await Promise.all([hub?.close(), redis?.stop(), work?.remove(), bucket?.remove()]);
  });

  async function replica(secret: string): Promise<StowageProcess> {
    const port = await freePort();
    const stowage = await startStowageProcess(
      `${work.path}/${port}`, // its own spool; the bucket is shared
      {
        storage: { driver: 's3', s3: bucket.settings },
        hosted: ['team/**'],
        upstreams: { 'docker.io': { url: hub.url } },
        defaultUpstream: 'docker.io',
        log: { level: 'warn' },
        cluster: { redis: redis.url, advertiseUrl: `http://127.0.0.1:${port}`, secret, claimTtl: '2s' },
      },
      { port },
    );
    running.push(stowage);
    // Serving before it reached Redis, it would download on its own (uncoordinated, as without Redis).
    await waitFor(async () => ((await (await fetch(`${stowage.url}/readyz`)).json()) as { checks: { redis?: string } }).checks.redis === 'ok', {
      timeoutMs: 10_000,
      description: 'the replica connected to Redis',
    });
    return stowage;
  }

  it('its claim expires, the other replica takes the download over, cut clients are served on retry', async () => {
    const secret = randomBytes(24).toString('hex');
    const [a, b] = [await replica(secret), await replica(secret)];
    const size = 48 * MB;
    const layer = hub.addImage('library/doomed', 'v1', { layerCount: 1, layerSize: size }).layers[0]!;
    hub.reset();
    hub.faults.bandwidth = 16 * MB; // 3 s for the whole blob
    const path = `/v2/library/doomed/blobs/${layer.digest}`;

    // A downloads; a client of B streams from A through the peer endpoint.
    let aQuarter!: () => void;
    let bStreaming!: () => void;
    const reachedQuarter = new Promise<void>((resolve) => (aQuarter = resolve));
    const streamingOnB = new Promise<void>((resolve) => (bStreaming = resolve));
    const onA = readBlob(`${a.url}${path}`, (bytes) => bytes >= size / 4 && aQuarter());
    await new Promise((resolve) => setTimeout(resolve, 200));
    const onB = readBlob(`${b.url}${path}`, (bytes) => bytes > 0 && bStreaming());
    await Promise.all([reachedQuarter, streamingOnB]);
    await a.crash();

    // Both were cut: nothing partial looked complete.
    const [cutA, cutB] = await Promise.all([onA, onB]);
    expect(cutA.complete).toBe(false);
    expect(cutB.complete).toBe(false);
    expect(cutB.bytes).toBeLessThan(size);

    // The retry goes to the replica that is left: it waits out the dead one's claim and downloads.
    const started = Date.now();
    const retry = await readBlob(`${b.url}${path}`);
    expect(retry).toEqual({ status: 200, complete: true, digest: layer.digest, bytes: size });
    expect(Date.now() - started, 'the takeover waited for the claim (2 s) and the download (3 s), not much longer').toBeLessThan(15_000);

    const [first, second] = cdn(hub);
    expect(cdn(hub)).toHaveLength(2);
    expect(first!.bodyBytes).toBeLessThan(size);
    // A fresh download: the dead replica's spool was its own.
    expect(second!.range).toBeUndefined();
    expect(second!.bodyBytes).toBe(size);
    expect((await scrape(b.url)).sum('stowage_cluster_fill_takeovers_total')).toBe(1);

    // What the bucket holds under the digest is the blob; the dead replica's multipart upload is
    // never visible as an object (the bucket's lifecycle rule aborts it; docs/s3.md).
    const key = `registry/${S3_LAYOUT.blob(layer.digest as Digest)}`;
    expect(await bucket.keys()).toContain(key);
    const stored = await bucket.client.send(new GetObjectCommand({ Bucket: bucket.name, Key: key }));
    const bytes = Buffer.from(await stored.Body!.transformToByteArray());
    expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(layer.digest);
  }, 90_000);
});
