import pLimit from 'p-limit';
import type { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { cosignTag, platformName, referrerKind, type ManifestKind } from '../oci/manifest-summary.js';
import type { Tag } from '../oci/reference.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { MetadataChange } from '../storage/metadata-change-hook.js';
import type { MetadataStore, TagRecord } from '../storage/metadata-store.js';
import type { RepositoryKey } from '../storage/repository-key.js';
import type { ImageReader } from './image-reader.js';

/** A repository as the browsing API lists it, built from stored metadata only. */
export interface RepositoryView {
  key: RepositoryKey;
  /** Canonical name: a hosted name, or `<upstream>/<repository>` for cached content. */
  name: string;
  kind: 'hosted' | 'cached';
  upstream: string | null;
  /** The repository's name at the upstream (cached) or its own name (hosted). */
  remoteName: string;
  tags: TagView[];
  /** Sum of the distinct config and layer sizes the tags reference (what clients download). */
  size: number;
  /** Bytes of those blobs that are actually stored. */
  storedBytes: number;
  /** Latest push (hosted) or latest time a tag was cached or revalidated (cached). Null: no tags. */
  updatedAt: number | null;
}

export interface TagView {
  tag: Tag;
  digest: Digest;
  mediaType: string;
  kind: ManifestKind;
  artifactType: string | null;
  /** `os/arch[/variant]`: an image's own, an index's children (attestations left out). */
  platforms: string[];
  /** Index children stored here, of `platforms.length`. */
  platformsCached: number;
  size: number;
  /** From the image config (newest child for an index); null when it is not stored. */
  created: string | null;
  /** When the tag was pushed (hosted) or cached. */
  updatedAt: number;
  /** When the tag was last confirmed: pushed, or revalidated against the upstream. */
  checkedAt: number;
  signed: boolean;
}

type TagRecordWithUpdate = TagRecord & { updatedAt?: number };

/** `hosted/team/app` → hosted `team/app`; `proxied/docker.io/library/alpine` → cached from docker.io. */
export function describeKey(key: RepositoryKey): Pick<RepositoryView, 'name' | 'kind' | 'upstream' | 'remoteName'> {
  if (key.startsWith('hosted/')) {
    const name = key.slice('hosted/'.length);
    return { name, kind: 'hosted', upstream: null, remoteName: name };
  }
  const rest = key.slice('proxied/'.length);
  const slash = rest.indexOf('/');
  return { name: rest, kind: 'cached', upstream: rest.slice(0, slash), remoteName: rest.slice(slash + 1) };
}

/**
 * Builds a view of each repository (its tags with type, platforms, size, dates, signed mark) from
 * the metadata store and the stored manifests and configs, and keeps it until the repository
 * changes. The registry's writes reach `invalidate` through the change hook in services.ts, so a
 * push is visible at once; views older than `maxAgeMs` are rebuilt in the background while the old
 * one is served (a bound for writers this process does not see). Never contacts an upstream.
 */
export class RepositoryViews {
  private readonly views = new Map<RepositoryKey, { view: Promise<RepositoryView | null>; builtAt: number; refreshing?: boolean }>();
  private keys: { keys: Promise<RepositoryKey[]>; builtAt: number; known: ReadonlySet<RepositoryKey> | null; refreshing?: boolean } | null = null;
  private readonly building = pLimit(32);
  private readonly referrerChecks = pLimit(16);

  constructor(
    private readonly deps: {
      metadata: MetadataStore;
      blobs: BlobStore;
      reader: ImageReader;
      now?: () => number;
      maxAgeMs?: number;
    },
  ) {}

  /** Every repository that holds a manifest. */
  async list(): Promise<RepositoryView[]> {
    const keys = await this.repositoryKeys();
    const views = await Promise.all(keys.map((key) => this.get(key)));
    return views.filter((v): v is RepositoryView => v !== null);
  }

  /** Null when the repository holds no manifest. */
  get(key: RepositoryKey): Promise<RepositoryView | null> {
    const now = this.now();
    const entry = this.views.get(key);
    if (entry) {
      if (!entry.refreshing && now - entry.builtAt > this.maxAge) {
        entry.refreshing = true;
        const view = this.build(key);
        // Replaces the entry only if nothing invalidated it meanwhile.
        const replace = (): void => {
          if (this.views.get(key) === entry) this.views.set(key, { view, builtAt: this.now() });
        };
        view.then(replace, () => (entry.refreshing = false));
      }
      return entry.view;
    }
    const view = this.build(key);
    this.views.set(key, { view, builtAt: now });
    view.catch(() => this.views.delete(key));
    return view;
  }

  /**
   * The repository changed: its tags or referrers (`tags`), or a manifest was stored (`added`: a new
   * repository if it was not listed yet) or deleted (`removed`: it may hold nothing any more).
   */
  invalidate(key: RepositoryKey, change: MetadataChange): void {
    if (change === 'links') return; // views show stored bytes, refreshed within maxAgeMs
    this.views.delete(key);
    if (change === 'removed' || (change === 'added' && !this.keys?.known?.has(key))) this.keys = null;
  }

  /** Everything may have changed (another replica wrote while this one could not hear of it). */
  invalidateAll(): void {
    this.views.clear();
    this.keys = null;
  }

  /** The repository list, walked again in the background once older than `maxAgeMs`. */
  private repositoryKeys(): Promise<RepositoryKey[]> {
    const current = this.keys;
    if (!current) return this.listKeys().keys;
    if (!current.refreshing && this.now() - current.builtAt > this.maxAge) {
      current.refreshing = true;
      const next = this.listKeys(current);
      next.keys.catch(() => (current.refreshing = false));
    }
    return current.keys;
  }

  /** Starts walking the repository list; replaces `previous` (if still current) when done. */
  private listKeys(previous?: NonNullable<RepositoryViews['keys']>): NonNullable<RepositoryViews['keys']> {
    const entry: NonNullable<RepositoryViews['keys']> = { keys: this.deps.metadata.listRepositories(), builtAt: this.now(), known: null };
    if (!previous) this.keys = entry;
    entry.keys.then(
      (keys) => {
        entry.known = new Set(keys);
        if (previous && this.keys === previous) this.keys = entry;
      },
      () => {
        if (this.keys === entry) this.keys = null;
      },
    );
    return entry;
  }

  private build(key: RepositoryKey): Promise<RepositoryView | null> {
    return this.building(async () => {
      const { metadata } = this.deps;
      if (!(await metadata.repositoryExists(key))) return null;
      const tagNames = await metadata.listTags(key);
      const cosign = new Set(tagNames.filter((t) => cosignTag(t)?.kind === 'signature').map((t) => cosignTag(t)!.subject));
      // Many tags share a manifest (10,000 tags over 100 images): ask for its referrers once.
      const signatures = new Map<Digest, Promise<boolean>>();
      const signed = (digest: Digest): Promise<boolean> => {
        if (cosign.has(digest)) return Promise.resolve(true);
        let known = signatures.get(digest);
        if (!known) signatures.set(digest, (known = this.hasSignature(key, digest)));
        return known;
      };
      const blobSizes = new Map<Digest, number>();
      const tags: TagView[] = [];
      await Promise.all(
        tagNames.map(async (tag) => {
          const row = await this.tagView(key, tag, signed, blobSizes);
          if (row) tags.push(row);
        }),
      );
      tags.sort((a, b) => (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0));
      let size = 0;
      let storedBytes = 0;
      await Promise.all(
        [...blobSizes].map(async ([digest, bytes]) => {
          size += bytes;
          if (await this.deps.blobs.stat(digest)) storedBytes += bytes;
        }),
      );
      const updatedAt = tags.length ? Math.max(...tags.map((t) => t.updatedAt)) : null;
      return { key, ...describeKey(key), tags, size, storedBytes, updatedAt };
    });
  }

  private async tagView(key: RepositoryKey, tag: Tag, signed: (digest: Digest) => Promise<boolean>, blobSizes: Map<Digest, number>): Promise<TagView | null> {
    const { metadata, reader } = this.deps;
    const record = (await metadata.getTag(key, tag)) as TagRecordWithUpdate | null;
    if (!record) return null;
    const manifest = await metadata.getManifest(key, record.digest);
    if (!manifest) return null;
    const summary = await reader.manifest(record.digest, manifest.mediaType);
    const row: TagView = {
      tag,
      digest: record.digest,
      mediaType: manifest.mediaType,
      kind: summary?.kind ?? 'image',
      artifactType: summary?.artifactType ?? manifest.artifactType ?? null,
      platforms: [],
      platformsCached: 0,
      size: 0,
      created: null,
      updatedAt: record.updatedAt ?? record.checkedAt,
      checkedAt: record.checkedAt,
      signed: await signed(record.digest),
    };
    if (!summary) return row;
    const add = (blobs: Descriptor[], into: Map<Digest, number>): void => {
      for (const d of blobs) into.set(d.digest, d.size);
    };
    const own = new Map<Digest, number>();
    if (summary.kind === 'index' || summary.platforms.length > 0) {
      row.platforms = summary.platforms.map((c) => platformName(c.platform));
      const created: string[] = [];
      for (const child of summary.platforms) {
        const childRecord = await metadata.getManifest(key, child.digest);
        const image = childRecord ? await reader.manifest(child.digest, childRecord.mediaType) : null;
        if (!image) continue;
        row.platformsCached++;
        add([...(image.config ? [image.config] : []), ...image.layers], own);
        const config = image.config ? await reader.config(image.config.digest) : null;
        if (config?.created) created.push(config.created);
      }
      row.created = created.sort().at(-1) ?? null;
    } else {
      add([...(summary.config ? [summary.config] : []), ...summary.layers], own);
      const config = summary.config && summary.kind === 'image' ? await reader.config(summary.config.digest) : null;
      if (config) {
        row.created = config.created;
        if (config.os && config.architecture) row.platforms = [platformName({ os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) })];
      }
    }
    for (const [digest, bytes] of own) {
      row.size += bytes;
      blobSizes.set(digest, bytes);
    }
    return row;
  }

  private async hasSignature(key: RepositoryKey, digest: Digest): Promise<boolean> {
    const referrers = await this.referrerChecks(() => this.deps.metadata.listReferrers(key, digest));
    return referrers.some((r) => referrerKind(r.artifactType) === 'signature');
  }

  private get maxAge(): number {
    return this.deps.maxAgeMs ?? 60_000;
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }
}
