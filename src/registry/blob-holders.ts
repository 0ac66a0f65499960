import { LRUCache } from 'lru-cache';
import type { Digest } from '../oci/digest.js';
import type { RepositoryKey } from '../storage/repository-key.js';

/**
 * Which repositories link a blob, by digest: the lookup behind a mount without `from` ("automatic
 * content discovery"), so that finding a repository that has the blob costs one map lookup, not a
 * walk over every repository. Fed by every link and unlink the registry makes while it runs; a
 * digest it does not know (linked before a restart, or evicted from this bounded map) simply
 * finds no holder, and the client gets a normal upload session — the safe answer. An entry is a
 * candidate, not a promise: unlinks made elsewhere (cache eviction) do not reach it, so the mount
 * asks the holder whether it still serves the blob before linking anything.
 * Holders are named by their canonical name (`team/app`, `docker.io/library/alpine`): the key
 * without its `hosted/` or `proxied/` prefix, which routes back to the same repository.
 */
export class BlobHolders {
  private readonly byDigest = new LRUCache<Digest, Set<RepositoryKey>>({ max: 100_000 });

  add(repository: RepositoryKey, digest: Digest): void {
    const holders = this.byDigest.get(digest);
    if (holders) holders.add(repository);
    else this.byDigest.set(digest, new Set([repository]));
  }

  delete(repository: RepositoryKey, digest: Digest): void {
    const holders = this.byDigest.get(digest);
    holders?.delete(repository);
    if (holders?.size === 0) this.byDigest.delete(digest);
  }

  /** Canonical names of the repositories known to link `digest`, most recently linked last. */
  of(digest: Digest): string[] {
    return [...(this.byDigest.get(digest) ?? [])].map((key) => key.replace(/^(hosted|proxied)\//, ''));
  }
}
