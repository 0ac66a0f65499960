import type { MetadataStore } from './metadata-store.js';
import type { RepositoryKey } from './repository-key.js';

/** The writes that change what a repository shows; `true`: they can also add or remove a repository. */
const WRITES = { putManifest: true, deleteManifest: true, setTag: false, deleteTag: false, addReferrer: false } as const;

/**
 * `store`, telling `changed` after each write that changes what a repository shows (tags,
 * manifests, referrers), whether it succeeded or not. Everything else is the store itself: the
 * wrapper inherits from it, so reads cost nothing extra and methods added to the store later pass
 * through untouched. Used to keep the browsing views (registry/repository-views.ts) current.
 */
export function withChangeHook<T extends MetadataStore>(store: T, changed: (key: RepositoryKey, listChanged: boolean) => void): T {
  const wrapped = Object.create(store) as T;
  for (const [method, listChanged] of Object.entries(WRITES) as Array<[keyof typeof WRITES, boolean]>) {
    const write = (store[method] as (key: RepositoryKey, ...rest: unknown[]) => Promise<unknown>).bind(store);
    Object.defineProperty(wrapped, method, {
      value: async (key: RepositoryKey, ...rest: unknown[]): Promise<unknown> => {
        try {
          return await write(key, ...rest);
        } finally {
          changed(key, listChanged);
        }
      },
    });
  }
  return wrapped;
}
