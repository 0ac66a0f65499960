import { LRUCache } from 'lru-cache';
import { isDigest, type Digest } from '../../oci/digest.js';
import type { Descriptor } from '../../oci/manifest.js';
import { isTag, type Tag } from '../../oci/reference.js';
import { inBatches, KeyedQueue } from '../keyed-queue.js';
import type { BlobLink, ManifestRecord, MetadataStore, TagRecord } from '../metadata-store.js';
import type { RepositoryKey } from '../repository-key.js';
import type { S3Bucket } from './s3-bucket.js';
import { S3_LAYOUT } from './s3-layout.js';

const ABSENT = Symbol('absent');
type Cached<T> = T | typeof ABSENT;

/** A link's last use is written at most this often (GC's grace period is measured in hours). */
const LINK_TOUCH_INTERVAL_MS = 60_000;
/** Objects read at once when a listing needs their content. */
const READ_BATCH = 64;
const KEY_PREFIX = /^(?:[a-z0-9._:-]+\/)*$/;

/**
 * Metadata as small JSON objects in the bucket (s3-layout.ts), so every replica sharing the bucket
 * reads the same repositories. Tag and manifest records, blob links and tag lists are cached in
 * this process — including "absent" — so a warm `GET /manifests/<tag>` sends nothing to the store.
 * Every write here updates the cache. Writes of other replicas are not seen until `forget` is
 * called for their repository: with one replica (no cluster) there are none; a cluster passes the
 * writes it hears about (`onWrite` on the writing replica → `forget` on the others).
 */
export class S3MetadataStore implements MetadataStore {
  private readonly records = new LRUCache<string, Cached<ManifestRecord | TagRecord>>({ max: 10_000 });
  private readonly links = new LRUCache<string, boolean>({ max: 20_000 });
  private readonly linkTouches = new LRUCache<string, number>({ max: 20_000 });
  /** Whole tag lists of the repositories listed lately (the UI's tag pages), kept current by every tag write here. */
  private readonly tagLists = new LRUCache<RepositoryKey, Map<Tag, TagRecord>>({ maxSize: 50_000, sizeCalculation: (tags) => Math.max(1, tags.size) });
  /** Repositories known to exist: a repository never stops existing. */
  private readonly existing = new Set<RepositoryKey>();
  /** Counts tag writes (an object: see metadata-change-hook.ts), so a listing read while one landed is not kept. */
  private readonly tagWrites = { count: 0 };
  private readonly writes = new KeyedQueue();
  /** Told after each write of this process, with the repository written: how a cluster makes other replicas `forget`. */
  readonly listeners = new Set<(repository: RepositoryKey) => void>();

  constructor(
    private readonly bucket: S3Bucket,
    private readonly now: () => number = Date.now,
  ) {}

  /** Drops everything cached about `repository` (another replica wrote to it); without an argument, about every repository. */
  forget(repository?: RepositoryKey): void {
    const prefix = repository === undefined ? S3_LAYOUT.repositories : S3_LAYOUT.repository(repository);
    const drop = (cache: { keys(): Iterable<string>; delete(key: string): unknown }): void => {
      for (const key of [...cache.keys()]) if (key.startsWith(prefix)) cache.delete(key);
    };
    [this.records, this.links, this.linkTouches].forEach(drop);
    if (repository === undefined) this.tagLists.clear();
    else this.tagLists.delete(repository);
  }

  async linkBlob(repo: RepositoryKey, digest: Digest): Promise<void> {
    const path = S3_LAYOUT.blobLink(repo, digest);
    if (this.links.get(path) === true) return this.touchBlobLink(repo, digest);
    const now = this.now();
    await this.bucket.put(path, JSON.stringify({ lastUsed: now }));
    this.links.set(path, true);
    this.linkTouches.set(path, now);
    this.changed(repo);
  }

  async hasBlob(repo: RepositoryKey, digest: Digest): Promise<boolean> {
    const path = S3_LAYOUT.blobLink(repo, digest);
    const cached = this.links.get(path);
    if (cached !== undefined) return cached;
    const exists = (await this.bucket.head(path)) !== null;
    this.links.set(path, exists);
    return exists;
  }

  async unlinkBlob(repo: RepositoryKey, digest: Digest): Promise<boolean> {
    const existed = await this.hasBlob(repo, digest);
    const path = S3_LAYOUT.blobLink(repo, digest);
    await this.bucket.delete(path);
    this.links.set(path, false);
    this.changed(repo);
    return existed;
  }

