import type { Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import type { EvictionIndex } from '../storage/eviction-index.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import type { RepositoryKey } from '../storage/repository-key.js';
import type { ImageReader } from './image-reader.js';

export interface EvictionResult {
  /** Manifests removed from the repository (the image, and an index's stored children). */
  manifests: number;
  /** Blobs (layers, configs, manifest bytes) whose bytes were deleted. */
  blobs: number;
  bytes: number;
}

/**
 * Evicts one cached image on request (the UI's "evict"): its manifest — with an index, the
 * children stored here — leaves the cached repository with the tags pointing at it, and the bytes
 * of its layers, configs and manifests are deleted when they are cache content: in the eviction
 * index (hosted content never is: a push or mount takes it out) and not being read right now.
 * Another cached repository that shared a layer fetches it again on its next pull, as after an
 * LRU eviction. The next pull of this image is a miss. Never contacts an upstream.
 */
export async function evictCachedImage(
  deps: { metadata: MetadataStore; cache: EvictionIndex; reader: ImageReader },
  key: RepositoryKey,
  digest: Digest,
): Promise<EvictionResult> {
  const { metadata, cache, reader } = deps;
  const root = await metadata.getManifest(key, digest);
  if (!root) throw new RegistryError('MANIFEST_UNKNOWN', { digest });
  const manifests: Digest[] = [digest];
  const content = new Set<Digest>([digest]);
  const rootSummary = await reader.manifest(digest, root.mediaType);
  for (const child of [...(rootSummary?.platforms ?? []), ...(rootSummary?.attestations ?? []), ...(rootSummary?.otherChildren ?? [])]) {
    if (await metadata.getManifest(key, child.digest)) {
      manifests.push(child.digest);
      content.add(child.digest);
    }
  }
  for (const m of manifests) {
    const record = await metadata.getManifest(key, m);
    const summary = record ? await reader.manifest(m, record.mediaType) : null;
    for (const d of [...(summary?.config ? [summary.config] : []), ...(summary?.layers ?? [])]) content.add(d.digest);
  }
  // Children first: the root goes last, so a failure half-way leaves an image that still resolves.
  for (const m of manifests.slice(1).concat(digest)) await metadata.deleteManifest(key, m);
  const result: EvictionResult = { manifests: manifests.length, blobs: 0, bytes: 0 };
  for (const d of content) {
    await metadata.unlinkBlob(key, d);
    // The index deletes only cache content nobody is reading (and pinned content never), and counts it.
    const freed = await cache.evictNow(d);
    if (freed > 0) {
      result.blobs++;
      result.bytes += freed;
    }
  }
  return result;
}
