import type { MetadataStore } from './metadata-store.js';
import type { RepositoryKey } from './repository-key.js';

/** What each write that changes what a repository shows changed: its tags or referrers, or its manifests. */
export type MetadataChange = 'tags' | 'added' | 'removed';
const WRITES = { putManifest: 'added', deleteManifest: 'removed', setTag: 'tags', deleteTag: 'tags', addReferrer: 'tags' } as const;

/**
 * `store`, telling `changed` after each write that changes what a repository shows (tags,
 * manifests, referrers), whether it succeeded or not. Everything else is the store itself: the
 * wrapper inherits from it and binds its methods to it, so reads cost nothing extra, methods added to
 * the store later pass through untouched, and no method ever writes a field onto the wrapper. Used to keep the browsing views (registry/repository-views.ts) current.
 */
export function withChangeHook<T extends MetadataStore>(store: T, changed: (key: RepositoryKey, change: MetadataChange) => void): T {
  const wrapped = Object.create(store) as T;
  // Every method runs with `this` = the store, not the wrapper: a field a method assigns (a counter)
  // must change the store's own, which a method inherited through the wrapper would shadow instead.
  for (let proto: object | null = store; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const value = Object.getOwnPropertyDescriptor(proto, name)?.value as unknown;
      if (name === 'constructor' || typeof value !== 'function' || Object.hasOwn(wrapped, name)) continue;
      Object.defineProperty(wrapped, name, { value: (value as (...args: unknown[]) => unknown).bind(store), configurable: true });
    }
  }
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
