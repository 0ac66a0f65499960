import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import type { Descriptor } from '../oci/manifest.js';
import type { Reference } from '../oci/reference.js';
import type { RepositoryName } from '../oci/repository-name.js';
import type { BlobReader, BlobStore } from '../storage/blob-store.js';
import type { EvictionIndex } from '../storage/eviction-index.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import type { RepositoryKey } from '../storage/repository-key.js';
import type { UploadSession } from '../storage/upload-store.js';
import type { Upstream } from '../upstream/upstream.js';
import type { BlobFills } from './blob-fills.js';
import type { BlobHolders } from './blob-holders.js';
import type { ContentLock } from './content-lock.js';
import { fillHere, type FillCoordinator } from './fill-coordinator.js';
import { bytesToSend, resolveRange } from './byte-range.js';
import type { ManifestCache } from './manifest-cache.js';
import type { RegistryObserver } from './registry-observer.js';
import type { ReferrersCache } from './referrers-cache.js';
import type { BlobBody, ManifestContent, ManifestRequest, PutManifestResult, RangeRequest, ReferrerList, Repository } from './repository.js';
import { toRegistryError } from './upstream-errors.js';

export interface ProxiedDeps {
  upstream: Upstream;
  blobs: BlobStore;
  metadata: MetadataStore;
  fills: BlobFills;
  /** Who downloads a missing blob: this process, or the replica downloading it already. */
  coordinator: FillCoordinator;
  manifests: ManifestCache;
  referrers: ReferrersCache;
  holders: BlobHolders;
  cache: EvictionIndex;
  observer: RegistryObserver;
  logger: Logger;
  /** Linking a blob stored for another repository is a new reference: GC must not delete it meanwhile. */
  content: ContentLock;
}

/**
 * How long a request keeps looking for the replica that downloads a blob (it finished, failed or
 * died meanwhile) before downloading it here regardless: longer than a claim of a replica that died
 * takes to expire (cluster.claimTtl, 10 s by default).
 */
const PEER_WAIT_MS = 30_000;

/**
 * A read-only mirror of one upstream repository. Blobs are filled once and then served from disk;
 * manifests and tags follow the freshness rules of ManifestCache. Every write is refused before any
 * request body is read.
 */
export class ProxiedRepository implements Repository {
  constructor(
    readonly name: RepositoryName,
    /** The repository's name at the upstream (`library/alpine`). */
    readonly remoteName: RepositoryName,
    readonly key: RepositoryKey,
    private readonly deps: ProxiedDeps,
  ) {}

  private get upstreamName(): string {
    return this.deps.upstream.name;
  }

  async statBlob(digest: Digest): Promise<{ digest: Digest; size: number }> {
    const cached = await this.cachedBlob(digest);
    if (cached) return cached;
    try {
      const { size } = await this.deps.upstream.headBlob(this.remoteName, digest);
      return { digest, size };
    } catch (e) {
      throw toRegistryError(e, 'BLOB_UNKNOWN', { digest });
    }
  }

  async openBlob(digest: Digest, range: RangeRequest | null): Promise<BlobBody> {
    const cached = await this.cachedBlob(digest);
    if (cached) return this.serveStored(cached, range);
    return this.fillBlob(digest, range);
  }

