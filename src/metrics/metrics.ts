import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ByteSource, CacheKind, CacheResult } from '../registry/registry-observer.js';
import { processMetrics } from './process-metrics.js';

/**
 * Every Stowage metric, in one private prom-client Registry per app (never prom-client's global
 * `register`), so two apps in one process — a proxy and its fake upstream in a test — never collide.
 *
 * Label contract (behaviour 46): label values come from closed sets — an upstream name from config,
 * an enum, a status class — never a repository, tag, digest, user or IP. Every label set that can
 * exist is created at zero in the constructor (behaviour 51), so `rate()` and `increase()` see the
 * first event; the one exception is the rate-limit gauges, which stay absent until the upstream
 * reports a pull limit (0 would read as "limit exhausted", and no header means "unlimited").
 *
 * A scrape renders in-memory values only: nothing here walks the disk or calls an upstream.
 */
export const CACHE_KINDS: readonly CacheKind[] = ['manifest', 'blob'];
export const CACHE_RESULTS: readonly CacheResult[] = ['hit', 'miss', 'stale', 'coalesced', 'negative'];
export const BYTE_SOURCES: readonly ByteSource[] = ['cache', 'upstream'];
/** Upstream requests are GET or HEAD only (upstream/http-exchange.ts). */
export const UPSTREAM_METHODS = ['GET', 'HEAD'] as const;
export const UPSTREAM_STATUS_CLASSES = ['2xx', '3xx', '4xx', '5xx', 'error'] as const;

/** The `route` label of HTTP metrics: the endpoint template, never the path. */
export type HttpRoute =
  | 'base'
  | 'catalog'
  | 'manifest'
  | 'blob'
  | 'uploads'
  | 'upload'
  | 'tags'
  | 'referrers'
  | 'allTags'
  | 'gc'
  | 'api'
  | 'ui'
  | 'metrics'
  | 'health'
  | 'token'
  | 'cluster'
  | 'other';

/** The method × route pairs the API serves; these label sets are pre-created (others appear on use). */
/** ('token' is pre-created only in Bearer mode, where /auth/token exists; 'cluster', the peer endpoint, by ClusterMetrics.) */
export const HTTP_ROUTE_METHODS: Readonly<Record<Exclude<HttpRoute, 'token' | 'cluster'>, readonly string[]>> = {
  base: ['GET', 'HEAD'],
  catalog: ['GET'],
  manifest: ['GET', 'HEAD', 'PUT', 'DELETE'],
  blob: ['GET', 'HEAD', 'DELETE'],
  uploads: ['POST'],
  upload: ['GET', 'PATCH', 'PUT', 'DELETE'],
  tags: ['GET'],
  referrers: ['GET'],
  allTags: ['GET'],
  gc: ['POST'],
  api: ['GET', 'POST', 'DELETE'],
  ui: ['GET'],
  metrics: ['GET'],
  health: ['GET'],
  other: ['GET'],
};
export const HTTP_METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS'] as const;
const HTTP_INITIAL_STATUS_CLASSES = ['2xx', '4xx', '5xx'] as const;

/** `200` → `2xx`. */
export const statusClass = (status: number): string => `${Math.trunc(status / 100)}xx`;

// Blob responses stream for minutes; manifest and HEAD answers take milliseconds.
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
// Time to response headers from an upstream registry or CDN.
const UPSTREAM_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface StowageMetricsOptions {
  /** Configured upstream names: the only values of every `upstream` label. */
  upstreams: readonly string[];
  /** `storage.maxSize` (0 = unbounded), exported as stowage_cache_budget_bytes. */
  cacheBudgetBytes: number;
  /** Include the Node/process metrics of prom-client (default true). */
  processMetrics?: boolean;
  /** Access control's mode: the auth metrics (and the token endpoint's route) are pre-created only when there is some. */
  auth?: 'basic' | 'bearer' | null;
}

export class StowageMetrics {
  readonly registry = new Registry();

  readonly cacheRequests: Counter<'upstream' | 'kind' | 'result'>;
  readonly servedBytes: Counter<'source'>;
  readonly digestMismatches: Counter<'upstream' | 'kind'>;
  readonly fillsInProgress: Gauge;
  readonly fillReaders: Gauge;
  readonly cacheSizeBytes: Gauge;
  readonly cacheObjects: Gauge;
  readonly cacheBudgetBytes: Gauge;
  readonly evictions: Counter;
  readonly evictedBytes: Counter;
  readonly hostedPushes: Counter<'kind'>;
  readonly hostedPushedBytes: Counter<'kind'>;

  readonly upstreamRequests: Counter<'upstream' | 'method' | 'status_class'>;
  readonly upstreamRequestDuration: Histogram<'upstream' | 'method'>;
  readonly upstreamDownloadedBytes: Counter<'upstream'>;
  readonly upstreamRetries: Counter<'upstream'>;
  readonly upstreamResumes: Counter<'upstream'>;
  readonly upstreamRateLimitRemaining: Gauge<'upstream'>;
  readonly upstreamRateLimitLimit: Gauge<'upstream'>;

