import { join } from 'node:path';
import { digestAlgorithm, digestHex, type Digest } from '../oci/digest.js';
import type { Tag } from '../oci/reference.js';
import type { RepositoryKey } from './repository-key.js';

/**
 * The on-disk layout of the fs driver. Every path below is built from validated values only
 * (Digest, RepositoryKey, Tag, upload ids), so no request can name a path outside the root.
 *
 *   <root>/
 *     blobs/sha256/ab/ab12…ef          content, written once by atomic rename after the digest matched;
 *                                      layers, configs and manifests alike, shared by every repository.
 *                                      mtime = last use (eviction order across restarts)
 *     fills/sha256-<hex>               the spool of a fill in progress or interrupted: the blob's first
 *                                      bytes, resumed with Range by the next fill of that digest
 *     fills/sha256-<hex>.json          { upstream, repository, size }: where it came from (FillOrigin)
 *     tmp/<random>                     bytes being written (small files, blob writers); swept at start
 *     uploads/<uuid>/data              an upload session's bytes so far (offset = file size)
 *     uploads/<uuid>/session.json      { repository, startedAt }
 *     repositories/<key>/              key = hosted/<name> or proxied/<upstream>/<name>
 *       _blobs/sha256/<hex>            empty file: the repository may serve this blob (pushed, mounted
 *                                      or filled); mtime = when linked or last used
 *       _manifests/sha256/<hex>        JSON ManifestRecord: media type, size, subject, artifact type, storedAt
 *       _tags/<tag>                    JSON TagRecord: digest, when it took that digest, when last checked
 *       _referrers/sha256/<subject>/sha256-<hex>   JSON Descriptor of a manifest whose subject is <subject>
 *     pulls/<key>/_pulls.json          pull counts of a repository (FsPullStats)
 *     pins.json                        images pinned through the API (FsPinStore)
 *
 * Bookkeeping directories start with `_`, which no repository name component can, so a repository
 * called `a/_tags` cannot exist to collide with them.
 */
export class Layout {
  readonly blobs: string;
  readonly fills: string;
  readonly tmp: string;
  readonly uploads: string;
  readonly repositories: string;
  readonly pulls: string;
  readonly pins: string;

  constructor(readonly root: string) {
    this.blobs = join(root, 'blobs');
    this.fills = join(root, 'fills');
    this.tmp = join(root, 'tmp');
    this.uploads = join(root, 'uploads');
    this.repositories = join(root, 'repositories');
    this.pulls = join(root, 'pulls');
    this.pins = join(root, 'pins.json');
  }

  // Paths below are concatenated rather than joined: every part is validated and normal already, and
  // these run on every warm manifest request (path.join's normalisation was 4% of its CPU, bench/).

  blob(digest: Digest): string {
    const hex = digestHex(digest);
    return `${this.blobs}/${digestAlgorithm(digest)}/${hex.slice(0, 2)}/${hex}`;
  }

  repository(key: RepositoryKey): string {
    return `${this.repositories}/${key}`;
  }

  blobLink(key: RepositoryKey, digest: Digest): string {
    return `${this.repository(key)}/_blobs/${digestAlgorithm(digest)}/${digestHex(digest)}`;
  }

  manifest(key: RepositoryKey, digest: Digest): string {
    return `${this.repository(key)}/_manifests/${digestAlgorithm(digest)}/${digestHex(digest)}`;
  }

  tags(key: RepositoryKey): string {
    return `${this.repository(key)}/_tags`;
  }

  tag(key: RepositoryKey, tag: Tag): string {
    return `${this.tags(key)}/${tag}`;
  }

  referrers(key: RepositoryKey, subject: Digest): string {
    return `${this.repository(key)}/_referrers/${digestAlgorithm(subject)}/${digestHex(subject)}`;
  }

  upload(id: string): string {
    return `${this.uploads}/${id}`;
  }
}
