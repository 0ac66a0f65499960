import { LRUCache } from 'lru-cache';
import type { Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import { parseImageConfig, type ImageConfigSummary } from '../oci/image-config.js';
import { summarizeManifest, type ManifestSummary } from '../oci/manifest-summary.js';
import type { BlobStore } from '../storage/blob-store.js';

/** Image configs are small JSON; anything bigger is not read for a page. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Reads stored manifests and image configs for browsing, and remembers what it read: content is
 * addressed by digest, so a reading never goes stale. Reads only what is stored — never the
 * upstream: a config or a child manifest that was never pulled reads as null ("not cached").
 */
export class ImageReader {
  private readonly manifests = new LRUCache<Digest, ManifestSummary>({ max: 20_000 });
  private readonly configs = new LRUCache<Digest, ImageConfigSummary | typeof NONE>({ max: 20_000 });

  constructor(private readonly blobs: BlobStore) {}

  /** Null when the manifest's bytes are not stored (evicted). */
  async manifest(digest: Digest, mediaType: string): Promise<ManifestSummary | null> {
    const known = this.manifests.get(digest);
    if (known) return known;
    const bytes = await this.bytes(digest);
    if (!bytes) return null;
    const summary = summarizeManifest(bytes, mediaType);
    this.manifests.set(digest, summary);
    return summary;
  }

  /** Null when the config blob is not stored (a cached image whose config no client fetched yet). */
  async config(digest: Digest): Promise<ImageConfigSummary | null> {
    const known = this.configs.get(digest);
    if (known !== undefined) return known === NONE ? null : known;
    const info = await this.blobs.stat(digest);
    if (!info) return null; // not remembered: it may arrive with the next pull
    const bytes = info.size <= MAX_CONFIG_BYTES ? await this.bytes(digest) : null;
    const summary = bytes ? parseImageConfig(bytes) : null;
    this.configs.set(digest, summary ?? NONE);
    return summary;
  }

  /** The stored bytes, or null when they are not stored. */
  async bytes(digest: Digest): Promise<Buffer | null> {
    try {
      return await this.blobs.readBytes(digest);
    } catch (e) {
      if (e instanceof RegistryError && e.code === 'BLOB_UNKNOWN') return null;
      throw e;
    }
  }
}

const NONE = Symbol('none');