  async touchBlobLink(repo: RepositoryKey, digest: Digest): Promise<void> {
    const path = S3_LAYOUT.blobLink(repo, digest);
    const now = this.now();
    const last = this.linkTouches.get(path);
    if (last !== undefined && now - last < LINK_TOUCH_INTERVAL_MS && now >= last) return;
    this.linkTouches.set(path, now);
    if (await this.hasBlob(repo, digest)) await this.bucket.put(path, JSON.stringify({ lastUsed: now }));
  }

  async listBlobLinks(repo: RepositoryKey): Promise<BlobLink[]> {
    const digests = await this.digestsUnder(`${S3_LAYOUT.repository(repo)}_blobs/`);
    const links = await inBatches(digests, (digest) => this.readJson<{ lastUsed: number }>(S3_LAYOUT.blobLink(repo, digest)), READ_BATCH);
    return digests.flatMap((digest, i) => (links[i] ? [{ digest, lastUsed: links[i].lastUsed }] : []));
  }

  putManifest(repo: RepositoryKey, record: ManifestRecord): Promise<void> {
    const path = S3_LAYOUT.manifest(repo, record.digest);
    return this.writes.run(path, async () => {
      if (!this.existing.has(repo)) {
        await this.bucket.put(`${S3_LAYOUT.repository(repo)}_exists`, '');
        this.existing.add(repo);
      }
      await this.writeRecord(repo, path, record);
    });
  }

  getManifest(repo: RepositoryKey, digest: Digest): Promise<ManifestRecord | null> {
    return this.readRecord<ManifestRecord>(S3_LAYOUT.manifest(repo, digest));
  }

  async deleteManifest(repo: RepositoryKey, digest: Digest): Promise<boolean> {
    const record = await this.getManifest(repo, digest);
    if (!record) return false;
    for (const { tag, record: tagRecord } of await this.listTagRecords(repo)) {
      if (tagRecord.digest === digest) await this.deleteTag(repo, tag);
    }
    if (record.subject) await this.bucket.delete(S3_LAYOUT.referrers(repo, record.subject) + referrerName(digest));
    const path = S3_LAYOUT.manifest(repo, digest);
    await this.writes.run(path, async () => {
      await this.bucket.delete(path);
      this.records.set(path, ABSENT);
    });
    this.changed(repo);
    return true;
  }

  async listManifests(repo: RepositoryKey): Promise<ManifestRecord[]> {
    const digests = await this.digestsUnder(`${S3_LAYOUT.repository(repo)}_manifests/`);
    const records = await inBatches(digests, (digest) => this.readRecord<ManifestRecord>(S3_LAYOUT.manifest(repo, digest), false), READ_BATCH);
    return records.filter((r): r is ManifestRecord => r !== null);
  }

  setTag(repo: RepositoryKey, tag: Tag, record: TagRecord): Promise<void> {
    const path = S3_LAYOUT.tag(repo, tag);
    return this.writes.run(path, async () => {
      const current = await this.readRecord<TagRecord>(path);
      // The tag did not move: it has pointed at this digest since then.
      const value = { ...record, updatedAt: current?.digest === record.digest ? current.updatedAt : record.updatedAt };
      await this.writeRecord(repo, path, value);
      this.tagWrites.count++;
      this.tagLists.get(repo)?.set(tag, value);
    });
  }

  getTag(repo: RepositoryKey, tag: Tag): Promise<TagRecord | null> {
    return this.readRecord<TagRecord>(S3_LAYOUT.tag(repo, tag));
  }

  deleteTag(repo: RepositoryKey, tag: Tag): Promise<boolean> {
    const path = S3_LAYOUT.tag(repo, tag);
    return this.writes.run(path, async () => {
      const existed = (await this.readRecord(path)) !== null;
      await this.bucket.delete(path);
      this.records.set(path, ABSENT);
      this.tagWrites.count++;
      this.tagLists.get(repo)?.delete(tag);
      this.changed(repo);
      return existed;
    });
  }

  async listTags(repo: RepositoryKey): Promise<Tag[]> {
    return (await this.namesUnder(`${S3_LAYOUT.repository(repo)}_tags/`)).filter((n): n is Tag => isTag(n)).sort();
  }

