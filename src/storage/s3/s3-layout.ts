import { digestAlgorithm, digestHex, type Digest } from '../../oci/digest.js';
import type { Tag } from '../../oci/reference.js';
import type { RepositoryKey } from '../repository-key.js';

/**
 * The object keys of the s3 driver, below `storage.s3.prefix`. The same tree as the fs layout
 * (../layout.ts), so a data directory and a bucket read alike; every key is built from validated
 * values only (Digest, RepositoryKey, Tag, upload ids). The fill spool stays on local disk
 * (`storage.path`): an object cannot be tailed while it grows.
 *
 *   <prefix>
 *     blobs/sha256/ab/ab12…ef          content, published whole: a multipart upload completed (fills) or a
 *                                      server-side copy (pushes) after the digest matched; shared by every
 *                                      repository. LastModified = when stored (eviction order after a restart)
 *     uploads/<uuid>/session.json      { repository, startedAt }: the push session, whichever replica gets the call
 *     uploads/<uuid>/chunks/<offset>   one PATCH's bytes, named by their start offset (16 digits, zero-padded);
 *                                      offset of the session = sum of the chunk sizes
 *     repositories/<key>/              key = hosted/<name> or proxied/<upstream>/<name>
 *       _exists                        empty: a manifest was stored here once (repositoryExists survives deletes)
 *       _blobs/sha256/<hex>            JSON { lastUsed }: the repository may serve this blob
 *       _manifests/sha256/<hex>        JSON ManifestRecord
 *       _tags/<tag>                    JSON TagRecord
 *       _referrers/sha256/<subject>/sha256-<hex>   JSON Descriptor of a manifest whose subject is <subject>
 *     pulls/<key>/_pulls-<writer>.json pull counts of a repository as one process counted them (S3PullStats)
 *     pins/<sha256>.json               one image pinned through the API (S3PinStore)
 *     _probe/<uuid>                    readiness: written and deleted (bounded, cached)
 *
 * Bookkeeping names start with `_`, which no repository name component can.
 */
export const S3_LAYOUT = {
  blobs: 'blobs/',
  uploads: 'uploads/',
  repositories: 'repositories/',
  pulls: 'pulls/',
  pins: 'pins/',
  probe: '_probe/',

  blob(digest: Digest): string {
    const hex = digestHex(digest);
    return `blobs/${digestAlgorithm(digest)}/${hex.slice(0, 2)}/${hex}`;
  },
  upload(id: string): string {
    return `uploads/${id}/`;
  },
  uploadChunk(id: string, offset: number): string {
    return `uploads/${id}/chunks/${String(offset).padStart(16, '0')}`;
  },
  repository(key: RepositoryKey): string {
    return `repositories/${key}/`;
  },
  blobLink(key: RepositoryKey, digest: Digest): string {
    return `repositories/${key}/_blobs/${digestAlgorithm(digest)}/${digestHex(digest)}`;
  },
  manifest(key: RepositoryKey, digest: Digest): string {
    return `repositories/${key}/_manifests/${digestAlgorithm(digest)}/${digestHex(digest)}`;
  },
  tag(key: RepositoryKey, tag: Tag): string {
    return `repositories/${key}/_tags/${tag}`;
  },
  referrers(key: RepositoryKey, subject: Digest): string {
    return `repositories/${key}/_referrers/${digestAlgorithm(subject)}/${digestHex(subject)}/`;
  },
} as const;
