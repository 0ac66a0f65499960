import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config/config.js';
import { handleError } from './http/error-handler.js';
import { registerV2Routes } from './http/v2-routes.js';
import { registerHealthRoutes } from './http/health-routes.js';
import { parseListenAddress, registerMetricsRoutes } from './http/metrics-routes.js';
import { fanOut } from './metrics/fan-out.js';
import { registerHttpMetrics } from './metrics/http-metrics.js';
import { StowageMetrics } from './metrics/metrics.js';
import { Readiness } from './metrics/readiness.js';
import { RegistryMetrics } from './metrics/registry-metrics.js';
import { UpstreamMetrics } from './metrics/upstream-metrics.js';
import { HostedRepository } from './registry/hosted-repository.js';
import { NamePatterns } from './registry/name-pattern.js';
import { Registry } from './registry/registry.js';
import { NOOP_REGISTRY_OBSERVER } from './registry/registry-observer.js';
import { RegistryError } from './oci/errors.js';
import { openStorage, type Storage } from './storage/open-storage.js';
import { createLogger } from './logger.js';
import { BlobFills } from './registry/blob-fills.js';
import { ManifestCache } from './registry/manifest-cache.js';
import { ProxiedRepository } from './registry/proxied-repository.js';
import type { RegistryObserver } from './registry/registry-observer.js';
import { createUpstream } from './upstream/create-upstream.js';
import type { Upstream, UpstreamObserver } from './upstream/upstream.js';
import { NOOP_UPSTREAM_OBSERVER } from './upstream/upstream.js';
import type { Dispatcher } from 'undici';

