import type { Digest } from '../oci/digest.js';
import type { BlobReader, BlobStore } from './blob-store.js';

/**
 * Which blobs this process is sending right now — a per-process fact, not something a store
 * knows: eviction (and garbage collection) must not delete a blob under a client. `track` wraps a
 * BlobStore so that every reader it opens is counted until it is piped or closed.
 */
export class ReaderRegistry {
  private readonly open = new Map<Digest, number>();

  isReading(digest: Digest): boolean {
    return this.open.has(digest);
  }

  /** `store`, with every reader it opens counted here. */
  track(store: BlobStore): BlobStore {
    return {
      stat: (digest) => store.stat(digest),
      openReader: async (digest, range) => this.counted(digest, await store.openReader(digest, range)),
      readBytes: (digest) => store.readBytes(digest),
      putBytes: (digest, bytes) => store.putBytes(digest, bytes),
      createWriter: (algorithm) => store.createWriter(algorithm),
      delete: (digest) => store.delete(digest),
      list: () => store.list(),
      directUrl: (digest) => store.directUrl(digest),
    };
  }

  private counted(digest: Digest, reader: BlobReader): BlobReader {
    this.open.set(digest, (this.open.get(digest) ?? 0) + 1);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      const left = (this.open.get(digest) ?? 1) - 1;
      if (left > 0) this.open.set(digest, left);
      else this.open.delete(digest);
    };
    return {
      length: reader.length,
      ready: () => reader.ready(),
      pipeTo: (destination) => reader.pipeTo(destination).finally(release),
      close: () => {
        release();
        return reader.close();
      },
    };
  }
}
