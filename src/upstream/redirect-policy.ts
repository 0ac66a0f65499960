import { isPrivateHost, normalizeHostname } from './host-class.js';
import { UpstreamError } from './upstream.js';

/**
 * Which redirects the upstream client follows (behaviours 16 and 17). The client follows them itself
 * (undici's redirect interceptor is not used) so that it decides, per hop, which credentials go where:
 * a hop to another origin never carries the previous origin's `Authorization`; the new origin gets its
 * own 401/token handshake if it asks for one.
 */
export const MAX_REDIRECTS = 10;

export const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

export interface RedirectContext {
  /** The configured upstream base URL. */
  upstream: URL;
  /** Redirects already followed for this request. */
  hops: number;
}

/**
 * Resolves `location` against `from` and checks it; throws UpstreamError('invalid') when the hop is
 * refused. Messages name the target origin only: redirect URLs to CDNs carry signatures in the query.
 */
export function nextRedirectUrl(from: URL, location: string | undefined, context: RedirectContext): URL {
  if (context.hops >= MAX_REDIRECTS) {
    throw new UpstreamError('invalid', `more than ${MAX_REDIRECTS} redirects`);
  }
  if (!location) throw new UpstreamError('invalid', `redirect from ${from.origin} without Location`);
  let target: URL;
  try {
    target = new URL(location, from);
  } catch {
    throw new UpstreamError('invalid', `redirect from ${from.origin} to an unparseable Location`);
  }
  if (target.protocol !== 'https:' && target.protocol !== 'http:') {
    throw new UpstreamError('invalid', `redirect to unsupported scheme ${target.protocol}`);
  }
  if (from.protocol === 'https:' && target.protocol === 'http:') {
    throw new UpstreamError('invalid', `redirect from https down to http (${target.origin}) refused`);
  }
  if (!mayContact(context.upstream, target)) {
    throw new UpstreamError('invalid', `redirect to private or loopback host ${target.host} refused`);
  }
  target.username = '';
  target.password = '';
  target.hash = '';
  return target;
}

/**
 * Whether the proxy may send a request that a registry chose (a redirect target, a token realm) to
 * `target`: a private or loopback address only when the upstream itself is configured on one (an
 * on-premises mirror, or tests on 127.0.0.1), or when it is the upstream's own host. Otherwise a
 * public registry could aim the proxy at services on its internal network (SSRF).
 */
export function mayContact(upstream: URL, target: URL): boolean {
  if (!isPrivateHost(target.hostname)) return true;
  return isPrivateHost(upstream.hostname) || normalizeHostname(target.hostname) === normalizeHostname(upstream.hostname);
}

/** `https://cdn.example/blobs/x` — what may be logged or put into an error about a URL. */
export const describeUrl = (url: URL): string => `${url.origin}${url.pathname}`;
