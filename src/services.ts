import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { OPEN_ACCESS, type AccessControl } from './auth/access-control.js';
import { NOOP_AUTH_OBSERVER, type AuthObserver } from './auth/auth-observer.js';
import { createAuth, exposureWarnings, type Auth } from './auth/create-auth.js';
import { NOOP_CLUSTER_OBSERVER, type ClusterObserver } from './cluster/cluster-observer.js';
import { createCluster, type Cluster } from './cluster/create-cluster.js';
import { RedisEvictionIndex } from './cluster/redis-eviction-index.js';
import { RedisLink } from './cluster/redis-link.js';
import { rereadMisses } from './cluster/reread-misses.js';
import type { Config } from './config/config.js';
import { ConfigError } from './config/schema.js';
import { upstreamSettings } from './config/upstream-settings.js';
import { LocalCoordinator, type LifecycleCoordinator } from './lifecycle/coordinator.js';
import { FreeSpace } from './lifecycle/free-space.js';
import { GarbageCollector } from './lifecycle/garbage-collector.js';
import { NOOP_LIFECYCLE_OBSERVER, type LifecycleObserver } from './lifecycle/lifecycle-observer.js';
import { Pins } from './lifecycle/pins.js';
import { Prefetcher } from './lifecycle/prefetcher.js';
import { prefetchTarget } from './lifecycle/prefetch-targets.js';
import { RetentionRules } from './lifecycle/retention.js';
import { AuthMetrics } from './metrics/auth-metrics.js';
import { LifecycleMetrics } from './metrics/lifecycle-metrics.js';
import { ClusterMetrics } from './metrics/cluster-metrics.js';
import { fanOut } from './metrics/fan-out.js';
import { StowageMetrics } from './metrics/metrics.js';
import { Readiness } from './metrics/readiness.js';
import { RegistryMetrics } from './metrics/registry-metrics.js';
import { StatsHistory } from './metrics/stats-history.js';
import { TrafficStats } from './metrics/traffic-stats.js';
import { UpstreamMetrics } from './metrics/upstream-metrics.js';
import { BlobFills } from './registry/blob-fills.js';
import { BlobHolders } from './registry/blob-holders.js';
import { LocalContentLock, type ContentLock } from './registry/content-lock.js';
import { LOCAL_FILLS } from './registry/fill-coordinator.js';
import { FinishingUploads } from './registry/finishing-uploads.js';
import { HostedRepository } from './registry/hosted-repository.js';
import { ImageReader } from './registry/image-reader.js';
import { ManifestCache } from './registry/manifest-cache.js';
import { NamePatterns } from './registry/name-pattern.js';
import { LocalNotFoundCache } from './registry/not-found-cache.js';
import { ProxiedRepository } from './registry/proxied-repository.js';
import { ReferrersCache } from './registry/referrers-cache.js';
import { PullRecorder } from './registry/pull-recorder.js';
import { Registry } from './registry/registry.js';
import { NOOP_REGISTRY_OBSERVER, type RegistryObserver } from './registry/registry-observer.js';
import { RepositoryViews } from './registry/repository-views.js';
import { withChangeHook } from './storage/metadata-change-hook.js';
import type { MetadataStore } from './storage/metadata-store.js';
import type { RepositoryKey } from './storage/repository-key.js';
import { openStorage, type Storage } from './storage/open-storage.js';
import { PassThroughSpool } from './storage/pass-through-spool.js';
import { createUpstream } from './upstream/create-upstream.js';
import { NOOP_UPSTREAM_OBSERVER, type Upstream, type UpstreamObserver } from './upstream/upstream.js';

