import type { Digest } from '../oci/digest.js';
import type { BlobStore, StoredBlob } from './blob-store.js';
import type { EvictionIndex } from './eviction-index.js';
import type { MetadataStore } from './metadata-store.js';

/**
 * Rebuilds an in-memory eviction index from the stores: every stored blob that no hosted
 * repository references (as a blob link or a manifest) is cache content, ordered by its last use.
 * Runs in the background after the server is listening, so start-up time does not grow with the
 * cache: until it finishes, only what was added since is evicted.
 */
export async function rebuildEvictionIndex(blobs: BlobStore, metadata: MetadataStore, index: EvictionIndex): Promise<void> {
  const hosted = await hostedDigests(metadata);
  const cached: StoredBlob[] = [];
  for await (const blob of blobs.list()) {
    if (!hosted.has(blob.digest)) cached.push(blob);
  }
  cached.sort((a, b) => (a.lastUsed ?? 0) - (b.lastUsed ?? 0));
  for (const { digest, size, lastUsed } of cached) await index.add(digest, size, lastUsed ?? 0);
}

/** Digests linked or stored as manifests by any hosted repository. */
async function hostedDigests(metadata: MetadataStore): Promise<Set<Digest>> {
  const found = new Set<Digest>();
  for (const key of await metadata.listRepositoryKeys('hosted/')) {
    const [links, manifests] = await Promise.all([metadata.listBlobLinks(key), metadata.listManifests(key)]);
    for (const link of links) found.add(link.digest);
    for (const manifest of manifests) found.add(manifest.digest);
  }
  return found;
}
