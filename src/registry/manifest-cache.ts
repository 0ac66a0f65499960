import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { acceptsManifest } from '../oci/accept.js';
import { digestAlgorithm, digestOf, type Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import { parseManifest } from '../oci/manifest.js';
import type { Reference, Tag } from '../oci/reference.js';
import type { RepositoryName } from '../oci/repository-name.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { EvictionIndex } from '../storage/eviction-index.js';
import type { ManifestRecord, MetadataStore } from '../storage/metadata-store.js';
import type { RepositoryKey } from '../storage/repository-key.js';
import { UpstreamError, type Upstream } from '../upstream/upstream.js';
import type { NotFoundCache } from './not-found-cache.js';
import type { RegistryObserver } from './registry-observer.js';
import type { ManifestContent, ManifestRequest } from './repository.js';
import { SingleFlight } from './single-flight.js';
import { isUpstreamOutage, toRegistryError } from './upstream-errors.js';

export interface FreshnessSettings {
  /** A tag younger than this is served without asking the upstream. */
  tagTtl: number;
  /** How long an upstream "not found" is remembered. */
  notFoundTtl: number;
  /** How long a client waits for a revalidation before the cached manifest is served anyway. */
  revalidateBudget: number;
}

interface Target {
  name: RepositoryName;
  remoteName: RepositoryName;
  key: RepositoryKey;
}

type Resolved = { record: ManifestRecord; stale?: boolean };

const MANIFEST_BYTES_CACHE = 64 * 1024 * 1024;

/**
 * Manifests of one upstream, with its freshness rules:
 * - by digest: immutable, served from disk forever, no upstream request;
 * - by tag, younger than tagTtl: served from disk, no upstream request;
 * - by tag, older: revalidated with an upstream HEAD (free on Docker Hub); the manifest is fetched
 *   again only if the digest changed. A revalidation slower than revalidateBudget is left to finish
 *   in the background while the cached manifest is served (stale-while-revalidate);
 * - upstream down, timing out, 5xx or 429: the last known manifest is served (stale-if-error);
 * - a 429 with `Retry-After` is honoured across requests: until then the upstream is not asked at
 *   all — cached tags are served stale, misses fail at once with 503 (never a 429 hot loop);
 * - upstream "not found": remembered for notFoundTtl; a cached tag that the upstream no longer has is
 *   forgotten (the upstream is the authority on tags), its manifest stays addressable by digest.
 * Concurrent misses and revalidations of one tag share one upstream request.
 */
export class ManifestCache {
  private readonly flights = new SingleFlight<string, Resolved>();
  /** Until when the upstream asked not to be asked again (429 `Retry-After`), by the injected clock. */
  private rateLimitedUntil = 0;
  private readonly bytes = new LRUCache<Digest, Buffer>({ maxSize: MANIFEST_BYTES_CACHE, sizeCalculation: (b) => b.length || 1 });

  constructor(
    private readonly deps: {
      upstream: Upstream;
      blobs: BlobStore;
      metadata: MetadataStore;
      cache: EvictionIndex;
      observer: RegistryObserver;
      logger: Logger;
      settings: FreshnessSettings;
      maxManifestBytes: number;
      /**
       * Set when other processes write the same store (replicas): drops what this one kept of a
       * repository, so that a tag that looks expired is read again before it is revalidated.
       */
      forgetCached?: (repo: RepositoryKey) => void;
      /** Upstream "not found" answers (shared by replicas in a cluster). */
      notFound: NotFoundCache;
      now?: () => number;
    },
  ) {}

  async get(target: Target, reference: Reference, request: ManifestRequest): Promise<ManifestContent> {
    const { record, stale } = reference.kind === 'digest'
      ? await this.byDigest(target, reference.digest)
      : await this.byTag(target, reference.tag, request.waitForRevalidation === true);
    if (!acceptsManifest(request.accept, record.mediaType)) {
      throw new RegistryError('MANIFEST_UNKNOWN', { reason: `manifest is ${record.mediaType}, which the client does not accept` });
    }
    const content: ManifestContent = { digest: record.digest, mediaType: record.mediaType, size: record.size };
    if (stale) content.stale = true;
    if (!request.head) content.bytes = await this.readBytes(target, record.digest);
    this.deps.cache.touch(record.digest); // served: most recently used, last to be evicted
    return content;
  }

  private async byDigest(target: Target, digest: Digest): Promise<Resolved> {
    const record = await this.deps.metadata.getManifest(target.key, digest);
    if (record) {
      this.count('hit');
      return { record };
    }
    return this.fetch(target, digest, `${target.key}@${digest}`, () => this.fetchAndStore(target, digest, digest));
  }

  private async byTag(target: Target, tag: Tag, wait: boolean, recheck = true): Promise<Resolved> {
    const { metadata, settings } = this.deps;
    const tagRecord = await metadata.getTag(target.key, tag);
    const record = tagRecord ? await metadata.getManifest(target.key, tagRecord.digest) : null;
    const key = `${target.key}:${tag}`;
    if (!tagRecord || !record) {
      return this.fetch(target, tag, key, async () => {
        const fetched = await this.fetchAndStore(target, tag, null);
        const now = this.now();
        await metadata.setTag(target.key, tag, { digest: fetched.record.digest, checkedAt: now, updatedAt: now });
        return fetched;
      });
    }
    const expired = this.now() - tagRecord.checkedAt >= settings.tagTtl;
    if (expired && recheck && this.deps.forgetCached) {
      // Another replica may have revalidated it a moment ago: read it from the store once more.
      this.deps.forgetCached(target.key);
      return this.byTag(target, tag, wait, false);
    }
    if (!expired) {
      this.count('hit');
      return { record };
    }
    if (this.rateLimit()) {
      this.count('stale');
      return { record, stale: true };
    }
    const { promise } = this.flights.run(`revalidate ${key}`, () => this.revalidate(target, tag, record));
    if (wait) {
      const result = await promise;
      this.count(result.stale ? 'stale' : 'hit');
      return result;
    }
    const timer = new Promise<null>((resolve) => setTimeout(resolve, settings.revalidateBudget, null).unref());
    const result = await Promise.race([promise, timer]);
    if (result === null) {
      promise.catch(() => {}); // finishes in the background; its outcome lands in the store
      this.count('hit');
      return { record };
    }
    this.count(result.stale ? 'stale' : 'hit');
    return result;
  }

  /** A miss: one upstream fetch per key, shared by concurrent callers; "not found" remembered. */
  private async fetch(target: Target, reference: string, key: string, task: () => Promise<Resolved>): Promise<Resolved> {
    if (await this.deps.notFound.has(key)) {
      this.count('negative');
      throw new RegistryError('MANIFEST_UNKNOWN', { name: target.name, reference, cached: true });
    }
    const rateLimited = this.rateLimit();
    if (rateLimited) throw toRegistryError(rateLimited, 'MANIFEST_UNKNOWN', { name: target.name, reference });
    const { promise, joined } = this.flights.run(key, task);
    this.count(joined ? 'coalesced' : 'miss');
    try {
      return await promise;
    } catch (e) {
      if (e instanceof UpstreamError && e.kind === 'not-found') this.rememberMissing(key);
      this.noteRateLimit(e);
      throw toRegistryError(e, 'MANIFEST_UNKNOWN', { name: target.name, reference });
    }
  }

  private async revalidate(target: Target, tag: Tag, cached: ManifestRecord): Promise<Resolved> {
    const { upstream, metadata, logger } = this.deps;
    try {
      const head = await upstream.headManifest(target.remoteName, tag);
      let record = cached;
      if (head.digest !== cached.digest) {
        // Changed (or the upstream did not say): fetch by digest when known, so the bytes are verifiable.
        record = (await this.fetchAndStore(target, head.digest ?? tag, head.digest)).record;
      }
      const now = this.now();
      await metadata.setTag(target.key, tag, { digest: record.digest, checkedAt: now, updatedAt: now });
      return { record };
    } catch (e) {
      this.noteRateLimit(e);
      if (isUpstreamOutage(e)) {
        logger.warn({ upstream: upstream.name, err: e }, 'upstream unavailable; serving cached manifest (stale-if-error)');
        return { record: cached, stale: true };
      }
      if (e instanceof UpstreamError && e.kind === 'not-found') {
        await metadata.deleteTag(target.key, tag);
        this.rememberMissing(`${target.key}:${tag}`);
      }
      throw toRegistryError(e, 'MANIFEST_UNKNOWN', { name: target.name, reference: tag });
    }
  }

  /** GET from upstream, verify, store bytes and record. Nothing is stored unless it verified. */
  private async fetchAndStore(target: Target, reference: string, expected: Digest | null): Promise<Resolved> {
    const { upstream, blobs, metadata, observer, maxManifestBytes } = this.deps;
    const response = await upstream.getManifest(target.remoteName, reference);
    if (response.bytes.length > maxManifestBytes) {
      throw new RegistryError('MANIFEST_INVALID', { reason: `upstream manifest exceeds ${maxManifestBytes} bytes` });
    }
    const parsed = parseManifest(response.bytes, response.mediaType);
    const claimed = expected ?? response.digest;
    const digest = digestOf(response.bytes, claimed ? digestAlgorithm(claimed) : 'sha256');
    if (claimed && claimed !== digest) {
      observer.digestMismatch({ upstream: upstream.name, kind: 'manifest' });
      throw new RegistryError('UPSTREAM_UNAVAILABLE', { reason: 'upstream manifest does not match its digest', expected: claimed, actual: digest });
    }
    await blobs.putBytes(digest, response.bytes);
    const record: ManifestRecord = {
      digest,
      mediaType: parsed.mediaType,
      size: response.bytes.length,
      ...(parsed.subject ? { subject: parsed.subject.digest } : {}),
      ...(parsed.artifactType ? { artifactType: parsed.artifactType } : {}),
      storedAt: this.now(),
    };
    await metadata.putManifest(target.key, record);
    await this.deps.cache.add(digest, response.bytes.length);
    this.bytes.set(digest, response.bytes);
    return { record };
  }

  private async readBytes(target: Target, digest: Digest): Promise<Buffer> {
    const cached = this.bytes.get(digest);
    if (cached) return cached;
    let bytes: Buffer;
    try {
      bytes = await this.deps.blobs.readBytes(digest);
    } catch (e) {
      if (!(e instanceof RegistryError && e.kind === 'BLOB_UNKNOWN')) throw e;
      // The record outlived its bytes (evicted): fetch them again, by digest so they are verified.
      await this.fetch(target, digest, `${target.key}@${digest}`, () => this.fetchAndStore(target, digest, digest));
      return this.bytes.get(digest) ?? this.deps.blobs.readBytes(digest);
    }
    this.bytes.set(digest, bytes);
    return bytes;
  }

  private noteRateLimit(error: unknown): void {
    if (error instanceof UpstreamError && error.kind === 'rate-limited' && error.options.retryAfterMs !== undefined) {
      this.rateLimitedUntil = Math.max(this.rateLimitedUntil, this.now() + error.options.retryAfterMs);
    }
  }

  /** While a `Retry-After` runs: the error a request to the upstream would get, without sending it. */
  private rateLimit(): UpstreamError | null {
    const wait = this.rateLimitedUntil - this.now();
    if (wait <= 0) return null;
    return new UpstreamError('rate-limited', `${this.deps.upstream.name} asked to wait ${Math.ceil(wait / 1000)} s (Retry-After)`, {
      status: 429,
      retryAfterMs: wait,
    });
  }

  private rememberMissing(key: string): void {
    this.deps.notFound.remember(key, this.deps.settings.notFoundTtl);
  }

  private count(result: 'hit' | 'miss' | 'stale' | 'coalesced' | 'negative'): void {
    this.deps.observer.cacheRequest({ upstream: this.deps.upstream.name, kind: 'manifest', result });
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }
}
