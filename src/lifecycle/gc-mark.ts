import type { Logger } from 'pino';
import type { Digest } from '../oci/digest.js';
import { parseManifest } from '../oci/manifest.js';
import type { BlobStore, StoredBlob } from '../storage/blob-store.js';
import type { ManifestRecord, MetadataStore } from '../storage/metadata-store.js';
import type { RepositoryKey } from '../storage/repository-key.js';
import { isSubject, referrerTagSubject, type RetentionRules, type TaggedRecord } from './retention.js';

/** What a GC run will do to one hosted repository. */
export interface RepositoryPlan {
  key: RepositoryKey;
  /** Tags retention removes (real tags, and referrer-schema tags whose subject goes). */
  untag: TaggedRecord[];
  /** Manifests no kept tag reaches, under a rule with `deleteUntagged`. */
  deleteManifests: ManifestRecord[];
  /** Blob links nothing kept in the repository references, last used before the grace period. */
  garbageLinks: Digest[];
}

/** What happens to a stored blob's bytes. */
export type BlobFate = 'delete' | 'cache';

export interface GcPlan {
  repositories: RepositoryPlan[];
  /** Blobs whose bytes go (`delete`) or that only cached content still uses (`cache`: back under the LRU). */
  blobs: Map<Digest, { fate: BlobFate; blob: StoredBlob }>;
  /** What a manifest references (children, config, layers), for one whose deletion is called off. */
  references(key: RepositoryKey, digest: Digest): Promise<Digest[]>;
}

export interface MarkOptions {
  metadata: MetadataStore;
  blobs: BlobStore;
  retention: RetentionRules;
  logger: Logger;
  now: number;
  graceMs: number;
  /** One hosted repository (`POST /v2/<name>/_gc`), or every one. */
  scope: RepositoryKey | null;
  isReading(digest: Digest): boolean;
}

/** Files read at once: keeps the thread pool busy without starving requests (bench figure 10). */
const READ_BATCH = 64;

/**
 * The mark phase of a GC run: reads what is stored and decides what goes. Nothing is changed here.
 * Hosted repositories keep everything reachable from their tags after retention (index children,
 * config and layers, referrers of kept manifests), every manifest when no rule deletes untagged
 * ones, and whatever was stored, linked or used within the grace period. Cached content (proxied
 * links and manifests) is the LRU's business: its blobs are never deleted here, and a blob that
 * loses its last hosted reference but still has a cached one goes back under the cache budget.
 */
export async function markGarbage(options: MarkOptions): Promise<GcPlan> {
  const { metadata, blobs, scope, now, graceMs } = options;
  const cutoff = now - graceMs;
  const hostedKeep = new Set<Digest>();
  /** Digests hosted repositories hold before the run: those that lose every hosted reference. */
  const hostedBefore = new Set<Digest>();
  const inScope = new Set<Digest>();
  const repositories: RepositoryPlan[] = [];
  const parsed = new Map<string, Digest[]>();
  const references = async (key: RepositoryKey, digest: Digest): Promise<Digest[]> =>
    parsed.get(`${key}@${digest}`) ?? (await readReferences(blobs, digest, (await metadata.getManifest(key, digest))?.mediaType)) ?? [];

  for (const key of await metadata.listRepositoryKeys('hosted/')) {
    const [links, manifests] = await Promise.all([metadata.listBlobLinks(key), metadata.listManifests(key)]);
    const held = [...links.map((l) => l.digest), ...manifests.map((m) => m.digest)];
    for (const d of held) hostedBefore.add(d);
    if (scope !== null && key !== scope) {
      // Outside the scope everything stays: its links and manifests are all a blob needs to be kept
      // (a pushed layer is always linked where it is referenced).
      for (const d of held) hostedKeep.add(d);
      continue;
    }
    const plan = await markRepository(options, key, links, manifests, cutoff, parsed);
    for (const d of plan.keep) hostedKeep.add(d);
    for (const d of held) inScope.add(d);
    if (plan.untag.length + plan.deleteManifests.length + plan.garbageLinks.length > 0) {
      repositories.push({ key, untag: plan.untag, deleteManifests: plan.deleteManifests, garbageLinks: plan.garbageLinks });
    }
  }

  const cached = new Set<Digest>();
  for (const key of await metadata.listRepositoryKeys('proxied/')) {
    const [links, manifests] = await Promise.all([metadata.listBlobLinks(key), metadata.listManifests(key)]);
    for (const l of links) cached.add(l.digest);
    for (const m of manifests) cached.add(m.digest);
  }

  const fates = new Map<Digest, { fate: BlobFate; blob: StoredBlob }>();
  for await (const blob of blobs.list()) {
    const { digest } = blob;
    if (hostedKeep.has(digest)) continue;
    if (cached.has(digest)) {
      if (hostedBefore.has(digest)) fates.set(digest, { fate: 'cache', blob });
      continue;
    }
    // Referenced by nothing: deleted unless stored or used within the grace period (a fill that is
    // about to be linked, an upload being committed) or being sent to a client right now.
    if ((blob.lastUsed ?? now) >= cutoff || options.isReading(digest)) continue;
    if (scope !== null && !inScope.has(digest)) continue;
    fates.set(digest, { fate: 'delete', blob });
  }
  return { repositories, blobs: fates, references };
}

