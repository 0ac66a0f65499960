import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HTTP_METHODS, statusClass, type HttpRoute, type StowageMetrics } from './metrics.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The `route` label for requests served by a non-/v2 route (/metrics, /healthz, ...). */
    metricsRoute?: HttpRoute;
  }
}

/**
 * Times every request from its arrival to the end of its response into
 * stowage_http_request_duration_seconds{route,method,status_class}. `route` is the endpoint template
 * the /v2 router set on `request.endpoint` (or a route's `metricsRoute`, or `other`), so labels never
 * carry a repository, tag, digest or upload id.
 *
 * Measured on the response's `close`, not Fastify's onResponse (which skips responses cut short):
 * a blob stream the client abandons is still timed, and counted in
 * stowage_http_responses_aborted_total.
 */
export function registerHttpMetrics(server: FastifyInstance, metrics: StowageMetrics): void {
  server.addHook('onRequest', (request, reply, done) => {
    const started = performance.now();
    reply.raw.once('close', () => {
      const route = routeOf(request);
      const method = (HTTP_METHODS as readonly string[]).includes(request.method) ? request.method : 'other';
      const seconds = (performance.now() - started) / 1000;
      metrics.httpRequestDuration.observe({ route, method, status_class: statusClass(reply.raw.statusCode) }, seconds);
      if (!reply.raw.writableFinished) metrics.httpResponsesAborted.inc({ route });
    });
    done();
  });
}

function routeOf(request: FastifyRequest): HttpRoute {
  return request.endpoint ?? request.routeOptions.config?.metricsRoute ?? 'other';
}