  /**
   * A blob that is not stored (for this repository) yet: joins the download running in this
   * process, or asks the coordinator who downloads it — this process, or the replica that owns the
   * download already, whose bytes are streamed from there as they arrive. When that replica turns
   * out not to have it any more (it just finished, failed or died), the store is checked and the
   * coordinator asked again until PEER_WAIT_MS have passed; then the blob is downloaded here.
   */
  private async fillBlob(digest: Digest, range: RangeRequest | null): Promise<BlobBody> {
    const { fills, coordinator } = this.deps;
    const giveUpAt = Date.now() + PEER_WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      const plan = fills.has(digest) || Date.now() > giveUpAt ? fillHere() : await coordinator.plan(digest);
      if (plan.where === 'here') return this.fillHere(digest, range, plan.started);
      const blob = await plan.open(range);
      if (blob) {
        this.deps.observer.cacheRequest({ upstream: this.upstreamName, kind: 'blob', result: 'coalesced' });
        return { digest, ...blob, reader: this.linkedAfter(blob.reader, digest), source: 'upstream' };
      }
      const cached = await this.cachedBlob(digest);
      if (cached) return this.serveStored(cached, range);
      await sleep(Math.min(50 * 2 ** attempt, 1_000));
    }
  }

  private async fillHere(digest: Digest, range: RangeRequest | null, started: (done: Promise<unknown>) => void): Promise<BlobBody> {
    const { fills, observer, upstream } = this.deps;
    const requester = { upstream: this.upstreamName, repository: this.key };
    const { fill, joined } = fills.join(digest, requester, (offset) => upstream.getBlob(this.remoteName, digest, { offset }));
    if (!joined) started(fill.done);
    observer.cacheRequest({ upstream: this.upstreamName, kind: 'blob', result: joined ? 'coalesced' : 'miss' });
    // Link on success whoever started the fill: this repository asked for it, so may serve it.
    fills.afterCommit(fill, async (info) => {
      if (!fill.stored) return; // passed through while the disk is short of space: nothing to link
      await this.deps.metadata.linkBlob(this.key, digest);
      this.deps.holders.add(this.key, digest);
      if (!joined) await this.deps.cache.add(digest, info.size);
    });
    return { digest, ...(await fills.read(fill, range)), source: 'upstream' };
  }

  private async serveStored(stored: { digest: Digest; size: number }, range: RangeRequest | null): Promise<BlobBody> {
    this.deps.observer.cacheRequest({ upstream: this.upstreamName, kind: 'blob', result: 'hit' });
    this.deps.cache.touch(stored.digest);
    const location = await this.deps.blobs.directUrl(stored.digest);
    if (location) return { digest: stored.digest, size: stored.size, location };
    const resolved = range ? resolveRange(range, stored.size) : undefined;
    const reader = await this.deps.blobs.openReader(stored.digest, bytesToSend(resolved, stored.size));
    return { digest: stored.digest, size: stored.size, reader, source: 'cache', ...(resolved ? { range: resolved } : {}) };
  }

  /**
   * `reader`, linking the blob into this repository once every byte was sent: a peer releases the
   * last byte only after the digest matched and the blob was stored, so the link is to content
   * that exists.
   */
  private linkedAfter(reader: BlobReader, digest: Digest): BlobReader {
    return {
      length: reader.length,
      ready: () => reader.ready(),
      pipeTo: async (destination) => {
        await reader.pipeTo(destination);
        this.deps.metadata.linkBlob(this.key, digest).then(
          () => this.deps.holders.add(this.key, digest),
          (err: unknown) => this.deps.logger.warn({ err, digest }, 'could not link a blob streamed from a peer'),
        );
      },
      close: () => reader.close(),
    };
  }

  getManifest(reference: Reference, request: ManifestRequest): Promise<ManifestContent> {
    return this.deps.manifests.get(this, reference, request);
  }

  async listTags(): Promise<string[]> {
    const { upstream, metadata, logger } = this.deps;
    try {
      const tags: string[] = [];
      let last: string | undefined;
      // Bounded: a repository with more tags than this is listed partially rather than hammering upstream.
      for (let page = 0; page < 20; page++) {
        const result = await upstream.listTags(this.remoteName, { n: 1000, ...(last ? { last } : {}) });
        tags.push(...result.tags);
        if (!result.next) break;
        last = result.next;
      }
      return [...new Set(tags)].sort();
    } catch (e) {
      const cached = await metadata.listTags(this.key);
      if (cached.length === 0) throw toRegistryError(e, 'NAME_UNKNOWN', { name: this.name });
      logger.warn({ upstream: this.upstreamName, err: e }, 'tag list from upstream failed; serving cached tags');
      return cached;
    }
  }

  listReferrers(digest: Digest): Promise<ReferrerList> {
    return this.deps.referrers.get(this, digest);
  }

  /** A blob this repository may serve from disk: linked here, or stored and confirmed by the upstream. */
  private async cachedBlob(digest: Digest): Promise<{ digest: Digest; size: number } | null> {
    const { blobs, metadata, upstream } = this.deps;
    const info = await blobs.stat(digest);
    if (!info) return null;
    if (await metadata.hasBlob(this.key, digest)) return info;
    // Stored for another repository: serve it only if the upstream confirms this one has it too,
    // so a proxied path can never read a hosted repository's private blob.
    return this.deps.content.hold([digest], async () => {
      try {
        await upstream.headBlob(this.remoteName, digest);
      } catch {
        return null;
      }
      const stored = await blobs.stat(digest); // still there: a GC run may have taken it meanwhile
      if (!stored) return null;
      await metadata.linkBlob(this.key, digest);
      this.deps.holders.add(this.key, digest);
      return stored;
    });
  }

  // Writes: a proxied repository mirrors its upstream and is read-only.
  private readOnly(): never {
    throw new RegistryError('UNSUPPORTED', { name: this.name, upstream: this.upstreamName }, {
      message: `${this.name} is a read-only mirror of ${this.upstreamName}; push to a hosted repository instead`,
    });
  }
  async deleteBlob(): Promise<void> { this.readOnly(); }
  async putManifest(): Promise<PutManifestResult> { this.readOnly(); }
  async deleteManifest(): Promise<void> { this.readOnly(); }
  async startUpload(): Promise<UploadSession> { this.readOnly(); }
  async mountBlob(): Promise<boolean> { this.readOnly(); }
  async getUpload(): Promise<UploadSession> { this.readOnly(); }
  async appendUpload(): Promise<UploadSession> { this.readOnly(); }
  async completeUpload(): Promise<{ digest: Digest; size: number }> { this.readOnly(); }
  async cancelUpload(): Promise<void> { this.readOnly(); }
}
