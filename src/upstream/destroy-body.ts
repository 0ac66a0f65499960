import type { Readable } from 'node:stream';

/**
 * Abandons a response body: undici destroys it with a RequestAbortedError that it emits as 'error',
 * which would be an unhandled error event once nobody listens any more. Destroying releases the
 * connection (it is closed rather than reused), so use it when draining would cost more than a
 * reconnect: oversized or unwanted bodies.
 */
export function destroyBody(body: Readable): void {
  if (body.destroyed) return;
  body.on('error', ignore);
  body.destroy();
}

function ignore(): void {}
