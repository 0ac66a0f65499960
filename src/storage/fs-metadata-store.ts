import { mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { LRUCache } from 'lru-cache';
import { digestAlgorithm, digestHex, type Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { isTag, type Tag } from '../oci/reference.js';
import { isNotFound, readJsonFile, writeFileAtomic } from './atomic-file.js';
import { readdirOrEmpty } from './fs-blob-store.js';
import type { Layout } from './layout.js';
import type { ManifestRecord, MetadataStore, TagRecord } from './metadata-store.js';
import type { RepositoryKey } from './repository-key.js';

const ABSENT = Symbol('absent');
type Cached<T> = T | typeof ABSENT;

/**
 * Metadata as small files (layout in layout.ts). Tag and manifest records are cached in memory —
 * including "absent" — because a warm `GET /manifests/<tag>` must not touch the disk; this process
 * is the only writer of its data directory, so the cache is invalidated on every write here.
 */
export class FsMetadataStore implements MetadataStore {
  // lru-cache preallocates `max` slots: sized for the hot set, not the whole store (a miss is one stat).
  private readonly records = new LRUCache<string, Cached<ManifestRecord | TagRecord>>({ max: 10_000 });
  private readonly links = new LRUCache<string, boolean>({ max: 20_000 });

  constructor(private readonly layout: Layout) {}

  async linkBlob(repo: RepositoryKey, digest: Digest): Promise<void> {
    const path = this.layout.blobLink(repo, digest);
    if (this.links.get(path) === true) return;
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, '');
    this.links.set(path, true);
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
    const existed = await this.hasBlob(repo, digest);
    const path = this.layout.blobLink(repo, digest);
    await rm(path, { force: true });
    this.links.set(path, false);
    return existed;
  }

  async putManifest(repo: RepositoryKey, record: ManifestRecord): Promise<void> {
    await this.writeRecord(this.layout.manifest(repo, record.digest), record);
  }

  getManifest(repo: RepositoryKey, digest: Digest): Promise<ManifestRecord | null> {
    return this.readRecord<ManifestRecord>(this.layout.manifest(repo, digest));
  }

  async deleteManifest(repo: RepositoryKey, digest: Digest): Promise<boolean> {
    const record = await this.getManifest(repo, digest);
    if (!record) return false;
    for (const tag of await this.listTags(repo)) {
      if ((await this.getTag(repo, tag))?.digest === digest) await this.deleteTag(repo, tag);
    }
    if (record.subject) {
      await rm(join(this.layout.referrers(repo, record.subject), referrerFile(digest)), { force: true });
    }
    const path = this.layout.manifest(repo, digest);
    await rm(path, { force: true });
    this.records.set(path, ABSENT);
    return true;
  }

  async setTag(repo: RepositoryKey, tag: Tag, record: TagRecord): Promise<void> {
    await this.writeRecord(this.layout.tag(repo, tag), record);
  }

  getTag(repo: RepositoryKey, tag: Tag): Promise<TagRecord | null> {
    return this.readRecord<TagRecord>(this.layout.tag(repo, tag));
  }

  async deleteTag(repo: RepositoryKey, tag: Tag): Promise<boolean> {
    const path = this.layout.tag(repo, tag);
    const existed = (await this.readRecord(path)) !== null;
    await rm(path, { force: true });
    this.records.set(path, ABSENT);
    return existed;
  }

  async listTags(repo: RepositoryKey): Promise<Tag[]> {
    const names = await readdirOrEmpty(this.layout.tags(repo));
    return names.filter((n): n is Tag => isTag(n)).sort();
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
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (e) {
        if (isNotFound(e)) return;
        throw e;
      }
      if (entries.some((e) => e.name === '_manifests') && (await holdsManifests(dir))) {
        found.push(relative(this.layout.repositories, dir).split(sep).join('/') as RepositoryKey);
      }
      await Promise.all(entries.filter((e) => e.isDirectory() && !e.name.startsWith('_')).map((e) => walk(join(dir, e.name))));
    };
    await walk(this.layout.repositories);
    return found.sort();
  }

  private async readRecord<T extends ManifestRecord | TagRecord>(path: string): Promise<T | null> {
    const cached = this.records.get(path);
    if (cached !== undefined) return cached === ABSENT ? null : (cached as T);
    const record = await readJsonFile<T>(path);
    this.records.set(path, record ?? ABSENT);
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
