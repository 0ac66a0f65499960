import type { Digest } from '../oci/digest.js';
import { RegistryError } from '../oci/errors.js';
import type { Descriptor } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import { parseReferrersIndex } from '../oci/referrers.js';
import { parseDigest } from '../oci/digest.js';
import { parseRepositoryName } from '../oci/repository-name.js';
import { discardBody, type UpstreamResponse } from './http-exchange.js';
import { nextLink } from './link-header.js';
import { readBodyWithLimit } from './read-body.js';
import type { RegistryClient } from './registry-client.js';
import { headerValue, mediaTypeOf } from './response-headers.js';
import { failWithStatus } from './status-error.js';
import { UpstreamError } from './upstream.js';

/** Pages followed at most: a subject with more referrers than this is listed partially. */
const MAX_PAGES = 20;

/** Statuses by which a registry says it has no referrers API (a 404 only if not NAME_UNKNOWN). */
const NO_API = new Set([404, 405, 501]);

/**
 * `GET /v2/<name>/referrers/<digest>` at the upstream, every `Link: rel="next"` page followed (only
 * the link's query is taken: the path stays ours, so a link cannot lead anywhere else). The
 * unfiltered list is asked for, so one answer serves every `artifactType` filter.
 * Returns null when the upstream has no referrers API; throws UpstreamError 'not-found' when it
 * says the repository is unknown (404 NAME_UNKNOWN, or Docker Hub's 401), 'invalid' for pages that
 * are no OCI index.
 */
export async function fetchReferrers(
  client: RegistryClient,
  options: { repository: string; digest: Digest; maxPageBytes: number; signal?: AbortSignal },
): Promise<Descriptor[] | null> {
  const { repository, signal } = options;
  const path = `/v2/${parseRepositoryName(repository)}/referrers/${parseDigest(options.digest)}`;
  const what = `referrers of ${repository}@${options.digest}`;
  const referrers: Descriptor[] = [];
  let query = '';
  for (let page = 0; page < MAX_PAGES; page++) {
    const { response, url } = await client.request({ method: 'GET', path: `${path}${query}`, repository, headers: { accept: MediaType.OciIndex }, signal });
    if (page === 0 && NO_API.has(response.statusCode)) {
      if (response.statusCode === 404 && (await errorCode(response)) === 'NAME_UNKNOWN') {
        throw new UpstreamError('not-found', `${what}: repository unknown upstream`, { status: 404 });
      }
      await discardBody(response);
      return null;
    }
    if (response.statusCode !== 200) return failWithStatus(response, what);
    const body = await readBodyWithLimit(response.body, options.maxPageBytes, what, signal);
    referrers.push(...parsePage(body, mediaTypeOf(response.headers) ?? MediaType.OciIndex, what));
    const next = nextLink(headerValue(response.headers, 'link'), url);
    if (next === null || next.pathname !== url.pathname || next.search === '') break;
    query = next.search;
  }
  return referrers;
}

function parsePage(body: Buffer, mediaType: string, what: string): Descriptor[] {
  try {
    const referrers = parseReferrersIndex(body, mediaType);
    if (referrers === null) throw new UpstreamError('invalid', `${what}: the answer is not an image index`);
    return referrers;
  } catch (e) {
    if (e instanceof RegistryError) throw new UpstreamError('invalid', `${what}: ${e.message}`);
    throw e;
  }
}

/** The first error code of an OCI error body (read up to 64 KiB), or null. */
async function errorCode(response: UpstreamResponse): Promise<string | null> {
  try {
    const body = await readBodyWithLimit(response.body, 64 * 1024, 'error body');
    const code = (JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: unknown }> }).errors?.[0]?.code;
    return typeof code === 'string' ? code : null;
  } catch {
    return null;
  }
}