/** One hosted repository: retention, then everything kept reachable, then its garbage links. */
async function markRepository(
  options: MarkOptions,
  key: RepositoryKey,
  links: Array<{ digest: Digest; lastUsed: number }>,
  manifestList: ManifestRecord[],
  cutoff: number,
  parsed: Map<string, Digest[]>,
): Promise<{ keep: Set<Digest>; untag: TaggedRecord[]; deleteManifests: ManifestRecord[]; garbageLinks: Digest[] }> {
  const { metadata, blobs, retention, logger, now } = options;
  const manifests = new Map(manifestList.map((m) => [m.digest, m]));
  const tags = await metadata.listTagRecords(key);
  const decision = retention.decide(key.slice('hosted/'.length), tags, now);
  const untagged = new Set((decision?.untag ?? []).map((t) => t.tag));
  const real = tags.filter((t) => referrerTagSubject(t.tag) === null && !untagged.has(t.tag));
  const referrerTags = tags.filter((t) => referrerTagSubject(t.tag) !== null);

  const referrersOf = new Map<Digest, Digest[]>();
  for (const m of manifests.values()) {
    if (m.subject) referrersOf.set(m.subject, [...(referrersOf.get(m.subject) ?? []), m.digest]);
  }
  const roots = decision?.deleteUntagged
    ? [...real.map((t) => t.record.digest), ...[...manifests.values()].filter((m) => m.storedAt >= cutoff).map((m) => m.digest)]
    : [...manifests.keys()];

  const kept = new Set<Digest>();
  const keep = new Set<Digest>();
  let unreadable = false;
  const visit = async (start: Digest[]): Promise<void> => {
    let frontier = start.filter((d) => !kept.has(d));
    while (frontier.length > 0) {
      const next: Digest[] = [];
      for (let i = 0; i < frontier.length; i += READ_BATCH) {
        await Promise.all(frontier.slice(i, i + READ_BATCH).map(async (digest) => {
          if (kept.has(digest)) return;
          kept.add(digest);
          keep.add(digest);
          const record = manifests.get(digest);
          if (!record) return; // a child this repository does not hold: the push checked it
          const refs = await readReferences(blobs, digest, record.mediaType);
          if (refs === null) {
            unreadable = true;
            return;
          }
          parsed.set(`${key}@${digest}`, refs);
          for (const d of refs) {
            keep.add(d);
            if (manifests.has(d)) next.push(d);
          }
          next.push(...(referrersOf.get(digest) ?? []));
        }));
      }
      frontier = next.filter((d) => !kept.has(d));
    }
  };
  await visit(roots);
  // Referrer-schema tags follow their subject: kept while it is (or when it is not one of ours).
  const untag = [...(decision?.untag ?? [])];
  let pending = referrerTags;
  for (let changed = true; changed; ) {
    changed = false;
    const still: TaggedRecord[] = [];
    for (const t of pending) {
      const prefix = referrerTagSubject(t.tag)!;
      const subjects = [...manifests.keys()].filter((d) => isSubject(d, prefix));
      if (subjects.length === 0 || subjects.some((d) => kept.has(d))) {
        await visit([t.record.digest]);
        changed = true;
      } else {
        still.push(t);
      }
    }
    pending = still;
  }
  if (decision) untag.push(...pending);

  if (unreadable) {
    logger.warn({ repository: key }, 'gc: a manifest of this repository could not be read; its links and manifests are all kept');
    for (const l of links) keep.add(l.digest);
    return { keep, untag, deleteManifests: [], garbageLinks: [] };
  }
  const deleteManifests = decision?.deleteUntagged ? [...manifests.values()].filter((m) => !kept.has(m.digest)) : [];
  const garbageLinks: Digest[] = [];
  for (const link of links) {
    if (keep.has(link.digest)) continue;
    if (link.lastUsed >= cutoff) keep.add(link.digest); // uploaded, mounted or seen by a client lately
    else garbageLinks.push(link.digest);
  }
  return { keep, untag, deleteManifests, garbageLinks };
}

/** A manifest's children, config and layers; null when its bytes cannot be read or parsed. */
async function readReferences(blobs: BlobStore, digest: Digest, mediaType: string | undefined): Promise<Digest[] | null> {
  try {
    const manifest = parseManifest(await blobs.readBytes(digest), mediaType);
    return [...manifest.manifests, ...manifest.blobs].map((d) => d.digest);
  } catch {
    return null;
  }
}
