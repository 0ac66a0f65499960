import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { parseReferrersIndex, referrersTag } from '../oci/referrers.js';
import type { RepositoryName } from '../oci/repository-name.js';
import type { MetadataStore } from '../storage/metadata-store.js';
import type { RepositoryKey } from '../storage/repository-key.js';
import { UpstreamError, type Upstream } from '../upstream/upstream.js';
import type { ReferrerList } from './repository.js';
import { SingleFlight } from './single-flight.js';
import { isUpstreamOutage, toRegistryError } from './upstream-errors.js';

export interface ReferrersSettings {
  /** A list younger than this is served without asking the upstream (the tag TTL). */
  tagTtl: number;
  /** How long a client waits for a refresh before the cached list is served anyway. */
  revalidateBudget: number;
}

interface Target {
  name: RepositoryName;
  remoteName: RepositoryName;
  key: RepositoryKey;
}

interface Snapshot {
  manifests: Descriptor[];
  checkedAt: number;
}

/**
 * The referrers of proxied subjects (signatures, SBOMs, attestations), asked of the upstream and
 * cached like a tag, since new referrers appear under an unchanged digest:
 * - younger than tagTtl: served from memory, no upstream request;
 * - older: asked again; a refresh slower than revalidateBudget finishes in the background while
 *   the cached list is served;
 * - upstream down or rate limiting: the last known list is served, marked stale;
 * - the upstream has no referrers API (a 404 that is not NAME_UNKNOWN): the index under the
 *   referrers tag `sha256-<hex>` is read instead, as oras and notation do; no such tag, no referrers.
 * The list is always the unfiltered one (artifactType is applied by the caller), so one upstream
 * answer serves every filter. Every referrer seen is also recorded in the metadata store: the UI
 * shows it, and after a restart with the upstream down the recorded ones are the stale answer.
 */
export class ReferrersCache {
  private readonly snapshots = new LRUCache<string, Snapshot>({ max: 10_000 });
  private readonly flights = new SingleFlight<string, Snapshot>();

  constructor(
    private readonly deps: {
      upstream: Upstream;
      metadata: MetadataStore;
      logger: Logger;
      settings: ReferrersSettings;
      now?: () => number;
    },
  ) {}

  async get(target: Target, subject: Digest): Promise<ReferrerList> {
    const key = `${target.key}@${subject}`;
    const cached = this.snapshots.get(key);
    if (cached && this.now() - cached.checkedAt < this.deps.settings.tagTtl) return { manifests: cached.manifests };
    const { promise } = this.flights.run(key, () => this.refresh(target, subject));
    try {
      const snapshot = cached ? await within(promise, this.deps.settings.revalidateBudget) : await promise;
      if (snapshot) return { manifests: snapshot.manifests };
      promise.catch(() => {}); // slower than the budget: finishes in the background
      return { manifests: cached!.manifests };
    } catch (e) {
      if (isUpstreamOutage(e)) {
        // Stale-if-error: the last list, or after a restart the referrers recorded on disk.
        const known = cached?.manifests ?? (await this.deps.metadata.listReferrers(target.key, subject));
        if (cached || known.length > 0) {
          this.deps.logger.warn({ upstream: this.deps.upstream.name, err: e }, 'upstream unavailable; serving known referrers (stale-if-error)');
          return { manifests: known, stale: true };
        }
      }
      if (e instanceof UpstreamError && e.kind === 'not-found') this.snapshots.delete(key);
      throw toRegistryError(e, 'NAME_UNKNOWN', { name: target.name, subject });
    }
  }

  private async refresh(target: Target, subject: Digest): Promise<Snapshot> {
    const key = `${target.key}@${subject}`;
    const manifests = (await this.deps.upstream.referrers(target.remoteName, subject)) ?? (await this.fromTagSchema(target, subject));
    const previous = this.snapshots.get(key);
    const snapshot = { manifests, checkedAt: this.now() };
    this.snapshots.set(key, snapshot);
    // Recorded for the UI and for a restart with the upstream down; one small write per new referrer.
    const recorded = new Set(previous?.manifests.map((d) => d.digest));
    for (const descriptor of manifests) {
      if (!recorded.has(descriptor.digest)) await this.deps.metadata.addReferrer(target.key, subject, descriptor);
    }
    return snapshot;
  }

  /** The index under the referrers tag; none (404) means no referrers. */
  private async fromTagSchema(target: Target, subject: Digest): Promise<Descriptor[]> {
    let response;
    try {
      response = await this.deps.upstream.getManifest(target.remoteName, referrersTag(subject));
    } catch (e) {
      if (e instanceof UpstreamError && e.kind === 'not-found') return [];
      throw e;
    }
    try {
      return parseReferrersIndex(response.bytes, response.mediaType) ?? [];
    } catch (e) {
      throw new UpstreamError('invalid', `referrers tag of ${target.remoteName}@${subject}: ${(e as Error).message}`);
    }
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }
}

/** The result, or null when it takes longer than `budget` ms (it keeps running). */
async function within<T>(promise: Promise<T>, budget: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const slow = new Promise<null>((resolve) => {
    timer = setTimeout(resolve, budget, null);
    timer.unref();
  });
  try {
    return await Promise.race([promise, slow]);
  } finally {
    clearTimeout(timer);
  }
}
