import { RegistryError } from '../oci/errors.js';
import { UpstreamError } from '../upstream/upstream.js';

/**
 * Turns an upstream failure into what the client sees. Raw upstream answers are never passed
 * through: a 401 from Docker Hub for a missing repository must read as "unknown", and a 429 must
 * not make containerd retry in a loop (503 is not retried against non-last mirrors).
 */
export function toRegistryError(error: unknown, notFound: 'MANIFEST_UNKNOWN' | 'BLOB_UNKNOWN' | 'NAME_UNKNOWN', detail: Record<string, unknown>): RegistryError {
  if (error instanceof RegistryError) return error;
  if (!(error instanceof UpstreamError)) {
    return new RegistryError('UPSTREAM_UNAVAILABLE', { ...detail, reason: 'upstream request failed' }, { cause: error });
  }
  switch (error.kind) {
    case 'not-found':
      return new RegistryError(notFound, detail);
    case 'rate-limited': {
      const seconds = Math.max(1, Math.ceil((error.options.retryAfterMs ?? 60_000) / 1000));
      return new RegistryError('UNAVAILABLE', { ...detail, reason: 'the upstream registry is rate limiting requests' }, {
        headers: { 'Retry-After': String(seconds) },
      });
    }
    case 'unauthorized':
      return new RegistryError('UPSTREAM_UNAVAILABLE', { ...detail, reason: 'the upstream registry rejected the configured credentials' });
    case 'invalid':
      return new RegistryError('UPSTREAM_UNAVAILABLE', { ...detail, reason: `the upstream registry sent an unusable response: ${error.message}` });
    case 'unavailable':
      return new RegistryError('UPSTREAM_UNAVAILABLE', { ...detail, reason: `the upstream registry is unreachable: ${error.message}` });
    case 'timeout':
      return new RegistryError('UPSTREAM_TIMEOUT', { ...detail, reason: error.message });
  }
}

/** Failures after which a cached (stale) answer is better than an error. */
export const isUpstreamOutage = (error: unknown): boolean =>
  error instanceof UpstreamError && (error.kind === 'unavailable' || error.kind === 'timeout' || error.kind === 'rate-limited');
