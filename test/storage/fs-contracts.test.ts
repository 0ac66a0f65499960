/**
 * The fs driver's stores against the storage contracts (test/storage/contracts/), one line each.
 * The fill spool runs twice: with the fs hand-over (the spool file is renamed into place) and with
 * the generic one an object store uses (every byte streamed into BlobStore.createWriter).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStorage, type Storage } from '../../src/storage/open-storage.js';
import { LocalEvictionIndex } from '../../src/storage/local-eviction-index.js';
import { blobStoreContract } from './contracts/blob-store-contract.js';
import { evictionIndexContract } from './contracts/eviction-index-contract.js';
import { fillSpoolContract, spoolThroughWriter } from './contracts/fill-spool-contract.js';
import { metadataStoreContract } from './contracts/metadata-store-contract.js';
import { pinStoreContract } from './contracts/pin-store-contract.js';
import { uploadStoreContract } from './contracts/upload-store-contract.js';

const HOOKS = { evicted: () => {}, sizeChanged: () => {}, rebuildFailed: (e: unknown) => Promise.reject(e) };

/** An fs Storage in a fresh temp directory, and a way to open another one on the same directory. */
async function fsStorage(now?: () => number): Promise<{ storage: Storage; reopen: () => Promise<Storage>; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'stowage-contract-'));
  const open = async (): Promise<Storage> => {
    const storage = await openStorage({ driver: 'fs', path: dir, maxSize: 0, blobMaxBytes: 0 }, HOOKS, now);
    await storage.indexed;
    return storage;
  };
  return { storage: await open(), reopen: open, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

blobStoreContract('fs', async () => {
  const { storage, cleanup } = await fsStorage();
  return { blobs: storage.blobs, cleanup };
});

fillSpoolContract('fs (rename into place)', async () => {
  const { storage, reopen, cleanup } = await fsStorage();
  return { spool: storage.spool, blobs: storage.blobs, reopen: async () => (await reopen()).spool, cleanup };
});

fillSpoolContract('fs store through BlobStore.createWriter (the object-store hand-over)', async () => {
  const { storage, cleanup } = await fsStorage();
  return spoolThroughWriter(storage.blobs, cleanup);
});

uploadStoreContract('fs', async () => {
  const { storage, reopen, cleanup } = await fsStorage();
  return { uploads: storage.uploads, blobs: storage.blobs, reopen: async () => (await reopen()).uploads, cleanup };
});

metadataStoreContract('fs', async (now) => {
  const { storage, reopen, cleanup } = await fsStorage(now);
  return { metadata: storage.metadata, reopen: async () => (await reopen()).metadata, cleanup };
});

evictionIndexContract('local', async ({ policy, isInUse, remove, now }) => ({
  index: new LocalEvictionIndex(policy, { isInUse, remove, evicted: () => {}, sizeChanged: () => {} }, now),
  cleanup: async () => {},
}));

pinStoreContract('fs', async () => {
  const { storage, reopen, cleanup } = await fsStorage();
  return { store: storage.pins, reopen: async () => (await reopen()).pins, close: cleanup };
});
