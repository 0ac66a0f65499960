import type { FastifyInstance } from 'fastify';
import type { Readiness } from '../metrics/readiness.js';
import { RegistryError } from '../oci/errors.js';

/**
 * Checks every request passes before routing, answered in the OCI format like every other refusal
 * (Node and Fastify would otherwise answer these two themselves, with their own bodies):
 * - an HTTP/1.1 request without `Host` is 400 (RFC 9112 §3.2; Node's own check is switched off);
 * - once shutdown has begun, a new registry request on a connection still open is 503 with
 *   `Connection: close`, so the client retries elsewhere while requests in flight drain.
 */
export function registerRequestGuards(server: FastifyInstance, readiness: Readiness): void {
  server.addHook('onRequest', (request, reply, done) => {
    const raw = request.raw;
    if (raw.httpVersionMajor === 1 && raw.httpVersionMinor === 1 && raw.headers.host === undefined) {
      done(new RegistryError('REQUEST_MALFORMED', { reason: 'no Host header' }, { message: 'an HTTP/1.1 request needs a Host header' }));
      return;
    }
    if (readiness.isShuttingDown && raw.url?.startsWith('/v2')) {
      if (raw.httpVersionMajor === 1) reply.header('Connection', 'close');
      done(new RegistryError('UNAVAILABLE', { reason: 'shutting down' }, { message: 'this instance is shutting down' }));
      return;
    }
    done();
  });
}