export interface App {
  server: FastifyInstance;
  config: Config;
  logger: Logger;
  storage: Storage;
  /** Null when `metrics.enabled` is false. */
  metrics: StowageMetrics | null;
  /** Backs /readyz; `beginShutdown()` makes it fail before the server stops accepting. */
  readiness: Readiness;
  /** The separate /metrics + health listener from `metrics.listen` (not listening until the caller listens on `address`). */
  ops: { server: FastifyInstance; address: { host: string; port: number } } | null;
  /** Stops background work (purges, fills) after the server closed. */
  close(): Promise<void>;
  /**
   * Graceful stop: readiness fails, the listener stops accepting (new requests on open connections
   * get 503), in-flight requests finish within `server.drainTimeout`, then background work stops.
   */
  shutdown(): Promise<void>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The composition root: the only place services are constructed and wired together. */
export interface AppOptions {
  logger?: Logger;
  /** Sends upstream requests instead of each upstream's own Agent (tests). */
  dispatcher?: Dispatcher;
  registryObserver?: RegistryObserver;
  upstreamObserver?: UpstreamObserver;
  /** Shorter upstream backoff (tests). */
  upstreamRetry?: { baseDelayMs?: number; maxDelayMs?: number };
  now?: () => number;
}

export async function buildApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.log.level);
  const opsAddress = config.metrics.listen ? parseListenAddress(config.metrics.listen) : null;
  const metrics = config.metrics.enabled
    ? new StowageMetrics({ upstreams: Object.keys(config.upstreams), cacheBudgetBytes: config.storage.maxSize })
    : null;
  const observer = fanOut(NOOP_REGISTRY_OBSERVER, [options.registryObserver, metrics && new RegistryMetrics(metrics)]);
  const upstreamObserver = fanOut(NOOP_UPSTREAM_OBSERVER, [options.upstreamObserver, metrics && new UpstreamMetrics(metrics)]);
  const storage = await openStorage(
    { path: config.storage.path, maxSize: config.storage.maxSize, blobMaxBytes: config.limits.blobMaxBytes },
    {
      evicted: (bytes) => observer.eviction({ bytes }),
      sizeChanged: (bytes, objects) => observer.cacheSize({ bytes, objects }),
      rebuildFailed: (err) => logger.error({ err }, 'rebuilding the cache index failed; eviction is off until restart'),
    },
    options.now,
  );
  const { blobs, metadata, uploads, cache } = storage;
  const hostedDeps = { blobs, metadata, uploads, cache, observer, manifestMaxBytes: config.limits.manifestMaxBytes };

  const fills = new BlobFills({ blobs, observer, logger });
  const proxies = new Map<string, { upstream: Upstream; manifests: ManifestCache }>();
  for (const [name, settings] of Object.entries(config.upstreams)) {
    const upstream = createUpstream(
      {
        name,
        url: settings.url,
        ...(settings.username !== undefined ? { username: settings.username } : {}),
        ...(settings.password !== undefined ? { password: settings.password } : {}),
        concurrency: settings.concurrency,
        connectTimeoutMs: settings.connectTimeout,
        headersTimeoutMs: settings.headersTimeout,
        bodyTimeoutMs: settings.bodyTimeout,
        retries: settings.retries,
        blobResumes: settings.blobResumes,
        maxManifestBytes: config.limits.manifestMaxBytes,
      },
      {
        logger,
        observer: upstreamObserver,
        ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
        ...(options.upstreamRetry ? { retry: options.upstreamRetry } : {}),
        ...(options.now ? { now: options.now } : {}),
      },
    );
    const manifests = new ManifestCache({
      upstream,
      blobs,
      metadata,
      cache,
      observer,
      logger,
      settings: { tagTtl: settings.tagTtl, notFoundTtl: settings.notFoundTtl, revalidateBudget: settings.revalidateBudget },
      maxManifestBytes: config.limits.manifestMaxBytes,
      ...(options.now ? { now: options.now } : {}),
    });
    proxies.set(name, { upstream, manifests });
  }

  const registry = new Registry({
    hosted: new NamePatterns(config.hosted),
    upstreams: new Set(Object.keys(config.upstreams)),
    defaultUpstream: config.defaultUpstream,
    metadata,
    createHosted: (route) => new HostedRepository(route.name, route.key, hostedDeps),
    createProxied: (route) => {
      const proxy = proxies.get(route.upstream)!;
      return new ProxiedRepository(route.name, route.remoteName, route.key, {
        upstream: proxy.upstream,
        manifests: proxy.manifests,
        cache,
        blobs,
        metadata,
        fills,
        observer,
        logger,
      });
    },
  });

  const https = config.server.tls
    ? { allowHTTP1: true, cert: readFileSync(config.server.tls.cert), key: readFileSync(config.server.tls.key) }
    : null;
  const server = Fastify({
    loggerInstance: logger,
    // genReqId validates the client's X-Request-Id; Fastify's requestIdHeader would echo it unchecked.
    requestIdHeader: false,
    // Errors Fastify raises before routing (a malformed URL) get the OCI error format too.
    frameworkErrors: handleError,
    genReqId: (req: import("node:http").IncomingMessage) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    trustProxy: config.server.trustProxy,
    // Uploads are streams we bound ourselves; Fastify's body limit would cap docker push at 1 MiB.
    bodyLimit: Number.MAX_SAFE_INTEGER,
    return503OnClosing: true,
    // On close, idle keep-alive sockets are closed at once; requests in flight finish (drain).
    forceCloseConnections: 'idle',
    ...(https ? { http2: true as const, https } : {}),
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;

  // Every body is handed over as the raw stream: handlers decide how much to read and when.
  server.removeAllContentTypeParsers();
  server.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  // Set before the handler, so responses a handler writes itself (blob bodies) carry it too.
  server.addHook('onRequest', (request, reply, done) => {
    reply.header('X-Request-Id', request.id);
    done();
  });
  if (metrics) registerHttpMetrics(server, metrics);
  server.setErrorHandler(handleError);
  server.setNotFoundHandler((request, reply) => {
    handleError(new RegistryError('NOT_FOUND', { path: request.url.split('?')[0] }, { message: 'no such endpoint' }), request, reply);
  });
  registerV2Routes(server, { registry, observer, manifestMaxBytes: config.limits.manifestMaxBytes });
  const readiness = new Readiness({ probeDir: storage.layout.tmp });
  registerHealthRoutes(server, readiness);
  if (metrics) registerMetricsRoutes(server, metrics);
  let ops: App['ops'] = null;
  if (metrics && opsAddress) {
    // Scrapes and probes only: no request logging, no /v2 routes.
    const opsServer = Fastify({ loggerInstance: logger, disableRequestLogging: true }) as unknown as FastifyInstance;
    registerHealthRoutes(opsServer, readiness);
    registerMetricsRoutes(opsServer, metrics);
    ops = { server: opsServer, address: opsAddress };
  }

  const purge = setInterval(() => {
    uploads.purgeOlderThan(config.limits.uploadSessionTtl).then(
      (n) => n > 0 && logger.info({ purged: n }, 'purged abandoned upload sessions'),
      (err: unknown) => logger.warn({ err }, 'upload purge failed'),
    );
  }, Math.min(config.limits.uploadSessionTtl, 3_600_000));
  purge.unref();

  const close = async (): Promise<void> => {
    readiness.beginShutdown();
    await ops?.server.close();
    clearInterval(purge);
    await storage.indexed;
    await fills.settled();
    await Promise.all([...proxies.values()].map((p) => p.upstream.close()));
  };

  return {
    server,
    config,
    logger,
    storage,
    metrics,
    readiness,
    ops,
    close,
    async shutdown() {
      readiness.beginShutdown();
      const http = server.server as Partial<import('node:http').Server>;
      // close() only closes connections idle at that moment; one finishing a blob becomes idle later
      // and would otherwise be held open until the keep-alive timeout. Sweep until close completes.
      const sweep = setInterval(() => http.closeIdleConnections?.(), 100);
      const deadline = setTimeout(() => {
        logger.warn('drain timeout reached; closing remaining connections');
        http.closeAllConnections?.();
      }, config.server.drainTimeout);
      try {
        await server.close();
      } finally {
        clearInterval(sweep);
        clearTimeout(deadline);
      }
      await close();
    },
  };
}
