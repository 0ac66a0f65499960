import { createHash, randomUUID, type Hash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { digestAlgorithm, type Digest, type DigestAlgorithm } from '../../oci/digest.js';
import { RegistryError } from '../../oci/errors.js';
import type { BlobInfo, BlobStore } from '../blob-store.js';
import type { RepositoryKey } from '../repository-key.js';
import type { UploadSession, UploadStore } from '../upload-store.js';
import { KeyedQueue } from '../keyed-queue.js';
import { FileUpload } from './file-upload.js';
import { MAX_OBJECT_BYTES, MIN_PART_BYTES, unavailable, type S3Bucket, type StoredObject } from './s3-bucket.js';
import { S3_LAYOUT } from './s3-layout.js';

const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CHUNK_NAME = /\/chunks\/(\d{16})$/;
const uploadUnknown = (id: string): RegistryError => new RegistryError('BLOB_UPLOAD_UNKNOWN', { uuid: id.slice(0, 100) });

/** Runs `task` while no other task of the same session runs (here: in this process; a cluster passes a shared lock). */
export type SessionLock = <T>(id: string, task: () => Promise<T>) => Promise<T>;

interface Chunk {
  path: string;
  offset: number;
  size: number;
}

interface SessionRecord {
  repository: RepositoryKey;
  startedAt: number;
}

/**
 * Push sessions in the bucket, so the POST, the PATCHes and the PUT of one upload may reach any
 * replica (s3-layout.ts): a session record, and one object per PATCH named by its start offset.
 * A chunk is spooled to a local temp file while it arrives and uploaded from it as it grows (parts
 * read back from the file, never held in memory); it becomes visible only once it arrived whole and
 * as long as announced, so a refused or interrupted chunk leaves the session as it was.
 *
 * The running sha256 is kept in this process for the sessions whose chunks it received; completion
 * on a replica that holds a prefix of it reads only the rest back from the store, and one that
 * holds none re-hashes the chunks (docs/s3.md). The blob is published by a copy inside the store
 * (CopyObject, or UploadPartCopy per chunk): the bytes do not pass through Stowage again, unless
 * small chunks (under S3's 5 MiB part minimum) make a part copy impossible — then the bytes are
 * streamed through a BlobStore writer, which hashes them on the way.
 */
export class S3UploadStore implements UploadStore {
  private readonly hashes = new Map<string, { hash: Hash; offset: number }>();
  private readonly locks = new KeyedQueue();

  constructor(
    private readonly bucket: S3Bucket,
    private readonly blobs: BlobStore,
    /** Local directory for chunks on their way to the store. */
    private readonly tmpDir: string,
    private readonly maxBlobBytes: number,
    private readonly lock: SessionLock = (id, task) => this.locks.run(id, task),
  ) {}

  async create(repository: RepositoryKey): Promise<UploadSession> {
    const id = randomUUID();
    const record: SessionRecord = { repository, startedAt: Date.now() };
    await this.bucket.put(`${S3_LAYOUT.upload(id)}session.json`, JSON.stringify(record));
    this.hashes.set(id, { hash: createHash('sha256'), offset: 0 });
    return { id, ...record, offset: 0 };
  }

  async get(id: string, repository: RepositoryKey): Promise<UploadSession> {
    return (await this.load(id, repository)).session;
  }

  append(session: UploadSession, source: Readable, options: { start?: number; length?: number } = {}): Promise<UploadSession> {
    return this.lock(session.id, async () => {
      const { session: current } = await this.load(session.id, session.repository).catch((e: unknown) => {
        source.resume();
        throw e;
      });
      if (options.start !== undefined && options.start !== current.offset) {
        source.resume();
        throw new RegistryError('CHUNK_OUT_OF_ORDER', { expected: current.offset, got: options.start }, {
          headers: { Range: `0-${Math.max(current.offset - 1, 0)}` },
        });
      }
      const state = this.hashes.get(session.id);
      // A copy: a refused chunk must leave the running digest as it was.
      const hash = state && state.offset === current.offset ? state.hash.copy() : null;
      const received = await this.writeChunk(session.id, current.offset, source, hash, options.length);
      const offset = current.offset + received;
      if (hash) this.hashes.set(session.id, { hash, offset });
      return { ...current, offset };
    });
  }

  complete(session: UploadSession, expected: Digest): Promise<BlobInfo> {
    return this.lock(session.id, async () => {
      const { session: current, chunks } = await this.load(session.id, session.repository);
      const size = current.offset;
      if (chunks.slice(0, -1).some((c) => c.size < MIN_PART_BYTES)) {
        // Parts cannot be copied: the bytes come through here once, hashed by the writer on the way.
        const writer = await this.blobs.createWriter(digestAlgorithm(expected));
        try {
          for (const chunk of chunks) await this.readChunk(chunk, 0, (bytes) => writer.write([bytes]));
          await writer.commit(expected);
        } catch (e) {
          await writer.abort();
          throw e instanceof RegistryError && e.code === 'DIGEST_INVALID' ? uploadMismatch(expected, e.detail) : e;
        }
      } else {
        const actual = await this.digestOf(session.id, chunks, size, digestAlgorithm(expected));
        if (actual !== expected) throw uploadMismatch(expected, { expected, actual });
        if (!(await this.blobs.stat(expected))) await this.publish(chunks, expected);
      }
      await this.remove(session.id);
      return { digest: expected, size };
    });
  }

  cancel(session: UploadSession): Promise<void> {
    return this.lock(session.id, () => this.remove(session.id));
  }

  async list(): Promise<UploadSession[]> {
    const found: UploadSession[] = [];
    for (const name of await this.bucket.children(S3_LAYOUT.uploads)) {
      const id = name.replace(/\/$/, '');
      if (!UPLOAD_ID.test(id)) continue;
      const record = await this.record(id).catch(() => null);
      const loaded = record && (await this.load(id, record.repository).catch(() => null));
      if (loaded) found.push(loaded.session);
    }
    return found;
  }

  /** Idle = no object of the session (its record, a chunk) written since; chunks left without a record go too. */
  async purgeIdle(maxAgeMs: number, now = Date.now()): Promise<number> {
    const lastActive = new Map<string, { at: number; paths: string[] }>();
    for await (const object of this.bucket.list(S3_LAYOUT.uploads)) {
      const id = object.path.slice(S3_LAYOUT.uploads.length).split('/')[0]!;
      const entry = lastActive.get(id) ?? { at: 0, paths: [] };
      entry.at = Math.max(entry.at, object.lastModified);
      entry.paths.push(object.path);
      lastActive.set(id, entry);
    }
    let purged = 0;
    for (const [id, { at, paths }] of lastActive) {
      if (now - at <= maxAgeMs || this.locks.busy(id)) continue;
      this.hashes.delete(id);
      await this.bucket.deleteMany(paths.sort((a, b) => (a.endsWith('session.json') ? -1 : b.endsWith('session.json') ? 1 : 0)));
      purged++;
    }
    return purged;
  }

  private async record(id: string): Promise<SessionRecord | null> {
    const bytes = await this.bucket.getBytes(`${S3_LAYOUT.upload(id)}session.json`);
    return bytes && (JSON.parse(bytes.toString('utf8')) as SessionRecord);
  }

  /** The session and its chunks in order; the offset is where the contiguous chunks end. */
  private async load(id: string, repository: RepositoryKey): Promise<{ session: UploadSession; chunks: Chunk[] }> {
    if (!UPLOAD_ID.test(id)) throw uploadUnknown(id);
    const [record, objects] = await Promise.all([this.record(id), collect(this.bucket.list(`${S3_LAYOUT.upload(id)}chunks/`))]);
    if (!record || record.repository !== repository) throw uploadUnknown(id);
    const chunks: Chunk[] = [];
    let offset = 0;
    const byOffset = objects
      .map((o) => ({ path: o.path, offset: Number(CHUNK_NAME.exec(o.path)?.[1] ?? -1), size: o.size }))
      .sort((a, b) => a.offset - b.offset);
    for (const chunk of byOffset) {
      if (chunk.offset !== offset || chunk.size === 0) continue; // a leftover of a raced duplicate: not part of the upload
      chunks.push(chunk);
      offset += chunk.size;
    }
    return { session: { id, repository, startedAt: record.startedAt, offset }, chunks };
  }

  /** Streams `source` into the chunk object at `offset`; returns its length. Nothing is visible unless it all arrived. */
  private async writeChunk(id: string, offset: number, source: Readable, hash: Hash | null, length: number | undefined): Promise<number> {
    const file = join(this.tmpDir, `${randomUUID()}.chunk`);
    const handle = await open(file, 'wx');
    const upload = new FileUpload(this.bucket, S3_LAYOUT.uploadChunk(id, offset), file);
    let received = 0;
    try {
      try {
        for await (const chunk of source as AsyncIterable<Buffer>) {
          received += chunk.length;
          if (this.maxBlobBytes > 0 && offset + received > this.maxBlobBytes) throw new RegistryError('BLOB_TOO_LARGE', { limit: this.maxBlobBytes });
          hash?.update(chunk);
          for (let written = 0; written < chunk.length; ) written += (await handle.write(chunk, written)).bytesWritten;
          await upload.grew(received);
        }
      } catch (e) {
        if (e instanceof RegistryError) throw e;
        if ((e as { code?: string }).code === 'UNAVAILABLE') throw e;
        throw new RegistryError('BLOB_UPLOAD_INVALID', { reason: 'upload body was interrupted' }, { cause: e });
      }
      if (length !== undefined && length !== received) throw new RegistryError('SIZE_INVALID', { expected: length, received });
      if (received > 0) await upload.finish(received);
      return received;
    } catch (e) {
      source.resume();
      await upload.abort().catch(() => {});
      throw e;
    } finally {
      await handle.close();
      await rm(file, { force: true });
    }
  }

  /** The digest of the stored chunks: this process's running hash where it has one, the rest read back from the store. */
  private async digestOf(id: string, chunks: Chunk[], size: number, algorithm: DigestAlgorithm): Promise<Digest> {
    const state = this.hashes.get(id);
    const usable = algorithm === 'sha256' && state && state.offset <= size;
    const hash = usable ? state.hash.copy() : createHash(algorithm);
    const from = usable ? state.offset : 0;
    for (const chunk of chunks) {
      if (chunk.offset + chunk.size <= from) continue;
      await this.readChunk(chunk, Math.max(from - chunk.offset, 0), (bytes) => hash.update(bytes));
    }
    return `${algorithm}:${hash.digest('hex')}` as Digest;
  }

  /** Publishes the verified chunks as the blob by copies inside the store. */
  private async publish(chunks: Chunk[], digest: Digest): Promise<void> {
    const target = S3_LAYOUT.blob(digest);
    if (chunks.length === 0) return this.blobs.putBytes(digest, Buffer.alloc(0));
    if (chunks.length === 1) return this.bucket.copy(chunks[0]!.path, target, chunks[0]!.size);
    const uploadId = await this.bucket.createMultipart(target);
    try {
      const etags: string[] = [];
      for (const chunk of chunks) {
        for (let start = 0; start < chunk.size; start += MAX_OBJECT_BYTES) {
          const range = { start, end: Math.min(start + MAX_OBJECT_BYTES, chunk.size) - 1 };
          etags.push(await this.bucket.uploadPartCopy(target, uploadId, etags.length + 1, chunk.path, range));
        }
      }
      await this.bucket.completeMultipart(target, uploadId, etags);
    } catch (e) {
      await this.bucket.abortMultipart(target, uploadId).catch(() => {});
      throw e;
    }
  }

  private async readChunk(chunk: Chunk, from: number, use: (bytes: Buffer) => unknown): Promise<void> {
    const object = await this.bucket.get(chunk.path, { start: from, end: chunk.size - 1 });
    if (!object) throw unavailable(new Error(`upload chunk ${chunk.path} vanished`));
    try {
      for await (const bytes of object.body as AsyncIterable<Buffer>) await use(bytes);
    } catch (e) {
      object.body.destroy();
      throw unavailable(e);
    }
  }

  /** The record first: from then on the session is gone for every replica, whatever else is left. */
  private async remove(id: string): Promise<void> {
    this.hashes.delete(id);
    await this.bucket.delete(`${S3_LAYOUT.upload(id)}session.json`);
    const rest = await collect(this.bucket.list(S3_LAYOUT.upload(id)));
    await this.bucket.deleteMany(rest.map((o) => o.path));
  }
}

const uploadMismatch = (expected: Digest, detail: unknown): RegistryError =>
  new RegistryError('DIGEST_INVALID', detail ?? { expected }, { message: 'uploaded content does not match digest' });

async function collect(objects: AsyncIterable<StoredObject>): Promise<StoredObject[]> {
  const found: StoredObject[] = [];
  for await (const object of objects) found.push(object);
  return found;
}
