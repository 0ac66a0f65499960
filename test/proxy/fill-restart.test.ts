/**
 * A fill interrupted by a crash (issue 9): a real Stowage process is SIGKILLed in the middle of a
 * cold 300 MB blob, and the next process on the same data directory continues the download with
 * `Range` from the bytes already spooled — re-hashing them, never downloading them again, never
 * serving them as a finished blob. The fake hub counts what it sent.
 */
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeHub, type FakeHub, type HubRequest } from '../support/fake-hub.js';
import { tempDir, waitFor } from '../support/processes.js';
import { buildStowage, startStowageProcess, type StowageProcess } from '../support/stowage-process.js';

const MB = 1024 * 1024;

/** Reads the blob until at least `bytes` arrived; returns how many did and a way to drop the rest. */
async function readUntil(url: string, bytes: number): Promise<{ received: number; drop(): Promise<void> }> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  const reader = response.body!.getReader();
  let received = 0;
  while (received < bytes) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`the blob ended after ${received} bytes`);
    received += value.length;
  }
  return { received, drop: () => reader.cancel().catch(() => {}) };
}

/** The digest of a whole response body, hashed as it streams. */
async function bodyDigest(response: Response): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) hash.update(chunk);
  return `sha256:${hash.digest('hex')}`;
}

const cdnRequests = (hub: FakeHub): HubRequest[] => hub.requests.filter((r) => r.kind === 'cdn');

describe('a fill interrupted by kill -9', () => {
  let hub: FakeHub;
  let work: Awaited<ReturnType<typeof tempDir>>;
  const running: StowageProcess[] = [];

  beforeAll(async () => {
    [hub, work] = await Promise.all([startFakeHub({ auth: 'anonymous-token', cdn: true }), tempDir('fill-restart')]);
    await buildStowage();
  }, 150_000);
  afterAll(async () => {
    for (const stowage of running) await stowage.stop();
    await hub?.close();
    await work?.remove();
  });

  async function start(dataDir: string, extra: Record<string, unknown> = {}): Promise<StowageProcess> {
    const stowage = await startStowageProcess(dataDir, {
      hosted: ['team/**'],
      upstreams: { 'docker.io': { url: hub.url } },
      defaultUpstream: 'docker.io',
      log: { level: 'warn' },
      ...extra,
    });
    running.push(stowage);
    return stowage;
  }

  it('is resumed with Range after a restart: the upstream sends the blob about once, the client gets the right digest', async () => {
    const size = 300 * MB;
    const layer = hub.addImage('library/big', 'v1', { layerCount: 1, layerSize: size }).layers[0]!;
    const dataDir = join(work.path, 'resume');
    hub.reset();
    // Paced so that "40%" is a moment the test can catch: the whole blob takes ~3 s.
    hub.faults.bandwidth = 100 * MB;
    const url = (stowage: StowageProcess): string => `${stowage.url}/v2/library/big/blobs/${layer.digest}`;

    const first = await start(dataDir);
    const client = await readUntil(url(first), 0.4 * size);
    await first.crash();
    await client.drop();
    expect(cdnRequests(hub)).toHaveLength(1);

    const second = await start(dataDir);
    // The spooled bytes are not a blob: HEAD still asks the upstream.
    const upstreamHeads = (): number => hub.count({ kind: 'blob', method: 'HEAD', status: 200 });
    const heads = upstreamHeads();
    const head = await fetch(url(second), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(size));
    expect(upstreamHeads()).toBe(heads + 1);

    const response = await fetch(url(second));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-length')).toBe(String(size));
    expect(await bodyDigest(response)).toBe(layer.digest);

    const [cold, resumed] = cdnRequests(hub);
    expect(cdnRequests(hub)).toHaveLength(2);
    expect(cold!.range).toBeUndefined();
    // Everything the client had received was on disk, and the download went on from there.
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(resumed!.range ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThanOrEqual(client.received);
    expect(resumed!.bodyBytes).toBe(size - resumedAt);
    // In total the restart cost what was in flight when the process died (socket buffers, measured
    // 6-9 MB here): a few percent at most.
    const sent = cold!.bodyBytes + resumed!.bodyBytes;
    expect(sent).toBeGreaterThanOrEqual(size);
    expect(sent, `the upstream sent ${sent} bytes for a ${size}-byte blob`).toBeLessThanOrEqual(size * 1.05);

    // Now cached: served from disk, no upstream traffic.
    hub.reset();
    expect(await bodyDigest(await fetch(url(second)))).toBe(layer.digest);
    expect(cdnRequests(hub)).toHaveLength(0);
  }, 120_000);

  it('is deleted once idle for limits.uploadSessionTtl, and the next request downloads the blob afresh', async () => {
    const size = 8 * MB;
    const layer = hub.addImage('library/forgotten', 'v1', { layerCount: 1, layerSize: size }).layers[0]!;
    const dataDir = join(work.path, 'purge');
    hub.reset();
    hub.faults.bandwidth = 4 * MB;
    const first = await start(dataDir);
    const client = await readUntil(`${first.url}/v2/library/forgotten/blobs/${layer.digest}`, 0.4 * size);
    await first.crash();
    await client.drop();
    // What the crash left, as the fs driver keeps it (layout.ts: fills/).
    expect(await readdir(join(dataDir, 'fills'))).not.toEqual([]);

    hub.reset();
    const second = await start(dataDir, { limits: { uploadSessionTtl: '1s' } });
    await waitFor(async () => (await readdir(join(dataDir, 'fills'))).length === 0, {
      timeoutMs: 15_000,
      description: 'the idle partial fill to be purged',
    });
    const response = await fetch(`${second.url}/v2/library/forgotten/blobs/${layer.digest}`);
    expect(await bodyDigest(response)).toBe(layer.digest);
    expect(cdnRequests(hub).map((r) => [r.range, r.bodyBytes])).toEqual([[undefined, size]]);
  }, 60_000);
});