/** What a caller (a test, an embedder) may replace or observe when building the app. */
export interface AppOptions {
  logger?: Logger;
  /** Sends upstream requests instead of each upstream's own Agent (tests). */
  dispatcher?: Dispatcher;
  registryObserver?: RegistryObserver;
  upstreamObserver?: UpstreamObserver;
  authObserver?: AuthObserver;
  lifecycleObserver?: LifecycleObserver;
  clusterObserver?: ClusterObserver;
  /** Shorter upstream backoff (tests). */
  upstreamRetry?: { baseDelayMs?: number; maxDelayMs?: number };
  now?: () => number;
  /** How often the stats history is sampled (default 10 s; shorter in tests and screenshots). */
  statsSampleMs?: number;
}

/** One configured upstream: its client and the freshness rules of its manifests. */
export interface Proxy {
  upstream: Upstream;
  manifests: ManifestCache;
  referrers: ReferrersCache;
}

/** Everything the HTTP layer and the lifecycle use, built once per app. */
export interface Services {
  config: Config;
  logger: Logger;
  /** Null when `metrics.enabled` is false. */
  metrics: StowageMetrics | null;
  observer: RegistryObserver;
  storage: Storage;
  fills: BlobFills;
  proxies: Map<string, Proxy>;
  registry: Registry;
  /** Backs /readyz; `beginShutdown()` makes it fail before the server stops accepting. */
  readiness: Readiness;
  /** The metadata store every writer uses: `storage.metadata`, telling `views` what changed. */
  metadata: MetadataStore;
  /** Browsing (the /api/v1 repositories and tags): stored content only, never an upstream. */
  views: RepositoryViews;
  images: ImageReader;
  /** Pull counts, batched into `storage.pulls` (flushed by lifecycle.ts). */
  pulls: PullRecorder;
  /** The figures of /api/v1/stats, and their recent history (sampled by lifecycle.ts). */
  traffic: TrafficStats;
  history: StatsHistory;
  /** Who may do what: OPEN_ACCESS without an `auth` section. */
  access: AccessControl;
  /** Access control with an `auth` section (challenges, the token endpoint); null in open mode. */
  auth: Auth | null;
  /** Held by writes that create references, swept by GC (registry/content-lock.ts). */
  content: ContentLock;
  /** Who runs GC and the scheduled runs (in-process: this one). */
  coordinator: LifecycleCoordinator;
  gc: GarbageCollector;
  /** Pinned content (never evicted), applied to the eviction index. */
  pins: Pins;
  prefetcher: Prefetcher;
  /** Free space on the data directory's disk; below storage.minFreeSpace blobs are passed through. */
  freeSpace: FreeSpace;
  lifecycleObserver: LifecycleObserver;
  /** Redis coordination and peer streaming between replicas; null without a `cluster` section. */
  cluster: Cluster | null;
}

/**
 * Constructs and wires the services: metrics and observers, storage, one client and manifest cache
 * per upstream, the blob fills, and the registry that routes names to hosted or proxied repositories.
 * The only place (with http/server.ts for the HTTP side) where services are constructed.
 */
