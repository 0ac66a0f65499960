import type { MetadataStore } from './metadata-store.js';
import type { RepositoryKey } from './repository-key.js';
import { delegateTo } from './store-delegate.js';

/**
 * What each write changed: a repository's tags or referrers, its manifests, or which blobs it links
 * (not shown by the views, but other replicas' caches must hear of it).
 */
export type MetadataChange = 'tags' | 'added' | 'removed' | 'links';
const WRITES = {
  putManifest: 'added',
  deleteManifest: 'removed',
  setTag: 'tags',
  deleteTag: 'tags',
  addReferrer: 'tags',
  linkBlob: 'links',
  unlinkBlob: 'links',
} as const;

/**
 * `store`, telling `changed` after each write that changes what a repository shows (tags,
 * manifests, referrers) or links, whether it succeeded or not. Everything else is the store itself
 * (store-delegate.ts). Used to keep the browsing views (registry/repository-views.ts) current, and in a cluster
 * to tell the other replicas (cluster/metadata-sync.ts).
 */
export function withChangeHook<T extends MetadataStore>(store: T, changed: (key: RepositoryKey, change: MetadataChange) => void): T {
  const wrapped = delegateTo(store);
  for (const [method, change] of Object.entries(WRITES) as Array<[keyof typeof WRITES, MetadataChange]>) {
    const write = (store[method] as (key: RepositoryKey, ...rest: unknown[]) => Promise<unknown>).bind(store);
    Object.defineProperty(wrapped, method, {
      value: async (key: RepositoryKey, ...rest: unknown[]): Promise<unknown> => {
        try {
          return await write(key, ...rest);
        } finally {
          changed(key, change);
        }
      },
    });
  }
  return wrapped;
}
