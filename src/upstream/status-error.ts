import { discardBody, type UpstreamResponse } from './http-exchange.js';
import { UpstreamError, type UpstreamErrorKind } from './upstream.js';

/**
 * Maps a final response the caller cannot use to an UpstreamError, after draining its body.
 * (401 never arrives here — registry-client.ts interprets it — and 429/502/503/504 are thrown by
 * http-exchange.ts once retries are exhausted.)
 */
export async function failWithStatus(response: UpstreamResponse, what: string): Promise<never> {
  await discardBody(response);
  const status = response.statusCode;
  throw new UpstreamError(kindForStatus(status), `${what}: upstream answered ${status}`, { status });
}

function kindForStatus(status: number): UpstreamErrorKind {
  if (status === 404) return 'not-found';
  if (status === 403) return 'unauthorized';
  if (status === 429) return 'rate-limited';
  if (status >= 500) return 'unavailable';
  return 'invalid';
}
