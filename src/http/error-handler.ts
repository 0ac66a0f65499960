import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../oci/errors.js';

/**
 * The one place errors become responses: RegistryError renders as the OCI envelope with its status
 * and headers; Fastify's own client errors (bad headers, aborted bodies) keep their 4xx status;
 * anything else is logged and answered with a generic 500 that leaks no internals.
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
      registryError = new RegistryError('UNSUPPORTED', { reason: error.message }, { status, message: 'bad request' });
    } else {
      request.log.error({ err: error }, 'unhandled error');
      registryError = new RegistryError('UNAVAILABLE', null, { status: 500, message: 'internal error' });
    }
  }
  reply
    .code(registryError.status)
    .headers(registryError.headers)
    .header('Content-Type', 'application/json; charset=utf-8')
    .send(JSON.stringify(registryError.toJSON()));
}
