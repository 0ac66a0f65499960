import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Digest } from '../../src/oci/digest.js';
import { UpstreamError } from '../../src/upstream/upstream.js';
import { startFakeHub, type FakeHub, type FakeHubOptions } from '../support/fake-hub.js';
import { expectUpstreamError, readAll, sha256, UpstreamFixture } from './upstream-fixture.js';

const fixture = new UpstreamFixture();
const hubs: FakeHub[] = [];

async function hubWithBlob(options: FakeHubOptions, size = 256 * 1024): Promise<{ fake: FakeHub; bytes: Buffer; digest: Digest }> {
  const fake = await startFakeHub(options);
  hubs.push(fake);
  const bytes = randomBytes(size);
  const digest = fake.addBlob('library/alpine', bytes);
  return { fake, bytes, digest };
}

afterEach(async () => {
  await fixture.closeAll();
  await Promise.all(hubs.splice(0).map((h) => h.close()));
});

describe('blob downloads', () => {
  it('follows the 307 to the CDN without forwarding Authorization', async () => {
    const { fake, bytes, digest } = await hubWithBlob({ cdn: true });
    const { upstream, observer } = fixture.create(fake.url);

    const blob = await upstream.getBlob('library/alpine', digest);
    const received = await readAll(blob.body);

    expect(sha256(received)).toBe(digest);
    expect(blob.size).toBe(bytes.length);
    // The CDN answers 400 to any request with Authorization, so a leak would have failed the read;
    // check the log too, to say why.
    expect(fake.requests.filter((r) => r.kind === 'cdn').map((r) => [r.status, r.authorization])).toEqual([[200, false]]);
    expect(fake.count({ kind: 'blob', status: 307, authorization: true })).toBe(1);
    expect(observer.bytesReceived).toBe(bytes.length);
  });

  it('serves blobs directly with Range from an offset', async () => {
    const { fake, bytes, digest } = await hubWithBlob({ auth: 'none' });
    const { upstream } = fixture.create(fake.url);

    const blob = await upstream.getBlob('library/alpine', digest, { offset: 1000 });

    expect(blob).toMatchObject({ size: bytes.length, offset: 1000 });
    expect((await readAll(blob.body)).equals(bytes.subarray(1000))).toBe(true);
    expect(fake.requests.find((r) => r.kind === 'blob')?.range).toBe('bytes=1000-');
  });

  it('HEADs a blob for its size', async () => {
    const { fake, bytes, digest } = await hubWithBlob({ cdn: true });
    const { upstream } = fixture.create(fake.url);

    expect(await upstream.headBlob('library/alpine', digest)).toEqual({ size: bytes.length });
  });

  it("answers 'not-found' for an unknown blob", async () => {
    const { fake } = await hubWithBlob({});
    const { upstream } = fixture.create(fake.url);

    await expectUpstreamError(upstream.getBlob('library/alpine', sha256(Buffer.from('nope')) as Digest), 'not-found');
  });

  it('resumes a body cut mid-way with Range and delivers exactly the right bytes', async () => {
    const { fake, bytes, digest } = await hubWithBlob({ cdn: true }, 512 * 1024);
    fake.faults.cutBody({ afterBytes: 100_000 });
    const { upstream, observer } = fixture.create(fake.url);

    const blob = await upstream.getBlob('library/alpine', digest);
    const received = await readAll(blob.body);

    expect(received.length).toBe(bytes.length);
    expect(sha256(received)).toBe(digest);
    const ranged = fake.requests.filter((r) => r.range !== undefined);
    expect(ranged.length).toBeGreaterThanOrEqual(1);
    // The resume starts at a byte the client really received (at most the 100 000 sent before the cut).
    const start = Number(/^bytes=(\d+)-$/.exec(ranged[0]?.range ?? '')?.[1]);
    expect(start).toBeGreaterThan(0);
    expect(start).toBeLessThanOrEqual(100_000);
    expect(observer.resumes).toBe(1);
    // The resume goes back through the registry (a fresh signed URL), not to the old CDN URL.
    expect(fake.count({ kind: 'blob', method: 'GET', status: 307 })).toBe(2);
  });

  it('resumes when the upstream answers the Range request with 200 (skips the bytes already sent)', async () => {
    const { fake, bytes, digest } = await hubWithBlob({ auth: 'none' }, 300_000);
    fake.faults.cutBody({ afterBytes: 70_000 });
    fake.faults.ignoreRange();
    const { upstream } = fixture.create(fake.url);

    const blob = await upstream.getBlob('library/alpine', digest);
    const received = await readAll(blob.body);

    expect(received.equals(bytes)).toBe(true);
    expect(fake.requests.map((r) => r.status)).toEqual([200, 200]);
  });

  it('errors the stream (never ends short) when every resume is cut as well', async () => {
    const { fake, digest } = await hubWithBlob({ cdn: true }, 256 * 1024);
    fake.faults.cutBody({ afterBytes: 10_000, times: Infinity });
    const { upstream, observer } = fixture.create(fake.url, { blobResumes: 2 });

    const blob = await upstream.getBlob('library/alpine', digest);
    const error = await readAll(blob.body).then(
      () => null,
      (e: unknown) => e,
    );

    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).kind).toBe('unavailable');
    expect(observer.resumes).toBe(2);
    expect(fake.count({ kind: 'cdn' })).toBe(3);
  });

  it('resumes after a body that goes silent (body timeout)', async () => {
    const { fake, bytes, digest } = await hubWithBlob({ cdn: true }, 64 * 1024);
    fake.faults.cutBody({ afterBytes: 1_000, mode: 'stall' });
    const { upstream, observer } = fixture.create(fake.url, { blobResumes: 1, bodyTimeoutMs: 150 });

    const blob = await upstream.getBlob('library/alpine', digest);

    expect((await readAll(blob.body)).equals(bytes)).toBe(true);
    expect(observer.resumes).toBe(1);
  });

  it('errors the stream when the body goes silent and resuming is disabled', async () => {
    const { fake, digest } = await hubWithBlob({ auth: 'none' }, 64 * 1024);
    fake.faults.cutBody({ afterBytes: 1_000, mode: 'stall' });
    const { upstream } = fixture.create(fake.url, { blobResumes: 0, bodyTimeoutMs: 150 });

    const blob = await upstream.getBlob('library/alpine', digest);
    await expect(readAll(blob.body)).rejects.toMatchObject({ kind: 'unavailable' });
  });

  it("fails with 'invalid' for an offset beyond the blob (416), never an empty stream", async () => {
    const { fake, digest } = await hubWithBlob({ auth: 'none' });
    const { upstream } = fixture.create(fake.url);
    await expectUpstreamError(upstream.getBlob('library/alpine', digest, { offset: 10 * 1024 * 1024 }), 'invalid');
  });

  it('stops downloading when the caller destroys the stream', async () => {
    const { fake, digest } = await hubWithBlob({ cdn: true }, 4 * 1024 * 1024);
    const { upstream } = fixture.create(fake.url);

    const blob = await upstream.getBlob('library/alpine', digest);
    await new Promise<void>((resolve) => blob.body.once('data', () => resolve()));
    blob.body.destroy();
    await new Promise((resolve) => setTimeout(resolve, 20));

    expect(blob.body.destroyed).toBe(true);
    expect(fake.count({ kind: 'cdn' })).toBe(1);
  });

  it('close() does not wait forever for a blob stream nobody reads', async () => {
    const { fake, digest } = await hubWithBlob({ auth: 'none' }, 8 * 1024 * 1024);
    const { upstream } = fixture.create(fake.url, { bodyTimeoutMs: 300 });

    const blob = await upstream.getBlob('library/alpine', digest);
    blob.body.on('error', () => {});
    const started = Date.now();
    await upstream.close();

    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