  readonly httpRequestDuration: Histogram<'route' | 'method' | 'status_class'>;
  readonly httpResponsesAborted: Counter<'route'>;

  readonly gcRuns: Counter<'mode' | 'outcome'>;
  readonly gcRemovedBlobs: Counter;
  readonly gcRemovedManifests: Counter;
  readonly gcReclaimedBytes: Counter;
  readonly gcLastRun: Gauge;
  readonly gcLastRunDuration: Gauge;
  readonly cachePinnedBytes: Gauge;
  readonly storageFreeBytes: Gauge;
  readonly storageLowSpace: Gauge;
  readonly prefetchRuns: Counter<'outcome'>;
  readonly prefetchLastRun: Gauge;

  readonly authFailures: Counter<'kind'>;
  readonly authThrottled: Counter;
  readonly authThrottleSeconds: Counter;

  constructor(options: StowageMetricsOptions) {
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> =>
      new Counter<L>({ name, help, labelNames, registers });
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> =>
      new Gauge<L>({ name, help, labelNames, registers });

    this.cacheRequests = counter(
      'stowage_cache_requests_total',
      'Proxied manifest and blob requests by cache outcome: hit, miss (fetched upstream), stale (served after the upstream failed), coalesced (joined a fetch in progress), negative (remembered not-found).',
      ['upstream', 'kind', 'result'],
    );
    this.servedBytes = counter(
      'stowage_served_bytes_total',
      'Blob bytes sent to clients in completed responses, by where they came from (cache: disk; upstream: a fill in progress).',
      ['source'],
    );
    this.digestMismatches = counter(
      'stowage_digest_mismatches_total',
      'Upstream content whose bytes did not match the expected digest (discarded, never served).',
      ['upstream', 'kind'],
    );
    this.fillsInProgress = gauge('stowage_fills_in_progress', 'Blob downloads from an upstream currently in progress.');
    this.fillReaders = gauge('stowage_fill_readers', 'Client responses currently reading a blob that is still being downloaded.');
    this.cacheSizeBytes = gauge('stowage_cache_size_bytes', 'Bytes of cached (evictable, proxied) content on disk, as last accounted by the store.');
    this.cacheObjects = gauge('stowage_cache_objects', 'Cached (evictable, proxied) blobs on disk, as last accounted by the store.');
    this.cacheBudgetBytes = gauge('stowage_cache_budget_bytes', 'Configured budget for cached content (storage.maxSize); 0 means unbounded.');
    this.evictions = counter('stowage_evictions_total', 'Cached blobs evicted to stay within the cache budget.');
    this.evictedBytes = counter('stowage_evicted_bytes_total', 'Bytes of cached blobs evicted to stay within the cache budget.');
    this.hostedPushes = counter('stowage_hosted_pushes_total', 'Manifests and blobs pushed into hosted repositories.', ['kind']);
    this.hostedPushedBytes = counter('stowage_hosted_pushed_bytes_total', 'Bytes pushed into hosted repositories.', ['kind']);

    this.upstreamRequests = counter(
      'stowage_upstream_requests_total',
      'HTTP requests sent to upstream registries, their token services and CDNs (every attempt, including retries and redirects), by status class; error = no response (network error, timeout).',
      ['upstream', 'method', 'status_class'],
    );
    this.upstreamRequestDuration = new Histogram({
      name: 'stowage_upstream_request_duration_seconds',
      help: 'Time from sending an upstream request to its response headers (or failure).',
      labelNames: ['upstream', 'method'],
      buckets: UPSTREAM_BUCKETS,
      registers,
    });
    this.upstreamDownloadedBytes = counter(
      'stowage_upstream_downloaded_bytes_total',
      'Blob bytes received from upstream registries and CDNs.',
      ['upstream'],
    );
    this.upstreamRetries = counter('stowage_upstream_retries_total', 'Upstream requests retried after a network error, 429 or 5xx.', ['upstream']);
    this.upstreamResumes = counter('stowage_upstream_resumes_total', 'Interrupted upstream blob downloads resumed with a Range request.', ['upstream']);
    this.upstreamRateLimitRemaining = gauge(
      'stowage_upstream_ratelimit_remaining',
      'Pulls left in the current window, from the last ratelimit-remaining header (absent until an upstream sends one).',
      ['upstream'],
    );
    this.upstreamRateLimitLimit = gauge(
      'stowage_upstream_ratelimit_limit',
      'Pull limit per window, from the last ratelimit-limit header (absent until an upstream sends one).',
      ['upstream'],
    );

    this.httpRequestDuration = new Histogram({
      name: 'stowage_http_request_duration_seconds',
      help: 'Time from receiving a request to the end of its response, by API endpoint template.',
      labelNames: ['route', 'method', 'status_class'],
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.httpResponsesAborted = counter(
      'stowage_http_responses_aborted_total',
      'Responses that ended before they were complete (the client went away or the stream failed), by endpoint template.',
      ['route'],
    );

    this.gcRuns = counter('stowage_gc_runs_total', 'Garbage collection runs, by mode (delete, dry_run) and outcome (completed, failed).', ['mode', 'outcome']);
    this.gcRemovedBlobs = counter('stowage_gc_removed_blobs_total', 'Blobs whose bytes garbage collection deleted.');
    this.gcRemovedManifests = counter('stowage_gc_removed_manifests_total', 'Manifests garbage collection removed from hosted repositories (retention: deleteUntagged).');
    this.gcReclaimedBytes = counter('stowage_gc_reclaimed_bytes_total', 'Bytes of blobs garbage collection deleted.');
    this.gcLastRun = gauge('stowage_gc_last_run_timestamp_seconds', 'When the last garbage collection run (not a dry run) finished, as a Unix time; 0 before the first.');
    this.gcLastRunDuration = gauge('stowage_gc_last_run_duration_seconds', 'How long the last garbage collection run (not a dry run) took.');
    this.cachePinnedBytes = gauge('stowage_cache_pinned_bytes', 'Bytes of cached content that is pinned (prefetch.images with pin, or pinned through the API): never evicted.');
    this.storageFreeBytes = gauge('stowage_storage_free_bytes', 'Free bytes on the data directory\'s filesystem, as last measured.');
    this.storageLowSpace = gauge('stowage_storage_low_space', '1 while free space is below storage.minFreeSpace: new blobs are passed through without being cached, and cached content is evicted toward the target.');
    this.prefetchRuns = counter('stowage_prefetch_runs_total', 'Prefetch runs, by outcome: completed (every image fetched) or failed (some could not be).', ['outcome']);
    this.prefetchLastRun = gauge('stowage_prefetch_last_run_timestamp_seconds', 'When the last prefetch run finished, as a Unix time; 0 before the first.');

    this.authFailures = counter(
      'stowage_auth_failures_total',
      'Credentials that did not verify, by kind: password (wrong or unknown user, Basic or at the token endpoint) or token (bad, expired or revoked bearer token).',
      ['kind'],
    );
    this.authThrottled = counter('stowage_auth_throttled_total', 'Password checks delayed by the per-address slow-down after repeated failures from that address.');
    this.authThrottleSeconds = counter('stowage_auth_throttle_seconds_total', 'Total time password checks were delayed by the per-address slow-down.');

    this.initialise(options);
    if (options.processMetrics ?? true) {
      const shared = processMetrics();
      for (const { name } of shared.getMetricsAsArray()) this.registry.registerMetric(shared.getSingleMetric(name)!);
    }
  }

  /** The Prometheus text exposition of every metric. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private initialise({ upstreams, cacheBudgetBytes, auth }: StowageMetricsOptions): void {
    for (const upstream of upstreams) {
      for (const kind of CACHE_KINDS) {
        for (const result of CACHE_RESULTS) this.cacheRequests.inc({ upstream, kind, result }, 0);
        this.digestMismatches.inc({ upstream, kind }, 0);
      }
      for (const method of UPSTREAM_METHODS) {
        for (const status_class of UPSTREAM_STATUS_CLASSES) this.upstreamRequests.inc({ upstream, method, status_class }, 0);
        this.upstreamRequestDuration.zero({ upstream, method });
      }
      this.upstreamDownloadedBytes.inc({ upstream }, 0);
      this.upstreamRetries.inc({ upstream }, 0);
      this.upstreamResumes.inc({ upstream }, 0);
    }
    for (const source of BYTE_SOURCES) this.servedBytes.inc({ source }, 0);
    for (const kind of CACHE_KINDS) {
      this.hostedPushes.inc({ kind }, 0);
      this.hostedPushedBytes.inc({ kind }, 0);
    }
    for (const [route, methods] of Object.entries(HTTP_ROUTE_METHODS)) {
      for (const method of methods) {
        for (const status_class of HTTP_INITIAL_STATUS_CLASSES) this.httpRequestDuration.zero({ route, method, status_class });
      }
      this.httpResponsesAborted.inc({ route }, 0);
    }
    this.fillsInProgress.set(0);
    this.fillReaders.set(0);
    this.cacheSizeBytes.set(0);
    this.cacheObjects.set(0);
    this.cacheBudgetBytes.set(cacheBudgetBytes);
    this.evictions.inc(0);
    this.evictedBytes.inc(0);
    for (const mode of ['delete', 'dry_run']) for (const outcome of ['completed', 'failed']) this.gcRuns.inc({ mode, outcome }, 0);
    this.gcRemovedBlobs.inc(0);
    this.gcRemovedManifests.inc(0);
    this.gcReclaimedBytes.inc(0);
    this.gcLastRun.set(0);
    this.gcLastRunDuration.set(0);
    this.cachePinnedBytes.set(0);
    this.storageLowSpace.set(0);
    for (const outcome of ['completed', 'failed']) this.prefetchRuns.inc({ outcome }, 0);
    this.prefetchLastRun.set(0);
    if (auth) {
      for (const kind of auth === 'bearer' ? ['password', 'token'] : ['password']) this.authFailures.inc({ kind }, 0);
      this.authThrottled.inc(0);
      this.authThrottleSeconds.inc(0);
      if (auth === 'bearer') for (const method of ['GET', 'POST']) this.httpRequestDuration.zero({ route: 'token', method, status_class: '2xx' });
    }
  }
}
