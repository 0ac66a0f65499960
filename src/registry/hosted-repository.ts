import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import type { Descriptor, ParsedManifest } from '../oci/manifest.js';
import type { Reference } from '../oci/reference.js';
import type { RepositoryName } from '../oci/repository-name.js';
import { acceptsManifest } from '../oci/accept.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { EvictionIndex } from '../storage/eviction-index.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import type { RepositoryKey } from '../storage/repository-key.js';
import type { UploadSession, UploadStore } from '../storage/upload-store.js';
import { isStorageFull, storageFull } from '../storage/storage-full.js';
import { bytesToSend, resolveRange } from './byte-range.js';
import type { BlobHolders } from './blob-holders.js';
import { tagKey, type ContentLock } from './content-lock.js';
import type { FinishingUploads } from './finishing-uploads.js';
import { checkPushedManifest, referrerDescriptor } from './manifest-writes.js';
import type { RegistryObserver } from './registry-observer.js';
import {
  servesBlob,
  type BlobBody,
  type LastChunk,
  type ManifestContent,
  type ManifestRequest,
  type PutManifestResult,
  type RangeRequest,
  type ReferrerList,
  type Repository,
} from './repository.js';

export interface HostedDeps {
  blobs: BlobStore;
  metadata: MetadataStore;
  uploads: UploadStore;
  observer: RegistryObserver;
  /** Hosted content leaves the eviction index: it is not a cache. */
  cache: EvictionIndex;
  manifestMaxBytes: number;
  finishing: FinishingUploads;
  holders: BlobHolders;
  /** Shared with the garbage collector: what a write relies on is not deleted under it. */
  content: ContentLock;
  /** A write failed for want of space (ENOSPC): lifecycle/free-space.ts measures again. */
  storageFull?: () => void;
  now: () => number;
}

const finishing = (id: string): RegistryError => new RegistryError('BLOB_UPLOAD_UNKNOWN', { uuid: id }, { message: 'the upload is being completed or cancelled' });

const manifestUnknown = (reference: Reference): RegistryError =>
  new RegistryError('MANIFEST_UNKNOWN', reference.kind === 'tag' ? { tag: reference.tag } : { digest: reference.digest });

/**
 * A repository that accepts pushes. It serves only what was pushed or mounted into it: a blob in the
 * shared store is invisible here until this repository links it.
 */
export class HostedRepository implements Repository {
  constructor(
    readonly name: RepositoryName,
    readonly key: RepositoryKey,
    private readonly deps: HostedDeps,
  ) {}

  statBlob(digest: Digest): Promise<{ digest: Digest; size: number }> {
    const { blobs, metadata, content } = this.deps;
    // Held while it is looked at: a client that sees 200 and skips its upload has refreshed the
    // blob's grace period (written before the hold ends, so a GC mark sees it) or been noted by the
    // GC run in progress — the blob cannot be collected before its manifest arrives.
    return content.hold([digest], async () => {
      const info = (await metadata.hasBlob(this.key, digest)) ? await blobs.stat(digest) : null;
      if (!info) throw new RegistryError('BLOB_UNKNOWN', { digest });
      await metadata.touchBlobLink(this.key, digest).catch(() => {}); // at most once a minute per link
      return info;
    });
  }

  async openBlob(digest: Digest, range: RangeRequest | null): Promise<BlobBody> {
    const { size } = await this.statBlob(digest);
    const location = await this.deps.blobs.directUrl(digest);
    if (location) return { digest, size, location };
    const resolved = range ? resolveRange(range, size) : undefined;
    const reader = await this.deps.blobs.openReader(digest, bytesToSend(resolved, size));
    return { digest, size, reader, source: 'cache', ...(resolved ? { range: resolved } : {}) };
  }

