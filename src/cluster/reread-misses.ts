import type { Digest } from '../oci/digest.js';
import type { Tag } from '../oci/reference.js';
import type { ManifestRecord, MetadataStore, TagRecord } from '../storage/metadata-store.js';
import type { RepositoryKey } from '../storage/repository-key.js';
import { delegateTo } from '../storage/store-delegate.js';

/**
 * `store`, for a replica: a tag, manifest or blob link it finds missing is read again after
 * dropping what this process kept of the repository, before "not here" is believed. Another replica
 * may have just written it, and the message saying so (metadata-sync.ts) may still be on its way:
 * without the second read, a push through one replica could be a 404 through another for those
 * milliseconds — read-after-write must hold at once. Misses are rare on the hot path (a warm pull
 * finds what it asks for), so the second read costs little. Everything else is the store itself
 * (store-delegate.ts).
 */
export function rereadMisses<T extends MetadataStore>(store: T): T {
  const forget = store.forget?.bind(store);
  if (!forget) return store; // keeps nothing in memory: every read is fresh already
  const wrapped = delegateTo(store);
  const getTag = store.getTag.bind(store);
  const getManifest = store.getManifest.bind(store);
  const hasBlob = store.hasBlob.bind(store);
  Object.defineProperties(wrapped, {
    getTag: {
      value: async (repo: RepositoryKey, tag: Tag): Promise<TagRecord | null> => {
        const found = await getTag(repo, tag);
        if (found) return found;
        forget(repo);
        return getTag(repo, tag);
      },
    },
    getManifest: {
      value: async (repo: RepositoryKey, digest: Digest): Promise<ManifestRecord | null> => {
        const found = await getManifest(repo, digest);
        if (found) return found;
        forget(repo);
        return getManifest(repo, digest);
      },
    },
    hasBlob: {
      value: async (repo: RepositoryKey, digest: Digest): Promise<boolean> => {
        if (await hasBlob(repo, digest)) return true;
        forget(repo);
        return hasBlob(repo, digest);
      },
    },
  });
  return wrapped;
}
