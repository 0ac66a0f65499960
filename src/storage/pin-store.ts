import type { RepositoryKey } from './repository-key.js';

/** An image pinned through the API: never evicted from the cache (lifecycle/pins.ts). */
export interface PinRecord {
  repository: RepositoryKey;
  /** A tag (the pin follows it when it moves) or a digest. */
  reference: string;
  /** Epoch ms. */
  pinnedAt: number;
}

/**
 * The pins made through the API, which must outlive a restart (pins from `prefetch.images` come
 * from the config every time). Shared by every replica that shares the store, so a pin made on one
 * holds on all. Implementations: FsPinStore (one small JSON file); contract:
 * test/storage/contracts/pin-store-contract.ts.
 */
export interface PinStore {
  /** Every pin, each once, oldest first. */
  list(): Promise<PinRecord[]>;
  /** Adds the pin; pinning what is pinned already keeps the first record. */
  add(record: PinRecord): Promise<void>;
  /** Removes the pin; false when there was none. */
  remove(repository: RepositoryKey, reference: string): Promise<boolean>;
}