  async deleteBlob(digest: Digest): Promise<void> {
    // Unlink only: the bytes may be shared with other repositories; GC reclaims unreferenced ones.
    if (!(await this.deps.metadata.unlinkBlob(this.key, digest))) throw new RegistryError('BLOB_UNKNOWN', { digest });
    this.deps.holders.delete(this.key, digest);
  }

  async getManifest(reference: Reference, request: ManifestRequest): Promise<ManifestContent> {
    const { metadata, blobs } = this.deps;
    const digest = reference.kind === 'digest' ? reference.digest : (await metadata.getTag(this.key, reference.tag))?.digest;
    const record = digest ? await metadata.getManifest(this.key, digest) : null;
    if (!record || !acceptsManifest(request.accept, record.mediaType)) throw manifestUnknown(reference);
    const content: ManifestContent = { digest: record.digest, mediaType: record.mediaType, size: record.size };
    if (record.subject) content.subject = record.subject;
    if (!request.head) content.bytes = await blobs.readBytes(record.digest);
    return content;
  }

  async putManifest(reference: Reference, readBody: () => Promise<Buffer>, contentType: string | undefined): Promise<PutManifestResult> {
    const { metadata, blobs, observer } = this.deps;
    const bytes = await readBody();
    const { digest, manifest } = checkPushedManifest(reference, bytes, contentType, this.deps.manifestMaxBytes);
    // What the manifest references is checked and the manifest written under one hold: a GC run
    // either deleted a blob before the check (MANIFEST_BLOB_UNKNOWN: the client uploads it again)
    // or spares everything this push relies on.
    const keys: string[] = [digest, ...manifest.blobs.map((d) => d.digest), ...manifest.manifests.map((d) => d.digest)];
    if (reference.kind === 'tag') keys.push(tagKey(this.key, reference.tag));
    return this.deps.content.hold(keys, () => this.storeManifest(reference, digest, bytes, manifest));
  }

  private async storeManifest(reference: Reference, digest: Digest, bytes: Buffer, manifest: ParsedManifest): Promise<PutManifestResult> {
    const { metadata, blobs, observer } = this.deps;
    const missing: Descriptor[] = [];
    await Promise.all([
      ...manifest.blobs.map(async (d) => {
        if (!(await metadata.hasBlob(this.key, d.digest)) || !(await blobs.stat(d.digest))) missing.push(d);
      }),
      ...manifest.manifests.map(async (d) => {
        if (!(await metadata.getManifest(this.key, d.digest))) missing.push(d);
      }),
    ]);
    if (missing.length > 0) {
      throw new RegistryError('MANIFEST_BLOB_UNKNOWN', { missing: missing.map((d) => d.digest) });
    }
    await blobs.putBytes(digest, bytes);
    await this.deps.cache.forget(digest);
    const now = this.deps.now();
    const record = {
      digest,
      mediaType: manifest.mediaType,
      size: bytes.length,
      storedAt: now,
      ...(manifest.subject ? { subject: manifest.subject.digest } : {}),
      ...(manifest.artifactType ? { artifactType: manifest.artifactType } : {}),
    };
    await metadata.putManifest(this.key, record);
    if (manifest.subject) {
      await metadata.addReferrer(this.key, manifest.subject.digest, referrerDescriptor(digest, bytes.length, manifest));
    }
    if (reference.kind === 'tag') await metadata.setTag(this.key, reference.tag, { digest, checkedAt: now, updatedAt: now });
    observer.push({ kind: 'manifest', bytes: bytes.length });
    return { digest, ...(manifest.subject ? { subject: manifest.subject.digest } : {}) };
  }

  async deleteManifest(reference: Reference): Promise<void> {
    const { metadata } = this.deps;
    const deleted = reference.kind === 'tag'
      ? await metadata.deleteTag(this.key, reference.tag)
      : await metadata.deleteManifest(this.key, reference.digest);
    if (!deleted) throw manifestUnknown(reference);
  }

