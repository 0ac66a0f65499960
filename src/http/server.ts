import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { type FastifyInstance } from 'fastify';
import { registerHttpMetrics } from '../metrics/http-metrics.js';
import type { Services } from '../services.js';
import { adminGuard } from './admin-guard.js';
import { registerApiRoutes } from './api/routes.js';
import { registerUiRoutes } from './ui-routes.js';
import { answerClientError, installProtocolAnswers } from './client-errors.js';
import { handleError } from './error-handler.js';
import { registerHealthRoutes } from './health-routes.js';
import { parseListenAddress, registerMetricsRoutes } from './metrics-routes.js';
import { registerPeerRoutes } from './peer-routes.js';
import { registerRequestGuards } from './request-guards.js';
import { registerTokenRoutes } from './token-routes.js';
import { createV2Authorizer } from './v2-access.js';
import { answerUnrouted, registerV2Routes } from './v2-routes.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The main listener: the registry API, probes and (unless disabled) /metrics. Not listening yet. */
export function createHttpServer(services: Services): FastifyInstance {
  const { config, logger, metrics, registry, observer, readiness } = services;
  const https = config.server.tls
    ? { allowHTTP1: true, cert: readFileSync(config.server.tls.cert), key: readFileSync(config.server.tls.key) }
    : null;
  const server = Fastify({
    loggerInstance: logger,
    // genReqId validates the client's X-Request-Id; Fastify's requestIdHeader would echo it unchecked.
    requestIdHeader: false,
    // Errors Fastify raises before routing (a malformed URL) get the OCI error format too, and so
    // do those of Node's HTTP parser (client-errors.ts).
    frameworkErrors: handleError,
    clientErrorHandler(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Duplex) {
      answerClientError(logger, error, socket);
    },
    // request-guards.ts answers these two in the OCI format instead of Node and Fastify.
    http: { requireHostHeader: false },
    return503OnClosing: false,
    genReqId: (req: IncomingMessage) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    trustProxy: config.server.trustProxy,
    // Uploads are streams we bound ourselves; Fastify's body limit would cap docker push at 1 MiB.
    bodyLimit: Number.MAX_SAFE_INTEGER,
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
  registerRequestGuards(server, readiness);
  server.setErrorHandler(handleError);
  server.setNotFoundHandler(async (request, reply) => answerUnrouted(request, reply));
  if (!https) installProtocolAnswers(server.server as Server);
  const { auth, access } = services;
  registerV2Routes(server, {
    registry,
    observer,
    manifestMaxBytes: config.limits.manifestMaxBytes,
    pulls: services.pulls,
    access,
    gc: services.gc,
    ...(auth ? { authorize: createV2Authorizer(auth) } : {}),
  });
  if (auth?.tokens) registerTokenRoutes(server, { ...auth, tokens: auth.tokens });
  registerApiRoutes(server, services, access);
  registerUiRoutes(server);
  registerHealthRoutes(server, readiness);
  if (metrics) registerMetricsRoutes(server, metrics, metricsGuard(services));
  if (services.cluster) registerPeerRoutes(server, { fills: services.fills, signature: services.cluster.signature, observer: services.cluster.observer });
  return server;
}

/** The separate /metrics + probes listener of `metrics.listen`, or null. Not listening yet. */
export function createOpsServer(services: Services): { server: FastifyInstance; address: { host: string; port: number } } | null {
  const { config, logger, metrics, readiness } = services;
  if (!metrics || !config.metrics.listen) return null;
  const address = parseListenAddress(config.metrics.listen);
  // Scrapes and probes only: no request logging, no /v2 routes.
  const server = Fastify({ loggerInstance: logger, disableRequestLogging: true }) as unknown as FastifyInstance;
  registerHealthRoutes(server, readiness);
  registerMetricsRoutes(server, metrics, metricsGuard(services));
  return { server, address };
}

/** With `metrics.auth: true`, /metrics wants an admin's Basic credentials (on both listeners). */
const metricsGuard = ({ config, auth }: Services): ReturnType<typeof adminGuard> | undefined =>
  config.metrics.auth && auth ? adminGuard(auth) : undefined;
