import { mkdir, open, readdir, rm, stat, type FileHandle } from 'node:fs/promises';
import { isDigest, type Digest } from '../oci/digest.js';
import { isNotFound, readJsonFile, writeFileAtomic } from './atomic-file.js';
import type { FillOrigin, FillSpool, FillWriter, PartialFill, SpoolHandOver } from './fill-spool.js';
import { LocalFillWriter, type SpoolPools } from './local-fill-writer.js';

const SPOOL_FILE = /^(sha256|sha512)-([a-f0-9]+)$/;

/**
 * Fill spools as files in one local directory: `<algorithm>-<hex>` holds the bytes spooled so far,
 * `<algorithm>-<hex>.json` the FillOrigin. Nothing here is swept at start: what a crash leaves is
 * resumed by the next fill of that digest, or purged once idle (`limits.uploadSessionTtl`).
 * The directory must be on the same filesystem as `tmpDir` (atomic record writes) and, for the fs
 * driver, as the blob layout (the hand-over renames the spool file into place).
 */
export class LocalFillSpool implements FillSpool {
  /** Per digest: settles when the writer open now is done, so the next one may open the file. */
  private readonly writers = new Map<Digest, Promise<void>>();

  constructor(
    private readonly dir: string,
    private readonly tmpDir: string,
    private readonly handOver: SpoolHandOver,
    private readonly pools: SpoolPools,
  ) {}

  static async open(dir: string, tmpDir: string, handOver: SpoolHandOver, pools: SpoolPools): Promise<LocalFillSpool> {
    await mkdir(dir, { recursive: true });
    return new LocalFillSpool(dir, tmpDir, handOver, pools);
  }

  async open(digest: Digest): Promise<FillWriter> {
    const previous = this.writers.get(digest);
    let settled!: () => void;
    const current = new Promise<void>((resolve) => (settled = resolve));
    this.writers.set(digest, current);
    const done = (): void => {
      settled();
      if (this.writers.get(digest) === current) this.writers.delete(digest);
    };
    await previous;
    try {
      return await this.openFile(digest, done);
    } catch (e) {
      done();
      throw e;
    }
  }

  private async openFile(digest: Digest, settled: () => void): Promise<FillWriter> {
    const path = this.path(digest);
    let handle: FileHandle;
    let size = 0;
    let origin: FillOrigin | null = null;
    try {
      handle = await open(path, 'r+');
      size = (await handle.stat()).size;
      origin = await readJsonFile<FillOrigin>(`${path}.json`).catch(() => null);
      // Longer than the blob: not this blob's bytes. Start over.
      if (origin?.size != null && size > origin.size) {
        await handle.truncate(0);
        size = 0;
      }
    } catch (e) {
      if (!isNotFound(e)) throw e;
      handle = await open(path, 'wx+');
    }
    const files = {
      record: (value: FillOrigin) => writeFileAtomic(`${path}.json`, JSON.stringify(value), this.tmpDir),
      remove: async () => {
        await Promise.all([rm(path, { force: true }), rm(`${path}.json`, { force: true })]);
      },
      settled,
    };
    let sink;
    try {
      sink = await this.handOver(digest, path);
      if (size > 0) await this.feed(handle, size, (chunk) => sink!.write([chunk]));
    } catch (e) {
      await sink?.abort();
      await handle.close();
      throw e;
    }
    return new LocalFillWriter(handle, sink, this.pools, files, size, size > 0 ? origin : null);
  }

  /** Hands the bytes a resumed fill found in the file to the new writer: read back, never re-downloaded. */
  private async feed(handle: FileHandle, size: number, write: (chunk: Buffer) => Promise<void>): Promise<void> {
    const buffer = this.pools.chunks.acquire();
    try {
      for (let position = 0; position < size; ) {
        const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - position), position);
        if (bytesRead === 0) throw new Error(`spool file ends at ${position}, before ${size}`);
        await write(buffer.subarray(0, bytesRead));
        position += bytesRead;
      }
    } finally {
      this.pools.chunks.release(buffer);
    }
  }

  async list(): Promise<PartialFill[]> {
    const found: PartialFill[] = [];
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      const match = SPOOL_FILE.exec(name);
      const digest = match ? `${match[1]}:${match[2]}` : '';
      if (!isDigest(digest) || this.writers.has(digest)) continue;
      const path = this.path(digest);
      const [data, origin] = await Promise.all([stat(path).catch(() => null), readJsonFile<FillOrigin>(`${path}.json`).catch(() => null)]);
      if (data) found.push({ digest, bytes: data.size, origin, lastActive: data.mtimeMs });
    }
    return found.sort((a, b) => (a.digest < b.digest ? -1 : 1));
  }

  async purgeIdle(maxAgeMs: number, now = Date.now()): Promise<number> {
    let purged = 0;
    for (const partial of await this.list()) {
      if (now - partial.lastActive <= maxAgeMs || this.writers.has(partial.digest)) continue;
      const path = this.path(partial.digest);
      await Promise.all([rm(path, { force: true }), rm(`${path}.json`, { force: true })]);
      purged++;
    }
    return purged;
  }

  private path(digest: Digest): string {
    return `${this.dir}/${digest.replace(':', '-')}`;
  }
}