  async listTags(): Promise<string[]> {
    const tags = await this.deps.metadata.listTags(this.key);
    if (tags.length === 0 && !(await this.deps.metadata.repositoryExists(this.key))) {
      throw new RegistryError('NAME_UNKNOWN', { name: this.name });
    }
    return tags;
  }

  async listReferrers(digest: Digest): Promise<ReferrerList> {
    return { manifests: await this.deps.metadata.listReferrers(this.key, digest) };
  }

  startUpload(): Promise<UploadSession> {
    return this.deps.uploads.create(this.key);
  }

  mountBlob(digest: Digest, source: Repository): Promise<boolean> {
    return this.deps.content.hold([digest], async () => {
      if (!(await servesBlob(source, digest))) return false;
      // A proxied source may only have the blob upstream: make sure it is stored before linking.
      if (!(await this.deps.blobs.stat(digest))) return false;
      await this.deps.metadata.linkBlob(this.key, digest);
      this.deps.holders.add(this.key, digest);
      await this.deps.cache.forget(digest);
      return true;
    });
  }

  async getUpload(id: string): Promise<UploadSession> {
    await this.admit(id);
    return this.deps.uploads.get(id, this.key);
  }

  async appendUpload(id: string, body: Readable, options: { start?: number; length?: number }): Promise<UploadSession> {
    await this.admit(id);
    const session = await this.deps.uploads.get(id, this.key);
    return this.deps.uploads.append(session, body, options).catch((e: unknown) => this.failedForSpace(session, e));
  }

  /**
   * A chunk that could not be stored for want of space: the session goes at once — its bytes are
   * what fills the disk, and a client told 507 starts its push over — and the client gets 507.
   * Anything else is rethrown as it was.
   */
  private async failedForSpace(session: UploadSession, error: unknown): Promise<never> {
    if (!isStorageFull(error)) throw error;
    this.deps.storageFull?.();
    await this.deps.uploads.cancel(session).catch(() => {});
    throw storageFull(error);
  }

  async completeUpload(id: string, digest: Digest, lastChunk?: LastChunk): Promise<{ digest: Digest; size: number }> {
    const release = this.finish(id);
    try {
      await this.refuseIfFinishingElsewhere(id);
      let session = await this.deps.uploads.get(id, this.key);
      if (lastChunk) {
        const open = session;
        session = await this.deps.uploads.append(open, lastChunk.body, lastChunk.options).catch((e: unknown) => this.failedForSpace(open, e));
      }
      // Published and linked under one hold: between the two the blob is referenced by nothing.
      const info = await this.deps.content.hold([digest], async () => {
        const stored = await this.deps.uploads.complete(session, digest);
        await this.deps.metadata.linkBlob(this.key, digest);
        return stored;
      });
      this.deps.holders.add(this.key, digest);
      await this.deps.cache.forget(digest);
      this.deps.observer.push({ kind: 'blob', bytes: info.size });
      return info;
    } finally {
      release();
    }
  }

  async cancelUpload(id: string): Promise<void> {
    const release = this.finish(id);
    try {
      await this.refuseIfFinishingElsewhere(id);
      const session = await this.deps.uploads.get(id, this.key);
      await this.deps.uploads.cancel(session);
    } finally {
      release();
    }
  }

  /** A session whose PUT or DELETE is running, here or on another replica, is finished for every other request (FinishingUploads). */
  private async admit(id: string): Promise<void> {
    if (this.deps.finishing.has(this.key, id)) throw finishing(id);
    await this.refuseIfFinishingElsewhere(id);
  }

  /** The PUT or DELETE of a session arrived: refused if another one runs here, else marked at once (arrival order decides). */
  private finish(id: string): () => void {
    if (this.deps.finishing.has(this.key, id)) throw finishing(id);
    return this.deps.finishing.begin(this.key, id);
  }

  private async refuseIfFinishingElsewhere(id: string): Promise<void> {
    if (await this.deps.finishing.elsewhere(this.key, id)) throw finishing(id);
  }
}
