import type { Logger } from 'pino';
import type { Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import { summarizeManifest } from '../oci/manifest-summary.js';
import { referenceString, type Reference } from '../oci/reference.js';
import type { ImageReader } from '../registry/image-reader.js';
import type { EvictionIndex } from '../storage/eviction-index.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import type { PinStore } from '../storage/pin-store.js';
import type { RepositoryKey } from '../storage/repository-key.js';
import type { LifecycleObserver } from './lifecycle-observer.js';
import { selectChildren, selectTags, type PrefetchTarget } from './prefetch-targets.js';

/** Something pinned: an image by tag (followed when it moves) or by digest. */
export interface PinSource {
  key: RepositoryKey;
  reference: Reference;
  /** Platforms of an index that are pinned; null = every stored one. */
  platforms: string[] | null;
  /** `config`: a `prefetch.images` entry with `pin: true`; `api`: pinned by an admin (kept in the PinStore). */
  origin: 'config' | 'api';
  /** What to prefetch when its tag moves: the configured entry's ref, or the image itself. */
  ref: string;
}

export interface PinsDeps {
  metadata: MetadataStore;
  images: ImageReader;
  eviction: EvictionIndex;
  store: PinStore;
  /** `prefetch.images` entries with `pin: true`; a tag pattern or range pins the stored tags it matches. */
  configured: PrefetchTarget[];
  /** `storage.maxSize`: pinned bytes above it are warned about (and never evicted). */
  budgetBytes: number;
  logger: Logger;
  observer: LifecycleObserver;
  /** A pinned tag now points elsewhere: its new target should be fetched (prefetch). */
  tagMoved(source: PinSource): void;
  now?: () => number;
}

/**
 * Pinned content: never evicted, whatever the budget. What is pinned is worked out from what is
 * stored — the manifest a pinned tag or digest names, its children (of the pinned platforms),
 * their config and layers, and the referrers recorded for them — and handed to the eviction index
 * (`pin`/`unpin`), which holds pins in memory only: they are applied again at start, after every
 * prefetch run, and whenever a pinned tag moves. A moved tag pins its new target and unpins the
 * old one, unless another pin (a digest entry) still names it. Nothing here contacts an upstream.
 */
export class Pins {
  private pinned = new Set<Digest>();
  /** Where each pinned tag pointed at the last application, by `key:tag`. */
  private targets = new Map<string, Digest>();
  private applying: Promise<void> | null = null;
  private again = false;
  private overBudget = false;

  constructor(private readonly deps: PinsDeps) {}

  isPinned(digest: Digest): boolean {
    return this.pinned.has(digest);
  }

  /** Every pin: the configured ones and those made through the API. */
  async sources(): Promise<PinSource[]> {
    const configured: PinSource[] = [];
    for (const target of this.deps.configured) {
      const { key } = target.route;
      const references = 'fixed' in target.select
        ? target.select.fixed
        : selectTags(target.select, await this.deps.metadata.listTags(key)).map((tag): Reference => ({ kind: 'tag', tag }));
      for (const reference of references) configured.push({ key, reference, platforms: target.platforms, origin: 'config', ref: target.ref });
    }
    const made = (await this.deps.store.list()).map((p): PinSource => {
      const reference = toReference(p.reference);
      const [, upstream, name] = /^proxied\/([^/]+)\/(.+)$/.exec(p.repository) ?? [];
      return { key: p.repository, reference, platforms: null, origin: 'api', ref: `${upstream}/${name}${reference.kind === 'tag' ? `:${reference.tag}` : `@${reference.digest}`}` };
    });
    return [...configured, ...made];
  }

  async add(key: RepositoryKey, reference: Reference): Promise<void> {
    await this.deps.store.add({ repository: key, reference: referenceString(reference), pinnedAt: (this.deps.now ?? Date.now)() });
    await this.apply();
  }

  /** Removes a pin made through the API; a configured one is refused (the config would pin it again). */
  async remove(key: RepositoryKey, reference: Reference): Promise<void> {
    const text = referenceString(reference);
    if (!(await this.deps.store.remove(key, text))) {
      const configured = (await this.sources()).some((s) => s.origin === 'config' && s.key === key && referenceString(s.reference) === text);
      throw configured
        ? new RegistryError('PINNED', { reference: text }, { message: 'pinned by prefetch.images in the config: unpin it there' })
        : new RegistryError('MANIFEST_UNKNOWN', { reference: text }, { message: 'not pinned' });
    }
    await this.apply();
  }

  /**
   * Works out what is pinned now and tells the eviction index what changed. Calls made while one
   * runs share the next one (so the last state always wins).
   */
  apply(): Promise<void> {
    if (this.applying) {
      this.again = true;
      return this.applying;
    }
    this.applying = (async () => {
      do {
        this.again = false;
        await this.applyOnce();
      } while (this.again);
    })().finally(() => {
      this.applying = null;
    });
    return this.applying;
  }

  /** The metadata change hook: a tag of `key` was written. A pinned tag that moved re-applies pins and asks for its new target. */
  changed(key: RepositoryKey): void {
    const watched = [...this.targets.keys()].some((k) => k.startsWith(`${key}:`));
    if (!watched) return;
    void this.checkMoves(key).catch((err: unknown) => this.deps.logger.warn({ err }, 'checking pinned tags failed'));
  }

  private async checkMoves(key: RepositoryKey): Promise<void> {
    const moved: PinSource[] = [];
    for (const source of await this.sources()) {
      if (source.key !== key || source.reference.kind !== 'tag') continue;
      const before = this.targets.get(`${key}:${source.reference.tag}`);
      const now = (await this.deps.metadata.getTag(key, source.reference.tag))?.digest;
      if (before !== undefined && now !== undefined && now !== before) moved.push(source);
    }
    if (moved.length === 0) return;
    await this.apply();
    for (const source of moved) this.deps.tagMoved(source);
  }

  private async applyOnce(): Promise<void> {
    const { metadata, eviction, logger } = this.deps;
    const next = new Set<Digest>();
    const targets = new Map<string, Digest>();
    for (const source of await this.sources()) {
      const digest = source.reference.kind === 'digest' ? source.reference.digest : (await metadata.getTag(source.key, source.reference.tag))?.digest;
      if (!digest) continue; // not fetched yet: pinned once it is
      if (source.reference.kind === 'tag') targets.set(`${source.key}:${source.reference.tag}`, digest);
      await this.collect(source.key, digest, source.platforms, next);
    }
    for (const digest of next) if (!this.pinned.has(digest)) await eviction.pin(digest);
    for (const digest of this.pinned) if (!next.has(digest)) await eviction.unpin(digest);
    this.pinned = next;
    this.targets = targets;
    const { pinnedBytes } = await eviction.totals();
    this.deps.observer.pinnedBytes(pinnedBytes);
    const over = this.deps.budgetBytes > 0 && pinnedBytes > this.deps.budgetBytes;
    if (over && !this.overBudget) {
      logger.warn({ pinnedBytes, budgetBytes: this.deps.budgetBytes }, 'pinned content exceeds storage.maxSize: it is kept (pins are never evicted), everything else is evicted first');
    }
    this.overBudget = over;
  }

  /** True once pinned bytes exceed the budget (the stats page says so). */
  get pinnedOverBudget(): boolean {
    return this.overBudget;
  }

  /** Adds the manifest, its stored children of `platforms`, their config and layers, and recorded referrers. */
  private async collect(key: RepositoryKey, digest: Digest, platforms: string[] | null, into: Set<Digest>): Promise<void> {
    if (into.has(digest)) return;
    into.add(digest);
    const record = await this.deps.metadata.getManifest(key, digest);
    const bytes = record ? await this.deps.images.bytes(digest) : null;
    if (!record || !bytes) return;
    const summary = summarizeManifest(bytes, record.mediaType);
    for (const d of [...(summary.config ? [summary.config] : []), ...summary.layers]) into.add(d.digest);
    for (const child of selectChildren(summary, platforms)) await this.collect(key, child.digest, null, into);
    for (const referrer of await this.deps.metadata.listReferrers(key, digest)) await this.collect(key, referrer.digest, null, into);
  }
}

const toReference = (text: string): Reference => (text.includes(':') ? { kind: 'digest', digest: text as Digest } : { kind: 'tag', tag: text as never });
