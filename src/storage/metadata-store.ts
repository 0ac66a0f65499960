import type { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import type { Tag } from '../oci/reference.js';
import type { RepositoryKey } from './repository-key.js';

/** A manifest as a repository knows it; the bytes live in the BlobStore under `digest`. */
export interface ManifestRecord {
  digest: Digest;
  mediaType: string;
  size: number;
  subject?: Digest;
  artifactType?: string;
  /**
   * When the record was last written (pushed, or fetched from the upstream), epoch ms: GC's grace
   * period and the UI's "pushed/cached at". Records from before this field read as their file's mtime.
   */
  storedAt: number;
}

export interface TagRecord {
  digest: Digest;
  /** When the tag was last confirmed (pushed, or validated against the upstream), epoch ms. */
  checkedAt: number;
  /**
   * When the tag started pointing at `digest` (a push, or the first time a proxied tag was seen at
   * this digest), epoch ms: retention's `keepLast`/`olderThan` count from it. Records from before
   * this field read as their `checkedAt`.
   */
  updatedAt: number;
}

/** A blob a repository may serve. */
export interface BlobLink {
  digest: Digest;
  /** When linked, or last served through this repository (refreshed at most once a minute), epoch ms. */
  lastUsed: number;
}

/**
 * Per-repository metadata: which blobs and manifests a repository may serve, its tags and its
 * referrers. Implementations: FsMetadataStore (small files, cached in memory for the warm manifest
 * path); a shared one (Redis) replaces it for several replicas without touching the registry layer.
 * The behaviour is pinned by test/storage/contracts/metadata-store-contract.ts.
 */
export interface MetadataStore {
  /** Links the blob into the repository, or refreshes the link's last use if it is linked already. */
  linkBlob(repo: RepositoryKey, digest: Digest): Promise<void>;
  hasBlob(repo: RepositoryKey, digest: Digest): Promise<boolean>;
  unlinkBlob(repo: RepositoryKey, digest: Digest): Promise<boolean>;
  /**
   * The blob was just served (HEAD or GET) through this repository: refreshes its link's last use,
   * at most once a minute per link, so GC's grace period protects a blob a client just saw and
   * skipped uploading. Callers on the hot path do not wait for it and ignore its failure. Does not
   * create a link.
   */
  touchBlobLink(repo: RepositoryKey, digest: Digest): Promise<void>;
  /** Every blob linked into the repository, each once, in no particular order. */
  listBlobLinks(repo: RepositoryKey): Promise<BlobLink[]>;

  putManifest(repo: RepositoryKey, record: ManifestRecord): Promise<void>;
  getManifest(repo: RepositoryKey, digest: Digest): Promise<ManifestRecord | null>;
  /** Removes the manifest, every tag pointing at it, and its referrer entry. Returns false if absent. */
  deleteManifest(repo: RepositoryKey, digest: Digest): Promise<boolean>;
  /** Every manifest record of the repository, each once, in no particular order. */
  listManifests(repo: RepositoryKey): Promise<ManifestRecord[]>;

  /**
   * Points the tag at `record.digest`. When it already pointed there, the stored `updatedAt` is
   * kept (the tag did not move); otherwise `record.updatedAt` (the caller's "now") is stored.
   */
  setTag(repo: RepositoryKey, tag: Tag, record: TagRecord): Promise<void>;
  getTag(repo: RepositoryKey, tag: Tag): Promise<TagRecord | null>;
  deleteTag(repo: RepositoryKey, tag: Tag): Promise<boolean>;
  /** Lexically sorted. */
  listTags(repo: RepositoryKey): Promise<Tag[]>;
  /** Every tag with its record in one call, lexically sorted by tag (the UI lists 10,000 at once). */
  listTagRecords(repo: RepositoryKey): Promise<Array<{ tag: Tag; record: TagRecord }>>;

  addReferrer(repo: RepositoryKey, subject: Digest, referrer: Descriptor): Promise<void>;
  listReferrers(repo: RepositoryKey, subject: Digest): Promise<Descriptor[]>;

  /** Whether a manifest was ever pushed to (or fetched into) the repository. */
  repositoryExists(repo: RepositoryKey): Promise<boolean>;
  /** Every repository key that holds at least one manifest, sorted (the catalog). */
  listRepositories(): Promise<RepositoryKey[]>;
  /**
   * Every repository key with any metadata — a manifest, a tag or only blob links (a push in
   * progress) — whose key starts with `prefix` (`hosted/`, `proxied/docker.io/`; '' for all), sorted.
   * For GC and the eviction index, which must not miss a repository that holds only blobs so far.
   */
  listRepositoryKeys(prefix?: string): Promise<RepositoryKey[]>;

  /**
   * Drops what this process keeps in memory of `repo` (of every repository without one), because
   * another replica sharing the store wrote it (cluster/metadata-sync.ts). Stores that keep nothing
   * in memory do not implement it.
   */
  forget?(repo?: RepositoryKey): void;
}
