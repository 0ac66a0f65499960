import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { expectUpstreamError, readAll, UpstreamFixture } from './upstream-fixture.js';

const fixture = new UpstreamFixture();
const hubs: FakeHub[] = [];

/** A hub with `library/alpine:3.20`, its challenge already learned by `upstream` and the log cleared. */
async function warmHub(overrides: Parameters<UpstreamFixture['create']>[1] = {}) {
  const fake = await startFakeHub();
  hubs.push(fake);
  const image = fake.addImage('library/alpine', '3.20');
  const created = fixture.create(fake.url, overrides);
  await created.upstream.headManifest('library/alpine', '3.20');
  fake.reset();
  created.observer.retries.length = 0;
  created.observer.requests.length = 0;
  return { fake, image, ...created };
}

afterEach(async () => {
  await fixture.closeAll();
  await Promise.all(hubs.splice(0).map((h) => h.close()));
});

describe('retries', () => {
  it('waits for a short Retry-After on 429, retries once, then succeeds', async () => {
    const { fake, image, upstream, observer } = await warmHub();
    fake.faults.fail('manifest', { status: 429, retryAfter: 1 });

    const started = Date.now();
    const manifest = await upstream.getManifest('library/alpine', '3.20');

    expect(manifest.digest).toBe(image.digest);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(fake.requests.map((r) => r.status)).toEqual([429, 200]);
    expect(observer.retries).toEqual(['429']);
  });

  it("fails fast with 'rate-limited' and retryAfterMs when Retry-After exceeds the cap", async () => {
    const { fake, upstream, observer } = await warmHub();
    fake.faults.fail('manifest', { status: 429, retryAfter: 3600, times: Infinity });

    const started = Date.now();
    const error = await expectUpstreamError(upstream.getManifest('library/alpine', '3.20'), 'rate-limited');

    expect(Date.now() - started).toBeLessThan(1_500); // far below the 2 s cap it would otherwise honour
    expect(error.options.retryAfterMs).toBe(3_600_000);
    expect(error.options.status).toBe(429);
    expect(fake.count({ kind: 'manifest' })).toBe(1);
    expect(observer.retries).toEqual([]);
  });

  it('accepts Retry-After as an HTTP date', async () => {
    const { fake, upstream } = await warmHub();
    fake.faults.fail('manifest', { status: 429, retryAfter: new Date(Date.now() + 7_200_000).toUTCString(), times: Infinity });

    const error = await expectUpstreamError(upstream.headManifest('library/alpine', '3.20'), 'rate-limited');
    expect(error.options.retryAfterMs).toBeGreaterThan(7_000_000);
  });

  it("backs off on 429 without Retry-After (no hot loop), then reports 'rate-limited'", async () => {
    const { fake, upstream, observer } = await warmHub({ retries: 3 });
    fake.faults.fail('manifest', { status: 429, times: Infinity });

    await expectUpstreamError(upstream.getManifest('library/alpine', '3.20'), 'rate-limited');

    expect(fake.count({ kind: 'manifest' })).toBe(4);
    expect(observer.retries).toEqual(['429', '429', '429']);
  });

  it('retries 503 with backoff and succeeds', async () => {
    const { fake, image, upstream, observer } = await warmHub({ retries: 3 });
    fake.faults.fail('manifest', { status: 503, times: 2 });

    const manifest = await upstream.getManifest('library/alpine', '3.20');

    expect(manifest.digest).toBe(image.digest);
    expect(fake.requests.map((r) => r.status)).toEqual([503, 503, 200]);
    expect(observer.retries).toEqual(['503', '503']);
    expect(observer.requests.map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it("gives up on 5xx after the configured retries with 'unavailable'", async () => {
    const { fake, upstream } = await warmHub({ retries: 2 });
    fake.faults.fail('blob', { status: 502, times: Infinity });

    await expectUpstreamError(upstream.headBlob('library/alpine', fakeDigest()), 'unavailable');
    expect(fake.count({ kind: 'blob' })).toBe(3);
  });

  it('does not retry 500', async () => {
    const { fake, upstream, observer } = await warmHub();
    fake.faults.fail('manifest', { status: 500 });

    const error = await expectUpstreamError(upstream.getManifest('library/alpine', '3.20'), 'unavailable');
    expect(error.options.status).toBe(500);
    expect(observer.retries).toEqual([]);
  });

  it("retries connection failures and then reports 'unavailable'", async () => {
    const { fake, upstream, observer } = await warmHub({ retries: 2 });
    await fake.faults.down('refuse');

    const error = await expectUpstreamError(upstream.headManifest('library/alpine', '3.20'), 'unavailable');

    expect(error.message).toContain('ECONNREFUSED');
    expect(observer.requests.map((r) => r.status)).toEqual(['error', 'error', 'error']);
    expect(observer.retries).toEqual(['network', 'network']);
    await fake.faults.up();
    await expect(upstream.headManifest('library/alpine', '3.20')).resolves.toBeTruthy();
  });

  it('retries a request whose headers never come (headers timeout)', async () => {
    const { fake, image, upstream } = await warmHub({ headersTimeoutMs: 200 });
    fake.faults.stall('manifest');

    const manifest = await upstream.getManifest('library/alpine', '3.20');
    expect(manifest.digest).toBe(image.digest);
    expect(fake.requests.map((r) => r.status)).toEqual([0, 200]);
  });

  it('stops at once when the caller aborts', async () => {
    const { fake, upstream } = await warmHub();
    fake.faults.stall('manifest');
    const controller = new AbortController();

    const pending = upstream.getManifest('library/alpine', '3.20', controller.signal);
    setTimeout(() => controller.abort(), 30);

    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('concurrency cap', () => {
  it('limits requests in flight to the upstream', async () => {
    const { fake, upstream } = await warmHub({ concurrency: 1 });
    fake.faults.delay('manifest', 60);

    const started = Date.now();
    await Promise.all(Array.from({ length: 4 }, () => upstream.headManifest('library/alpine', '3.20')));

    expect(Date.now() - started).toBeGreaterThanOrEqual(4 * 60 - 10);
  });

  it('does not hold a slot while a blob body streams (manifests are not starved)', async () => {
    const { fake, upstream } = await warmHub({ concurrency: 1 });
    const digest = fake.addBlob('library/alpine', randomBytes(1024 * 1024));

    const blob = await upstream.getBlob('library/alpine', digest); // body left unread for now
    const head = await upstream.headManifest('library/alpine', '3.20');

    expect(head.digest).not.toBeNull();
    expect((await readAll(blob.body)).length).toBe(1024 * 1024);
  });
});

function fakeDigest() {
  return `sha256:${'ab'.repeat(32)}` as import('../../src/oci/digest.js').Digest;
}
