/** The JSON the API answers (README "JSON API"). */
export interface Repository {
  name: string;
  kind: 'hosted' | 'cached';
  upstream: string | null;
  remoteName: string;
  tagCount: number;
  size: number;
  storedBytes: number;
  updatedAt: string | null;
  lastPulledAt: string | null;
  pulls: number;
}

export interface Permissions {
  delete: boolean;
  refresh: boolean;
  evict: boolean;
  pin: boolean;
}

export interface TagRow {
  tag: string;
  digest: string;
  mediaType: string;
  type: 'image' | 'index' | 'artifact';
  artifactType: string | null;
  platforms: string[];
  platformsCached: number;
  size: number;
  created: string | null;
  updatedAt: string | null;
  lastPulledAt: string | null;
  pulls: number;
  signed: boolean;
  pinned?: boolean;
  revalidatedAt?: string | null;
  expiresAt?: string | null;
  stale?: boolean;
}

export interface Page<T> {
  nextCursor: string | null;
  total: number;
  items: T[];
}

export interface RepositoryList {
  repositories: Repository[];
  nextCursor: string | null;
  total: number;
}

export interface TagList extends Repository {
  permissions: Permissions;
  tags: TagRow[];
  nextCursor: string | null;
  total: number;
}

export interface ManifestDetail {
  name: string;
  kind: 'hosted' | 'cached';
  digest: string;
  mediaType: string;
  type: 'image' | 'index' | 'artifact' | null;
  artifactType: string | null;
  manifestSize: number;
  cached: boolean;
  tags: string[];
  size: number | null;
  platforms: Array<{ platform: string; os: string; architecture: string; variant: string | null; digest: string; mediaType: string; size: number; cached: boolean }>;
  attestations: Array<{ digest: string; size: number; about: string | null }>;
  layers: Array<{ digest: string; mediaType: string; size: number; cached: boolean }>;
  config: null | {
    digest: string;
    mediaType: string;
    size: number;
    cached: boolean;
    created?: string | null;
    platform?: string | null;
    author?: string | null;
    user?: string | null;
    workingDir?: string | null;
    env?: string[];
    entrypoint?: string[] | null;
    cmd?: string[] | null;
    labels?: Record<string, string>;
    exposedPorts?: string[];
  };
  history: Array<{ created: string | null; createdBy: string | null; comment: string | null; emptyLayer: boolean }> | null;
  annotations: Record<string, string>;
  subject: { digest: string; mediaType: string } | null;
  referrers: Array<{ digest: string; artifactType: string | null; kind: string; size: number; annotations: Record<string, string> }>;
  signatureTags: Array<{ tag: string; kind: string }>;
  signed: boolean;
  pinned: boolean;
  pulls: number;
  lastPulledAt: string | null;
  permissions: Permissions;
  raw: unknown;
}

export interface UpstreamStats {
  name: string;
  url: string | null;
  status: 'idle' | 'ok' | 'failing';
  requests: number;
  errors: number;
  lastSuccessAt: string | null;
  lastError: { at: string | null; status: number | 'error' } | null;
  bytesDownloaded: number;
  rateLimit: { limit: number | null; remaining: number | null } | null;
  cache: { requests: number; hitRatio: number | null };
}

export interface Stats {
  cache: { requests: number; hit: number; miss: number; stale: number; coalesced: number; negative: number; hitRatio: number | null };
  bytes: { fromCache: number; fromUpstream: number; saved: number };
  upstreams: UpstreamStats[];
  storage: { cacheBytes: number; cacheObjects: number; budgetBytes: number; evictions: number; evictedBytes: number; pinnedBytes: number; pinnedOverBudget: boolean;
    disk: null | { freeBytes: number; totalBytes: number; minFreeBytes: number; low: boolean } };
  pushes: { manifest: number; blob: number };
  fills: Array<{ digest: string; upstream: string; bytesDone: number; size: number | null }>;
  historyIntervalMs: number;
  history: Array<{ at: string; requests: number; misses: number; bytesFromCache: number; bytesFromUpstream: number }>;
  gc: GcStatus;
  prefetch: PrefetchStatus;
}

/** GET /api/v1/prefetch: the run in progress, else the last one. */
export interface PrefetchStatus {
  running: boolean;
  configured: boolean;
  run: null | {
    id: string;
    trigger: string;
    startedAt: string;
    finishedAt: string | null;
    images: Array<{ ref: string; state: 'pending' | 'fetching' | 'done' | 'failed' | 'skipped'; bytesTotal: number; bytesDone: number; pinned: boolean; error: string | null }>;
  };
}

/** A garbage collection run's report (POST /api/v1/gc). */
export interface GcReport {
  dryRun: boolean;
  repository: string | null;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  tagsRemoved: number;
  manifestsRemoved: number;
  linksRemoved: number;
  blobsRemoved: number;
  bytesReclaimed: number;
  blobsReturnedToCache: number;
  spared: number;
  removed: { tags: Array<{ repository: string; tag: string; digest: string }>; manifests: Array<{ repository: string; digest: string }> };
  error?: string;
}

export interface GcStatus {
  running: boolean;
  last: Omit<GcReport, 'removed'> | null;
}

export interface Info {
  registry: string;
  insecure: boolean;
  upstreams: string[];
  defaultUpstream: string | null;
  hosted: string[];
  auth: 'open' | 'basic' | 'bearer';
}

export interface Session {
  mode: 'open' | 'basic' | 'bearer';
  user: string | null;
  admin: boolean;
}
