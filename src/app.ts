import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config/config.js';
import { handleError } from './http/error-handler.js';
import { registerV2Routes } from './http/v2-routes.js';
import { HostedRepository } from './registry/hosted-repository.js';
import { NamePatterns } from './registry/name-pattern.js';
import { Registry } from './registry/registry.js';
import { NOOP_REGISTRY_OBSERVER } from './registry/registry-observer.js';
import { RegistryError } from './oci/errors.js';
import { FsBlobStore } from './storage/fs-blob-store.js';
import { FsMetadataStore } from './storage/fs-metadata-store.js';
import { Layout } from './storage/layout.js';
import { UploadStore } from './storage/upload-store.js';
import { createLogger } from './logger.js';

export interface App {
  server: FastifyInstance;
  config: Config;
  logger: Logger;
  /** Stops background work (purges, fills) after the server closed. */
  close(): Promise<void>;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The composition root: the only place services are constructed and wired together. */
export async function buildApp(config: Config, options: { logger?: Logger } = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.log.level);
  const layout = new Layout(resolve(config.storage.path));
  const blobs = await FsBlobStore.open(layout);
  const metadata = new FsMetadataStore(layout);
  const uploads = new UploadStore(layout, config.limits.blobMaxBytes);
  const observer = NOOP_REGISTRY_OBSERVER;
  const hostedDeps = { blobs, metadata, uploads, observer, manifestMaxBytes: config.limits.manifestMaxBytes };

  const registry = new Registry({
    hosted: new NamePatterns(config.hosted),
    upstreams: new Set(Object.keys(config.upstreams)),
    defaultUpstream: config.defaultUpstream,
    metadata,
    createHosted: (route) => new HostedRepository(route.name, route.key, hostedDeps),
    createProxied: (route) => {
      throw new RegistryError('NAME_UNKNOWN', { name: route.name }, { message: 'proxying is not available' });
    },
  });

  const https = config.server.tls
    ? { allowHTTP1: true, cert: readFileSync(config.server.tls.cert), key: readFileSync(config.server.tls.key) }
    : null;
  const server = Fastify({
    loggerInstance: logger,
    requestIdHeader: 'x-request-id',
    genReqId: (req: import("node:http").IncomingMessage) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    trustProxy: config.server.trustProxy,
    // Uploads are streams we bound ourselves; Fastify's body limit would cap docker push at 1 MiB.
    bodyLimit: Number.MAX_SAFE_INTEGER,
    return503OnClosing: true,
    forceCloseConnections: false,
    ...(https ? { http2: true as const, https } : {}),
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance;

  // Every body is handed over as the raw stream: handlers decide how much to read and when.
  server.removeAllContentTypeParsers();
  server.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
  server.addHook('onSend', async (request, reply) => {
    reply.header('X-Request-Id', request.id);
  });
  server.setErrorHandler(handleError);
  server.setNotFoundHandler((request, reply) => {
    handleError(new RegistryError('NOT_FOUND', { path: request.url.split('?')[0] }, { message: 'no such endpoint' }), request, reply);
  });
  registerV2Routes(server, { registry, manifestMaxBytes: config.limits.manifestMaxBytes });

  const purge = setInterval(() => {
    uploads.purgeOlderThan(config.limits.uploadSessionTtl).then(
      (n) => n > 0 && logger.info({ purged: n }, 'purged abandoned upload sessions'),
      (err: unknown) => logger.warn({ err }, 'upload purge failed'),
    );
  }, Math.min(config.limits.uploadSessionTtl, 3_600_000));
  purge.unref();

  return {
    server,
    config,
    logger,
    async close() {
      clearInterval(purge);
    },
  };
}