  async listTagRecords(repo: RepositoryKey): Promise<Array<{ tag: Tag; record: TagRecord }>> {
    let list = this.tagLists.get(repo);
    if (!list) {
      const writes = this.tagWrites.count;
      const tags = await this.listTags(repo);
      const records = await inBatches(tags, (tag) => this.readRecord<TagRecord>(S3_LAYOUT.tag(repo, tag), false), READ_BATCH);
      list = new Map();
      records.forEach((record, i) => record && list!.set(tags[i]!, record));
      if (this.tagWrites.count === writes) this.tagLists.set(repo, list);
    }
    return [...list].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([tag, record]) => ({ tag, record }));
  }

  async addReferrer(repo: RepositoryKey, subject: Digest, referrer: Descriptor): Promise<void> {
    await this.bucket.put(S3_LAYOUT.referrers(repo, subject) + referrerName(referrer.digest), JSON.stringify(referrer));
    this.changed(repo);
  }

  async listReferrers(repo: RepositoryKey, subject: Digest): Promise<Descriptor[]> {
    const dir = S3_LAYOUT.referrers(repo, subject);
    const names = (await this.namesUnder(dir)).sort();
    const found = await inBatches(names, (name) => this.readJson<Descriptor>(dir + name), READ_BATCH);
    return found.filter((d): d is Descriptor => d !== null);
  }

  /** Once a manifest was stored (`_exists`), deleting the last one leaves the repository existing and empty, as on fs. */
  async repositoryExists(repo: RepositoryKey): Promise<boolean> {
    if (this.existing.has(repo)) return true;
    const exists = (await this.bucket.head(`${S3_LAYOUT.repository(repo)}_exists`)) !== null;
    if (exists) this.existing.add(repo);
    return exists;
  }

  async listRepositories(): Promise<RepositoryKey[]> {
    const found: RepositoryKey[] = [];
    await this.walk('', async (key, entries) => {
      if (entries.includes('_manifests/') && (await this.bucket.children(`${S3_LAYOUT.repository(key)}_manifests/`)).length > 0) found.push(key);
    });
    return found.sort();
  }

  async listRepositoryKeys(prefix = ''): Promise<RepositoryKey[]> {
    if (!KEY_PREFIX.test(prefix) || prefix.split('/').some((part) => part === '.' || part === '..')) {
      throw new Error(`invalid repository key prefix ${JSON.stringify(prefix)}`);
    }
    const found: RepositoryKey[] = [];
    await this.walk(prefix, async (key, entries) => {
      if (entries.some((e) => e.startsWith('_'))) found.push(key);
    });
    return found.sort();
  }

  /** Calls `visit` for every "directory" under `repositories/<prefix>` that is not bookkeeping, with the names one level below it. */
  private async walk(prefix: string, visit: (key: RepositoryKey, entries: string[]) => Promise<void>): Promise<void> {
    const step = async (dir: string): Promise<void> => {
      const entries = await this.bucket.children(S3_LAYOUT.repositories + dir);
      if (dir !== '') await visit(dir.replace(/\/$/, '') as RepositoryKey, entries);
      await Promise.all(entries.filter((e) => e.endsWith('/') && !e.startsWith('_')).map((e) => step(dir + e)));
    };
    await step(prefix);
  }

  /** Digests stored as `<algorithm>/<hex>` under `dir`. */
  private async digestsUnder(dir: string): Promise<Digest[]> {
    const found: Digest[] = [];
    for await (const object of this.bucket.list(dir)) {
      const digest = object.path.slice(dir.length).replace('/', ':');
      if (isDigest(digest)) found.push(digest);
    }
    return found;
  }

  /** Object names directly under `dir`. */
  private async namesUnder(dir: string): Promise<string[]> {
    return (await this.bucket.children(dir)).filter((name) => !name.endsWith('/'));
  }

  /** Listings read with `remember` off: 10,000 tags listed for a page must not push the warm manifest path's records out. */
  private async readRecord<T extends ManifestRecord | TagRecord>(path: string, remember = true): Promise<T | null> {
    const cached = this.records.get(path);
    if (cached !== undefined) return cached === ABSENT ? null : (cached as T);
    const record = await this.readJson<T>(path);
    if (remember) this.records.set(path, record ?? ABSENT);
    return record;
  }

  private async writeRecord(repo: RepositoryKey, path: string, record: ManifestRecord | TagRecord): Promise<void> {
    await this.bucket.put(path, JSON.stringify(record));
    this.records.set(path, record);
    this.changed(repo);
  }

  private async readJson<T>(path: string): Promise<T | null> {
    const bytes = await this.bucket.getBytes(path);
    return bytes && (JSON.parse(bytes.toString('utf8')) as T);
  }

  private changed(repo: RepositoryKey): void {
    for (const listener of this.listeners) listener(repo);
  }
}

const referrerName = (digest: Digest): string => digest.replace(':', '-');
