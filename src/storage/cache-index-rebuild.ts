import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isDigest, type Digest } from '../oci/digest.js';
import type { BlobStore } from './blob-store.js';
import type { CacheIndex } from './cache-index.js';
import type { Layout } from './layout.js';

/**
 * Rebuilds the eviction index from disk: every stored blob that no hosted repository references
 * (as a blob link or a manifest) is cache content, ordered by its mtime (bumped on use).
 * Runs in the background after the server is listening: until it finishes, nothing is evicted.
 */
export async function rebuildCacheIndex(layout: Layout, blobs: BlobStore, index: CacheIndex): Promise<void> {
  const hosted = await hostedDigests(layout);
  const cached: Array<{ digest: Digest; size: number; lastUsed: number }> = [];
  for await (const blob of blobs.list()) {
    if (!hosted.has(blob.digest)) cached.push(blob);
  }
  cached.sort((a, b) => a.lastUsed - b.lastUsed);
  for (const { digest, size, lastUsed } of cached) index.add(digest, size, lastUsed);
}

/** Digests linked or stored as manifests by any hosted repository. */
async function hostedDigests(layout: Layout): Promise<Set<Digest>> {
  const root = join(layout.repositories, 'hosted');
  let paths: string[];
  try {
    paths = await readdir(root, { recursive: true });
  } catch {
    return new Set();
  }
  const found = new Set<Digest>();
  for (const path of paths) {
    // …/_blobs/sha256/<hex> or …/_manifests/sha256/<hex>
    const match = /(?:^|\/)_(?:blobs|manifests)\/(sha256|sha512)\/([a-f0-9]+)$/.exec(path);
    if (!match) continue;
    const digest = `${match[1]}:${match[2]}`;
    if (isDigest(digest)) found.add(digest);
  }
  return found;
}
