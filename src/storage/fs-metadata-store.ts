import { mkdir, readdir, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { LRUCache } from 'lru-cache';
import { digestAlgorithm, digestHex, isDigest, type Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { isTag, type Tag } from '../oci/reference.js';
import { isNotFound, readJsonFile, writeFileAtomic } from './atomic-file.js';
import { readdirOrEmpty } from './fs-blob-store.js';
import type { Layout } from './layout.js';
import type { BlobLink, ManifestRecord, MetadataStore, TagRecord } from './metadata-store.js';
import { inBatches, KeyedQueue } from './keyed-queue.js';
import type { RepositoryKey } from './repository-key.js';

const ABSENT = Symbol('absent');
type Cached<T> = T | typeof ABSENT;

/** A link's last use is written at most this often (GC's grace period is measured in hours). */
const LINK_TOUCH_INTERVAL_MS = 60_000;
const KEY_PREFIX = /^(?:[a-z0-9._:-]+\/)*$/;

/**
 * Metadata as small files (layout in layout.ts). Tag and manifest records are cached in memory —
 * including "absent" — because a warm `GET /manifests/<tag>` must not touch the disk; this process
 * is the only writer of its data directory, so the cache is updated on every write here. Writes of
 * one record are applied one at a time, so the cache and the disk agree on which write came last.
 */
export class FsMetadataStore implements MetadataStore {
  // lru-cache preallocates `max` slots: sized for the hot set, not the whole store (a miss is one stat).
  private readonly records = new LRUCache<string, Cached<ManifestRecord | TagRecord>>({ max: 10_000 });
  private readonly links = new LRUCache<string, boolean>({ max: 20_000 });
  private readonly linkTouches = new LRUCache<string, number>({ max: 20_000 });
  /**
   * Whole tag lists of the repositories listed lately, kept current by every tag write here: reading
   * 10,000 tag files takes 100-700 ms depending on load, the UI wants a page of them within 200 ms.
   * Bounded by records held (~200 bytes each).
   */
  private readonly tagLists = new LRUCache<RepositoryKey, Map<Tag, TagRecord>>({ maxSize: 50_000, sizeCalculation: (tags) => Math.max(1, tags.size) });
  /**
   * Counts tag writes, so a listing read while one landed is not kept (it may hold the old value).
   * An object, not a number: wrappers that inherit from this store (metadata-change-hook.ts) must
   * share it, and assigning a field through them would give them a copy of their own.
   */
  private readonly tagWrites = { count: 0 };
  private readonly writes = new KeyedQueue();

  constructor(
    private readonly layout: Layout,
    private readonly now: () => number = Date.now,
  ) {}

  async linkBlob(repo: RepositoryKey, digest: Digest): Promise<void> {
    const path = this.layout.blobLink(repo, digest);
    if (this.links.get(path) === true) return this.touchBlobLink(repo, digest);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, '');
    const now = this.now();
    await utimes(path, now / 1000, now / 1000); // last use by the injected clock, as touches are
    this.links.set(path, true);
    this.linkTouches.set(path, now);
  }

  async hasBlob(repo: RepositoryKey, digest: Digest): Promise<boolean> {
    const path = this.layout.blobLink(repo, digest);
    const cached = this.links.get(path);
    if (cached !== undefined) return cached;
    const exists = await stat(path).then(() => true, (e: unknown) => (isNotFound(e) ? false : Promise.reject(e)));
    this.links.set(path, exists);
    return exists;
  }

  async unlinkBlob(repo: RepositoryKey, digest: Digest): Promise<boolean> {
    const path = this.layout.blobLink(repo, digest);
    // One unlink says whether there was a link: no stat first (GC removes 50,000 links at a time).
    const existed = await unlink(path).then(() => true, (e: unknown) => (isNotFound(e) ? false : Promise.reject(e)));
    this.links.set(path, false);
    return existed;
  }

  async touchBlobLink(repo: RepositoryKey, digest: Digest): Promise<void> {
    const path = this.layout.blobLink(repo, digest);
    const now = this.now();
    const last = this.linkTouches.get(path);
    if (last !== undefined && now - last < LINK_TOUCH_INTERVAL_MS && now >= last) return;
    this.linkTouches.set(path, now);
    await utimes(path, now / 1000, now / 1000).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
  }

  async listBlobLinks(repo: RepositoryKey): Promise<BlobLink[]> {
    const root = join(this.layout.repository(repo), '_blobs');
    const found: BlobLink[] = [];
    for (const algorithm of await readdirOrEmpty(root)) {
      const digests = (await readdirOrEmpty(join(root, algorithm))).map((hex) => `${algorithm}:${hex}`).filter(isDigest);
      const stats = await inBatches(digests, (digest) => stat(this.layout.blobLink(repo, digest)).catch(() => null));
      stats.forEach((s, i) => s && found.push({ digest: digests[i]!, lastUsed: s.mtimeMs }));
    }
    return found;
  }

  putManifest(repo: RepositoryKey, record: ManifestRecord): Promise<void> {
    const path = this.layout.manifest(repo, record.digest);
    return this.writes.run(path, () => this.writeRecord(path, record));
  }

  getManifest(repo: RepositoryKey, digest: Digest): Promise<ManifestRecord | null> {
    return this.readManifest(this.layout.manifest(repo, digest));
  }

  async deleteManifest(repo: RepositoryKey, digest: Digest): Promise<boolean> {
    const record = await this.getManifest(repo, digest);
    if (!record) return false;
    for (const { tag, record: tagRecord } of await this.listTagRecords(repo)) {
      if (tagRecord.digest === digest) await this.deleteTag(repo, tag);
    }
    if (record.subject) {
      await rm(join(this.layout.referrers(repo, record.subject), referrerFile(digest)), { force: true });
    }
    const path = this.layout.manifest(repo, digest);
    await this.writes.run(path, async () => {
      await rm(path, { force: true });
      this.records.set(path, ABSENT);
    });
    return true;
  }

  forget(repo?: RepositoryKey): void {
    this.tagWrites.count++; // a listing read meanwhile may hold what was just replaced: not kept
    if (repo === undefined) {
      for (const cache of [this.records, this.links, this.linkTouches, this.tagLists] as Array<LRUCache<string, object | symbol | boolean | number>>) cache.clear();
      return;
    }
    // Nested repositories (`a/b` under `a`) share the prefix: dropping theirs too costs a re-read.
    const prefix = `${this.layout.repository(repo)}/`;
    for (const cache of [this.records, this.links, this.linkTouches] as Array<LRUCache<string, object | symbol | boolean | number>>) {
      for (const path of [...cache.keys()]) if (path.startsWith(prefix)) cache.delete(path);
    }
    this.tagLists.delete(repo);
  }

  async listManifests(repo: RepositoryKey): Promise<ManifestRecord[]> {
    const root = join(this.layout.repository(repo), '_manifests');
    const found: ManifestRecord[] = [];
    for (const algorithm of await readdirOrEmpty(root)) {
      const digests = (await readdirOrEmpty(join(root, algorithm))).map((hex) => `${algorithm}:${hex}`).filter(isDigest);
      const records = await inBatches(digests, (digest) => this.readManifest(this.layout.manifest(repo, digest), false));
      for (const record of records) if (record) found.push(record);
    }
    return found;
  }

  setTag(repo: RepositoryKey, tag: Tag, record: TagRecord): Promise<void> {
    const path = this.layout.tag(repo, tag);
    return this.writes.run(path, async () => {
      const current = await this.readTag(path);
      // The tag did not move: it has pointed at this digest since then.
      const updatedAt = current?.digest === record.digest ? current.updatedAt : record.updatedAt;
      const value = { ...record, updatedAt };
      await this.writeRecord(path, value);
      this.tagWrites.count++;
      this.tagLists.get(repo)?.set(tag, value);
    });
  }

  getTag(repo: RepositoryKey, tag: Tag): Promise<TagRecord | null> {
    return this.readTag(this.layout.tag(repo, tag));
  }

  deleteTag(repo: RepositoryKey, tag: Tag): Promise<boolean> {
    const path = this.layout.tag(repo, tag);
    return this.writes.run(path, async () => {
      const existed = (await this.readTag(path)) !== null;
      await rm(path, { force: true });
      this.records.set(path, ABSENT);
      this.tagWrites.count++;
      this.tagLists.get(repo)?.delete(tag);
      return existed;
    });
  }

  async listTags(repo: RepositoryKey): Promise<Tag[]> {
    const names = await readdirOrEmpty(this.layout.tags(repo));
    return names.filter((n): n is Tag => isTag(n)).sort();
  }

  async listTagRecords(repo: RepositoryKey): Promise<Array<{ tag: Tag; record: TagRecord }>> {
    let list = this.tagLists.get(repo);
    if (!list) {
      const writes = this.tagWrites.count;
      const tags = await this.listTags(repo);
      const records = await inBatches(tags, (tag) => this.readTag(this.layout.tag(repo, tag), false));
      list = new Map();
      records.forEach((record, i) => record && list!.set(tags[i]!, record));
      if (this.tagWrites.count === writes) this.tagLists.set(repo, list);
    }
    return [...list].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([tag, record]) => ({ tag, record }));
  }

  async addReferrer(repo: RepositoryKey, subject: Digest, referrer: Descriptor): Promise<void> {
    const dir = this.layout.referrers(repo, subject);
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(join(dir, referrerFile(referrer.digest)), JSON.stringify(referrer), this.layout.tmp);
  }

  async listReferrers(repo: RepositoryKey, subject: Digest): Promise<Descriptor[]> {
    const dir = this.layout.referrers(repo, subject);
    const files = (await readdirOrEmpty(dir)).sort();
    const found = await Promise.all(files.map((f) => readJsonFile<Descriptor>(join(dir, f))));
    return found.filter((d): d is Descriptor => d !== null);
  }

  /**
   * A repository exists once a manifest was pushed to it: deleting its last manifest leaves it
   * existing and empty (tags/list is 200 with no tags, as in distribution and as the OCI conformance
   * suite checks after a delete), while a name nothing was ever pushed to stays unknown (404). The
   * `_manifests` directory is created by the first manifest and never removed. The catalog, which
   * lists only repositories with content, uses `holdsManifests` instead.
   */
  async repositoryExists(repo: RepositoryKey): Promise<boolean> {
    return stat(join(this.layout.repository(repo), '_manifests')).then(
      (s) => s.isDirectory(),
      (e: unknown) => (isNotFound(e) ? false : Promise.reject(e)),
    );
  }

  async listRepositories(): Promise<RepositoryKey[]> {
    const found: RepositoryKey[] = [];
    await this.walkRepositories(this.layout.repositories, async (dir, entries) => {
      if (entries.includes('_manifests') && (await holdsManifests(dir))) found.push(this.keyOf(dir));
    });
    return found.sort();
  }

  /** A directory is a repository once it has a bookkeeping (`_…`) directory, even if emptied since. */
  async listRepositoryKeys(prefix = ''): Promise<RepositoryKey[]> {
    if (!KEY_PREFIX.test(prefix) || prefix.split('/').some((part) => part === '.' || part === '..')) {
      throw new Error(`invalid repository key prefix ${JSON.stringify(prefix)}`);
    }
    const found: RepositoryKey[] = [];
    await this.walkRepositories(join(this.layout.repositories, prefix), async (dir, entries) => {
      if (entries.some((e) => e.startsWith('_'))) found.push(this.keyOf(dir));
    });
    return found.sort();
  }

  /** Calls `visit` for every directory under `root` that is not bookkeeping, with its entry names. */
  private async walkRepositories(root: string, visit: (dir: string, entries: string[]) => Promise<void>): Promise<void> {
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if (isNotFound(e)) return;
        throw e;
      }
      await visit(dir, entries.map((e) => e.name));
      await Promise.all(entries.filter((e) => e.isDirectory() && !e.name.startsWith('_')).map((e) => walk(join(dir, e.name))));
    };
    await walk(root);
  }

  private keyOf(dir: string): RepositoryKey {
    return relative(this.layout.repositories, dir).split(sep).join('/') as RepositoryKey;
  }

  private readTag(path: string, remember = true): Promise<TagRecord | null> {
    return this.readRecord<TagRecord>(path, remember, async (raw) => (raw.updatedAt === undefined ? { ...raw, updatedAt: raw.checkedAt } : raw));
  }

  private readManifest(path: string, remember = true): Promise<ManifestRecord | null> {
    return this.readRecord<ManifestRecord>(path, remember, async (raw) =>
      raw.storedAt === undefined ? { ...raw, storedAt: (await stat(path)).mtimeMs } : raw,
    );
  }

  /**
   * `upgrade` fills fields that records written before them lack. Listings read with `remember`
   * off: 10,000 tags listed for a page must not push the warm manifest path's records out.
   */
  private async readRecord<T extends ManifestRecord | TagRecord>(path: string, remember: boolean, upgrade: (raw: T) => Promise<T>): Promise<T | null> {
    const cached = this.records.get(path);
    if (cached !== undefined) return cached === ABSENT ? null : (cached as T);
    const raw = await readJsonFile<T>(path);
    const record = raw === null ? null : await upgrade(raw);
    if (remember) this.records.set(path, record ?? ABSENT);
    return record;
  }

  private async writeRecord(path: string, record: ManifestRecord | TagRecord): Promise<void> {
    await writeFileAtomic(path, JSON.stringify(record), this.layout.tmp);
    this.records.set(path, record);
  }
}

/** Whether a repository directory holds a manifest: deleting the last one leaves `_manifests/sha256/` empty. */
async function holdsManifests(dir: string): Promise<boolean> {
  for (const algorithm of await readdirOrEmpty(join(dir, '_manifests'))) {
    if ((await readdirOrEmpty(join(dir, '_manifests', algorithm))).length > 0) return true;
  }
  return false;
}

const referrerFile = (digest: Digest): string => `${digestAlgorithm(digest)}-${digestHex(digest)}`;
