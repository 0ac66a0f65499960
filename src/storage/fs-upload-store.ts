import { createHash, randomUUID, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { digestAlgorithm, type Digest, type DigestAlgorithm } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import { isNotFound, readJsonFile, writeFileAtomic } from './atomic-file.js';
import type { BlobInfo } from './blob-store.js';
import type { FsBlobStore } from './fs-blob-store.js';
import { KeyedQueue } from './keyed-queue.js';
import type { Layout } from './layout.js';
import type { RepositoryKey } from './repository-key.js';
import type { UploadSession, UploadStore } from './upload-store.js';
import { isStorageFull, storageFull } from './storage-full.js';

const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const uploadUnknown = (id: string): RegistryError => new RegistryError('BLOB_UPLOAD_UNKNOWN', { uuid: id.slice(0, 100) });

/**
 * Upload sessions on disk (uploads/<id>/), so they survive a restart. The running sha256 of each
 * session is kept in memory while the process lives (so a multi-GB push is hashed once, as it
 * arrives); after a restart, or when a chunk failed half-way, completion re-reads the file to hash
 * it. A completed upload is moved into place by FsBlobStore.publishFile: no copy.
 * Chunks of one session are applied one at a time, in arrival order.
 */
export class FsUploadStore implements UploadStore {
  private readonly hashes = new Map<string, { hash: Hash; offset: number }>();
  private readonly locks = new KeyedQueue();

  constructor(
    private readonly layout: Layout,
    private readonly blobs: FsBlobStore,
    private readonly maxBlobBytes: number,
  ) {}

  async create(repository: RepositoryKey): Promise<UploadSession> {
    const id = randomUUID();
    const dir = this.layout.upload(id);
    await mkdir(dir, { recursive: true });
    const startedAt = Date.now();
    try {
      await writeFileAtomic(join(dir, 'data'), '', this.layout.tmp);
      await writeFileAtomic(join(dir, 'session.json'), JSON.stringify({ repository, startedAt }), this.layout.tmp);
    } catch (e) {
      await rm(dir, { recursive: true, force: true }); // a disk too full for a session keeps no half of one
      throw e;
    }
    this.hashes.set(id, { hash: createHash('sha256'), offset: 0 });
    return { id, repository, startedAt, offset: 0 };
  }

  /** The session, if `id` is well-formed and exists for `repository`; else BLOB_UPLOAD_UNKNOWN. */
  async get(id: string, repository: RepositoryKey): Promise<UploadSession> {
    if (!UPLOAD_ID.test(id)) throw uploadUnknown(id);
    const dir = this.layout.upload(id);
    const meta = await readJsonFile<{ repository: RepositoryKey; startedAt: number }>(join(dir, 'session.json'));
    if (!meta || meta.repository !== repository) throw uploadUnknown(id);
    const size = await stat(join(dir, 'data')).then((s) => s.size, (e: unknown) => (isNotFound(e) ? null : Promise.reject(e)));
    if (size === null) throw uploadUnknown(id);
    return { id, repository, startedAt: meta.startedAt, offset: size };
  }

  /**
   * Appends a chunk. `start`, when the client sent a Content-Range, must equal the current offset
   * (416 otherwise). `length`, when known, must match what arrived.
   */
  append(session: UploadSession, source: Readable, options: { start?: number; length?: number } = {}): Promise<UploadSession> {
    return this.locks.run(session.id, async () => {
      const current = await this.get(session.id, session.repository);
      if (options.start !== undefined && options.start !== current.offset) {
        source.resume();
        throw new RegistryError('CHUNK_OUT_OF_ORDER', { expected: current.offset, got: options.start }, {
          headers: { Range: `0-${Math.max(current.offset - 1, 0)}` },
        });
      }
      const state = this.hashes.get(session.id);
      const hash = state && state.offset === current.offset ? state.hash : null;
      this.hashes.delete(session.id); // re-added only if the chunk lands whole
      let received = 0;
      const limit = this.maxBlobBytes;
      const counter = new Transform({
        transform(chunk: Buffer, _enc, callback) {
          received += chunk.length;
          if (limit > 0 && current.offset + received > limit) {
            callback(new RegistryError('BLOB_TOO_LARGE', { limit }));
            return;
          }
          hash?.update(chunk);
          callback(null, chunk);
        },
      });
      const path = join(this.layout.upload(session.id), 'data');
      // A refused chunk (over the size limit, or not the length announced) must not count: cut the
      // file back so the session's offset is what it was before, as the client's Range says.
      // An interrupted body keeps what arrived; GET on the session reports it, so a client can resume.
      const refuse = async (error: RegistryError): Promise<never> => {
        await truncate(path, current.offset);
        throw error;
      };
      try {
        // A 1 MiB buffer lets queued chunks go to disk in one write instead of one per 64 KiB.
        await pipeline(source, counter, createWriteStream(path, { flags: 'r+', start: current.offset, highWaterMark: 1024 * 1024 }));
      } catch (e) {
        if (e instanceof RegistryError) return refuse(e);
        // The disk is full: the caller drops the session (its bytes are what fills the disk).
        if (isStorageFull(e)) throw storageFull(e);
        throw new RegistryError('BLOB_UPLOAD_INVALID', { reason: 'upload body was interrupted' }, { cause: e });
      }
      if (options.length !== undefined && options.length !== received) {
        return refuse(new RegistryError('SIZE_INVALID', { expected: options.length, received }));
      }
      const offset = current.offset + received;
      if (hash) this.hashes.set(session.id, { hash, offset });
      return { ...current, offset };
    });
  }

  /** Verifies the whole upload against `expected` and moves it into the blob store. */
  complete(session: UploadSession, expected: Digest): Promise<BlobInfo> {
    return this.locks.run(session.id, async () => {
      const current = await this.get(session.id, session.repository);
      const path = join(this.layout.upload(session.id), 'data');
      const actual = await this.digestOf(session.id, path, current.offset, digestAlgorithm(expected));
      if (actual !== expected) {
        throw new RegistryError('DIGEST_INVALID', { expected, actual }, { message: 'uploaded content does not match digest' });
      }
      await this.blobs.publishFile(path, expected);
      await this.remove(session.id);
      return { digest: expected, size: current.offset };
    });
  }

  cancel(session: UploadSession): Promise<void> {
    return this.locks.run(session.id, () => this.remove(session.id));
  }

  async list(): Promise<UploadSession[]> {
    const found: UploadSession[] = [];
    for (const id of await readdir(this.layout.uploads).catch(() => [] as string[])) {
      if (!UPLOAD_ID.test(id)) continue;
      const meta = await readJsonFile<{ repository: RepositoryKey }>(join(this.layout.upload(id), 'session.json')).catch(() => null);
      const session = meta && (await this.get(id, meta.repository).catch(() => null));
      if (session) found.push(session);
    }
    return found;
  }

  /**
   * Idle means no chunk arrived (the data file's mtime) since then; the directory's own mtime
   * covers a session caught half-created.
   */
  async purgeIdle(maxAgeMs: number, now = Date.now()): Promise<number> {
    let purged = 0;
    for (const id of await readdir(this.layout.uploads).catch(() => [] as string[])) {
      if (!UPLOAD_ID.test(id) || this.locks.busy(id)) continue;
      const dir = this.layout.upload(id);
      const [meta, data, self] = await Promise.all([
        readJsonFile<{ startedAt: number }>(join(dir, 'session.json')).catch(() => null),
        stat(join(dir, 'data')).catch(() => null),
        stat(dir).catch(() => null),
      ]);
      const lastActive = Math.max(meta?.startedAt ?? 0, data?.mtimeMs ?? 0, self?.mtimeMs ?? 0);
      if (now - lastActive > maxAgeMs && !this.locks.busy(id)) {
        await this.remove(id);
        purged++;
      }
    }
    return purged;
  }

  private async digestOf(id: string, path: string, size: number, algorithm: DigestAlgorithm): Promise<Digest> {
    const state = this.hashes.get(id);
    if (algorithm === 'sha256' && state && state.offset === size) {
      return `sha256:${state.hash.copy().digest('hex')}` as Digest;
    }
    const hash = createHash(algorithm);
    await pipeline(createReadStream(path, { highWaterMark: 1024 * 1024 }), async (chunks: AsyncIterable<Buffer>) => {
      for await (const chunk of chunks) hash.update(chunk);
    });
    return `${algorithm}:${hash.digest('hex')}` as Digest;
  }

  private async remove(id: string): Promise<void> {
    this.hashes.delete(id);
    await rm(this.layout.upload(id), { recursive: true, force: true });
  }
}
