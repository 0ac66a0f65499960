import type { Digest } from '../oci/digest.js';

/** Entries listed by name in a report; counts are always complete. */
const LISTED = 1000;

/** What one GC run did (or, dry, would do): what `POST /api/v1/gc` answers and the log says. */
export interface GcReport {
  dryRun: boolean;
  /** The one repository collected (`/v2/<name>/_gc`), or null for all. */
  repository: string | null;
  startedAt: number;
  finishedAt: number;
  durationMs: number;
  tagsRemoved: number;
  manifestsRemoved: number;
  /** Blob links removed from hosted repositories that no kept manifest references. */
  linksRemoved: number;
  blobsRemoved: number;
  bytesReclaimed: number;
  /** Blobs only cached content still uses: back under the cache's LRU budget. */
  blobsReturnedToCache: number;
  /** Removals called off because a client pushed, mounted or looked at the content during the run. */
  spared: number;
  /** The first LISTED tags and manifests removed, by repository name. */
  removed: { tags: Array<{ repository: string; tag: string; digest: Digest }>; manifests: Array<{ repository: string; digest: Digest }> };
  /** Set when the run failed part-way: what it did until then is counted above. */
  error?: string;
}

export function emptyReport(dryRun: boolean, repository: string | null, startedAt: number): GcReport {
  return {
    dryRun,
    repository,
    startedAt,
    finishedAt: startedAt,
    durationMs: 0,
    tagsRemoved: 0,
    manifestsRemoved: 0,
    linksRemoved: 0,
    blobsRemoved: 0,
    bytesReclaimed: 0,
    blobsReturnedToCache: 0,
    spared: 0,
    removed: { tags: [], manifests: [] },
  };
}

export function noteTag(report: GcReport, repository: string, tag: string, digest: Digest): void {
  report.tagsRemoved++;
  if (report.removed.tags.length < LISTED) report.removed.tags.push({ repository, tag, digest });
}

export function noteManifest(report: GcReport, repository: string, digest: Digest): void {
  report.manifestsRemoved++;
  if (report.removed.manifests.length < LISTED) report.removed.manifests.push({ repository, digest });
}

/** The report without its lists, for the log line and the stats page. */
export function summary(report: GcReport): Omit<GcReport, 'removed'> {
  const { removed: _removed, ...rest } = report;
  return rest;
}
