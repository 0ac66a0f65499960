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
}

export interface TagRecord {
  digest: Digest;
  /** When the tag was last confirmed (pushed, or validated against the upstream), epoch ms. */
  checkedAt: number;
}

/**
 * Per-repository metadata: which blobs and manifests a repository may serve, its tags and its
 * referrers. Implementations: disk (FsMetadataStore). A shared implementation (Redis) can replace
 * it for several replicas without touching the registry layer.
 */
export interface MetadataStore {
  linkBlob(repo: RepositoryKey, digest: Digest): Promise<void>;
  hasBlob(repo: RepositoryKey, digest: Digest): Promise<boolean>;
  unlinkBlob(repo: RepositoryKey, digest: Digest): Promise<boolean>;

  putManifest(repo: RepositoryKey, record: ManifestRecord): Promise<void>;
  getManifest(repo: RepositoryKey, digest: Digest): Promise<ManifestRecord | null>;
  /** Removes the manifest, every tag pointing at it, and its referrer entry. Returns false if absent. */
  deleteManifest(repo: RepositoryKey, digest: Digest): Promise<boolean>;

  setTag(repo: RepositoryKey, tag: Tag, record: TagRecord): Promise<void>;
  getTag(repo: RepositoryKey, tag: Tag): Promise<TagRecord | null>;
  deleteTag(repo: RepositoryKey, tag: Tag): Promise<boolean>;
  /** Lexically sorted. */
  listTags(repo: RepositoryKey): Promise<Tag[]>;

  addReferrer(repo: RepositoryKey, subject: Digest, referrer: Descriptor): Promise<void>;
  listReferrers(repo: RepositoryKey, subject: Digest): Promise<Descriptor[]>;

  /** Whether a manifest was ever pushed to (or fetched into) the repository. */
  repositoryExists(repo: RepositoryKey): Promise<boolean>;
  /** Every repository key that holds at least one manifest, sorted. */
  listRepositories(): Promise<RepositoryKey[]>;
}
