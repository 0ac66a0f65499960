import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError, type ErrorKind } from '../oci/errors.js';
import { isStorageFull, storageFull } from '../storage/storage-full.js';

/** Statuses Fastify gives its own client errors (bad URL encoding, a malformed Content-Type, …). */
const FRAMEWORK_STATUS: Record<number, ErrorKind> = {
  408: 'REQUEST_TIMEOUT',
  415: 'MEDIA_TYPE_INVALID',
  431: 'HEADERS_TOO_LARGE',
};

/**
 * The one place errors become responses: RegistryError renders as the OCI envelope with its status
 * and headers; Fastify's own client errors become the table's request errors (their message kept as
 * the reason); anything else is logged and answered with a generic 500 that leaks no internals.
 */
export function handleError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  if (reply.sent || reply.raw.headersSent) {
    // Mid-stream failure: the only honest signal left is a cut connection.
    request.log.warn({ err: error }, 'response failed after headers were sent');
    reply.raw.destroy();
    return;
  }
  let registryError: RegistryError;
  if (error instanceof RegistryError) {
    registryError = error;
    if (error.status >= 500) request.log.warn({ err: error }, error.message);
  } else {
    const status = (error as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      registryError = new RegistryError(FRAMEWORK_STATUS[status] ?? 'REQUEST_MALFORMED', { reason: error.message });
    } else if (isStorageFull(error)) {
      // The disk filled up under a write (a session, a manifest, metadata): 507, not a 500.
      request.log.warn({ err: error }, 'no space left to store a request');
      registryError = storageFull(error);
    } else {
      request.log.error({ err: error }, 'unhandled error');
      registryError = new RegistryError('INTERNAL_ERROR');
    }
  }
  // A body that was refused before it was read to the end (an upload over the size limit, a chunk
  // for an unknown session) must not be drained or left half-read on a keep-alive connection: the
  // client would block writing the rest and the socket would hang. Close it after this response.
  // (HTTP/1 only: HTTP/2 forbids the header, and resets just the stream.)
  if (!request.raw.complete && request.raw.httpVersionMajor === 1) reply.header('Connection', 'close');
  reply
    .code(registryError.status)
    .headers(registryError.headers)
    .header('Content-Type', 'application/json; charset=utf-8')
    .send(JSON.stringify(registryError.toJSON()));
}
