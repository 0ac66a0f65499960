import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config/config.js';
import { createHttpServer, createOpsServer } from './http/server.js';
import { createLogger } from './logger.js';
import { startLifecycle } from './lifecycle.js';
import type { StowageMetrics } from './metrics/metrics.js';
import type { Readiness } from './metrics/readiness.js';
import { createServices, type AppOptions, type Services } from './services.js';
import type { Storage } from './storage/open-storage.js';

export type { AppOptions } from './services.js';

export interface App {
  server: FastifyInstance;
  config: Config;
  logger: Logger;
  services: Services;
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

/**
 * Builds Stowage: the services (services.ts), the HTTP listeners (http/server.ts) and the
 * background work with its shutdown (lifecycle.ts). Nothing listens until the caller says so.
 */
export async function buildApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.log.level, config.log.format);
  const services = await createServices(config, logger, options);
  const server = createHttpServer(services);
  const ops = createOpsServer(services);
  const lifecycle = startLifecycle(services, server, ops?.server ?? null);
  return {
    server,
    config,
    logger,
    services,
    storage: services.storage,
    metrics: services.metrics,
    readiness: services.readiness,
    ops,
    close: lifecycle.close,
    shutdown: lifecycle.shutdown,
  };
}
