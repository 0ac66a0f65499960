import type { Readable } from 'node:stream';
import { expect } from 'vitest';
import { createUpstream, type UpstreamDeps } from '../../src/upstream/create-upstream.js';
import { UpstreamError, type Upstream, type UpstreamErrorKind, type UpstreamObserver, type UpstreamSettings } from '../../src/upstream/upstream.js';

/** Settings for tests: short timeouts, tiny backoff, so the whole suite stays fast. */
export function testSettings(url: string, overrides: Partial<UpstreamSettings> = {}): UpstreamSettings {
  return {
    name: 'hub',
    url,
    concurrency: 8,
    connectTimeoutMs: 2_000,
    headersTimeoutMs: 2_000,
    requestDeadlineMs: 10_000,
    bodyTimeoutMs: 2_000,
    retries: 2,
    blobResumes: 2,
    maxManifestBytes: 4 * 1024 * 1024,
    ...overrides,
  };
}

export const FAST_RETRY = { baseDelayMs: 5, maxDelayMs: 20, retryAfterCapMs: 2_000 };

/** Every upstream created here is closed by `closeAll()` (call it in afterEach). */
export class UpstreamFixture {
  private readonly created: Upstream[] = [];

  create(url: string, overrides: Partial<UpstreamSettings> = {}, deps: UpstreamDeps = {}): { upstream: Upstream; observer: RecordingObserver } {
    const observer = new RecordingObserver();
    const upstream = createUpstream(testSettings(url, overrides), { observer, retry: FAST_RETRY, ...deps });
    this.created.push(upstream);
    return { upstream, observer };
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.created.splice(0).map((u) => u.close()));
  }
}

/** A counting fake of the metrics hooks. */
export class RecordingObserver implements UpstreamObserver {
  readonly requests: Array<{ method: string; status: number | 'error'; seconds: number }> = [];
  readonly rateLimits: Array<{ limit: number | null; remaining: number | null }> = [];
  readonly retries: string[] = [];
  resumes = 0;
  bytesReceived = 0;

  request(event: { upstream: string; method: string; status: number | 'error'; seconds: number }): void {
    this.requests.push({ method: event.method, status: event.status, seconds: event.seconds });
  }
  rateLimit(event: { upstream: string; limit: number | null; remaining: number | null }): void {
    this.rateLimits.push({ limit: event.limit, remaining: event.remaining });
  }
  retry(event: { upstream: string; reason: string }): void {
    this.retries.push(event.reason);
  }
  resume(): void {
    this.resumes++;
  }
  bytes(event: { upstream: string; bytes: number }): void {
    this.bytesReceived += event.bytes;
  }
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

import { sha256 } from '../support/digests.js';

export { sha256 };

/** Awaits `promise`, expecting an UpstreamError of `kind`; returns it for further checks. */
export async function expectUpstreamError(promise: Promise<unknown>, kind: UpstreamErrorKind): Promise<UpstreamError> {
  const error = await promise.then(
    () => {
      throw new Error(`expected UpstreamError '${kind}', but it succeeded`);
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UpstreamError);
  expect((error as UpstreamError).kind).toBe(kind);
  return error as UpstreamError;
}