export async function createServices(config: Config, logger: Logger, options: AppOptions = {}): Promise<Services> {
  const metrics = config.metrics.enabled
    ? new StowageMetrics({
        upstreams: Object.keys(config.upstreams),
        cacheBudgetBytes: config.storage.maxSize,
        auth: config.auth ? (config.auth.token ? 'bearer' : 'basic') : null,
      })
    : null;
  const traffic = new TrafficStats(Object.keys(config.upstreams), options.now);
  const observer = fanOut(NOOP_REGISTRY_OBSERVER, [options.registryObserver, metrics && new RegistryMetrics(metrics), traffic]);
  const upstreamObserver = fanOut(NOOP_UPSTREAM_OBSERVER, [options.upstreamObserver, metrics && new UpstreamMetrics(metrics), traffic]);
  // Replicas: Redis is opened first, so the storage can keep its eviction index there (one budget for the bucket).
  const clusterObserver = config.cluster ? fanOut(NOOP_CLUSTER_OBSERVER, [options.clusterObserver, metrics && new ClusterMetrics(metrics)]) : null;
  const redis = config.cluster && clusterObserver ? new RedisLink(config.cluster.redis, { logger, observer: clusterObserver }) : null;
  const storage = await openStorage(
    { driver: config.storage.driver, s3: config.storage.s3, path: config.storage.path, maxSize: config.storage.maxSize, blobMaxBytes: config.limits.blobMaxBytes },
    {
      evicted: (bytes) => observer.eviction({ bytes }),
      sizeChanged: (bytes, objects) => observer.cacheSize({ bytes, objects }),
      rebuildFailed: (err) => logger.error({ err }, 'rebuilding the cache index failed; eviction is off until restart'),
      debug: (details, message) => logger.debug(details, message),
      ...(redis ? { sharedEviction: (policy, hooks, now) => new RedisEvictionIndex(redis, policy, hooks, now) } : {}),
    },
    options.now,
  );
  const { blobs, uploads, spool, eviction: cache } = storage;
  const images = new ImageReader(blobs);
  const views: RepositoryViews = new RepositoryViews({
    metadata: storage.metadata,
    blobs,
    reader: images,
    ...(options.now ? { now: options.now } : {}),
  });
  const cluster = config.cluster && clusterObserver && redis
    ? createCluster(config.cluster, {
        logger,
        observer: clusterObserver,
        link: redis,
        // Another replica wrote: what this one keeps in memory of that repository is dropped.
        caches: {
          changed: (key, change) => {
            storage.metadata.forget?.(key);
            views.invalidate(key, change);
          },
          changedAll: () => {
            storage.metadata.forget?.();
            views.invalidateAll();
          },
        },
      })
    : null;
  // Pins are built once the registry is (they resolve configured images through it); a tag write
  // reaches them from the first request on, before which none can be made.
  let pinsOf: Pins | null = null;
  // Replicas: a miss is read again before it is believed (another replica may have just written it).
  const metadata = withChangeHook(cluster ? rereadMisses(storage.metadata) : storage.metadata, (key, change) => {
    views.invalidate(key, change);
    cluster?.sync.publish(key, change);
    if (change === 'tags') pinsOf?.changed(key);
  });
  const pulls = new PullRecorder(storage.pulls, logger, options.now);
  const lifecycleObserver = fanOut(NOOP_LIFECYCLE_OBSERVER, [options.lifecycleObserver, metrics && new LifecycleMetrics(metrics)]);
  const freeSpace = new FreeSpace({
    dir: storage.scratchDir,
    setting: config.storage.minFreeSpace,
    logger,
    observer: lifecycleObserver,
    evict: storage.contentOnLocalDisk ? (bytes) => cache.shrink(bytes) : null,
  });
  // While the disk is short of space, fills pass blobs through without storing them.
  const fills = new BlobFills({
    spool,
    blobs,
    observer,
    logger,
    passThrough: () => freeSpace.low,
    passThroughSpool: new PassThroughSpool(),
    storageFull: () => freeSpace.full(),
    fits: (size) => freeSpace.fits(size),
  });

  const proxies = new Map<string, Proxy>();
  for (const [name, settings] of Object.entries(config.upstreams)) {
    const upstream = createUpstream(upstreamSettings(name, settings, config), {
      logger,
      observer: upstreamObserver,
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
      ...(options.upstreamRetry ? { retry: options.upstreamRetry } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
    const manifests = new ManifestCache({
      upstream,
      blobs,
      metadata,
      cache,
      observer,
      logger,
      settings: { tagTtl: settings.tagTtl, notFoundTtl: settings.notFoundTtl, revalidateBudget: settings.revalidateBudget },
      maxManifestBytes: config.limits.manifestMaxBytes,
      notFound: cluster ? cluster.notFound(options.now) : new LocalNotFoundCache(options.now),
      ...(cluster ? { forgetCached: (key: RepositoryKey) => storage.metadata.forget?.(key) } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
    const referrers = new ReferrersCache({
      upstream,
      metadata,
      logger,
      settings: { tagTtl: settings.tagTtl, revalidateBudget: settings.revalidateBudget },
      ...(options.now ? { now: options.now } : {}),
    });
    proxies.set(name, { upstream, manifests, referrers });
  }

  const finishing = new FinishingUploads(cluster?.finishing ?? null);
  const holders = cluster?.holders ?? new BlobHolders();
  const content = cluster?.content ?? new LocalContentLock();
  const hostedDeps = {
    blobs,
    metadata,
    uploads,
    cache,
    observer,
    manifestMaxBytes: config.limits.manifestMaxBytes,
    finishing,
    holders,
    content,
    storageFull: () => freeSpace.full(),
    now: options.now ?? Date.now,
  };
  const registry = new Registry({
    holders,
    hosted: new NamePatterns(config.hosted),
    upstreams: new Set(proxies.keys()),
    defaultUpstream: config.defaultUpstream,
    metadata,
    createHosted: (route) => new HostedRepository(route.name, route.key, hostedDeps),
    createProxied: (route) => {
      const proxy = proxies.get(route.upstream)!;
      return new ProxiedRepository(route.name, route.remoteName, route.key, {
        upstream: proxy.upstream,
        manifests: proxy.manifests,
        referrers: proxy.referrers,
        cache,
        blobs,
        metadata,
        fills,
        coordinator: cluster?.fills ?? LOCAL_FILLS,
        holders,
        observer,
        logger,
        content,
      });
    },
  });
  const readiness = new Readiness({
    probeDir: storage.scratchDir,
    ...(storage.probe ? { probeStore: storage.probe } : {}),
    ...(cluster ? { redisUp: () => cluster.link.up } : {}),
    lowSpace: async () => (freeSpace.state ?? (await freeSpace.check()))?.low ?? null,
  });
  const auth = await createAuth(config, {
    logger,
    observer: fanOut(NOOP_AUTH_OBSERVER, [options.authObserver, metrics && new AuthMetrics(metrics)]),
    canonicalName: (name) => registry.canonicalName(name),
    ...(options.now ? { now: options.now } : {}),
  });
  for (const warning of exposureWarnings(config)) logger.warn(warning);
  const access = auth?.access ?? OPEN_ACCESS;
  const history = new StatsHistory(options.statsSampleMs);
  const coordinator = cluster?.coordinator ?? new LocalCoordinator();
  const gc = new GarbageCollector({
    metadata,
    blobs,
    eviction: cache,
    isReading: (digest) => storage.readers.isReading(digest),
    holders,
    content,
    coordinator,
    retention: new RetentionRules(config.retention),
    graceMs: config.gc.gracePeriod,
    logger,
    observer: lifecycleObserver,
    indexed: storage.indexed,
    ...(options.now ? { now: options.now } : {}),
  });
  let prefetcher: Prefetcher | null = null;
  const pins = new Pins({
    metadata,
    images,
    eviction: cache,
    store: storage.pins,
    configured: config.prefetch.images.flatMap((image, i) => {
      if (!image.pin) return [];
      try {
        return [prefetchTarget(registry, image)];
      } catch (e) {
        throw new ConfigError(`config: prefetch.images[${i}].ref: ${(e as Error).message}`);
      }
    }),
    budgetBytes: config.storage.maxSize,
    logger,
    observer: lifecycleObserver,
    tagMoved: (source) => prefetcher?.refresh(source.ref),
    ...(options.now ? { now: options.now } : {}),
  });
  pinsOf = pins;
  prefetcher = new Prefetcher({
    registry,
    images: config.prefetch.images,
    concurrency: config.prefetch.concurrency,
    pullReserve: config.prefetch.pullReserve,
    pullsLeft: (upstream) => traffic.pullsLeft(upstream),
    pinsChanged: () => pins.apply(),
    logger,
    observer: lifecycleObserver,
    ...(options.now ? { now: options.now } : {}),
  });
  return {
    config, logger, metrics, observer, storage, fills, proxies, registry, readiness, metadata, views, images, pulls, traffic, history, access, auth,
    content, coordinator, gc, pins, prefetcher, freeSpace, lifecycleObserver, cluster,
  };
}
