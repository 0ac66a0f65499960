import type { Digest } from '../oci/digest.js';
import { BlobHolders } from '../registry/blob-holders.js';
import type { RepositoryKey } from '../storage/repository-key.js';

/**
 * The automatic-mount index (registry/blob-holders.ts) of a replica, kept in step with the others:
 * every link and unlink made here is published (cluster/metadata-sync.ts), and those made on other
 * replicas are applied here — so a mount without `from` on one replica finds a blob pushed through
 * another. Entries stay candidates the mount re-checks against the store; a message lost while
 * Redis is away only costs that client an upload (the safe answer), as after a restart.
 */
export class SharedBlobHolders extends BlobHolders {
  constructor(private readonly publish: (repository: RepositoryKey, digest: Digest, linked: boolean) => void) {
    super();
  }

  override add(repository: RepositoryKey, digest: Digest): void {
    super.add(repository, digest);
    this.publish(repository, digest, true);
  }

  override delete(repository: RepositoryKey, digest: Digest): void {
    super.delete(repository, digest);
    this.publish(repository, digest, false);
  }

  /** A link or unlink another replica made: applied here only. */
  apply(repository: RepositoryKey, digest: Digest, linked: boolean): void {
    if (linked) super.add(repository, digest);
    else super.delete(repository, digest);
  }
}
