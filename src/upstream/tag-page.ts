import { nextLink } from './link-header.js';
import { UpstreamError, type TagPage } from './upstream.js';

/**
 * `tags/list` pages: the body is `{"name": "...", "tags": [...] | null}`, and the next page is
 * announced by `Link: </v2/<name>/tags/list?n=100&last=v1.2>; rel="next"` (distribution spec). The
 * `last` query parameter of that link is what the caller passes back to get the next page.
 */
export function parseTagPage(body: Buffer, linkHeader: string | undefined, base: URL, what: string): TagPage {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new UpstreamError('invalid', `${what}: tag list is not valid JSON`);
  }
  const tags = typeof json === 'object' && json !== null ? (json as { tags?: unknown }).tags : undefined;
  if (tags !== null && tags !== undefined && !(Array.isArray(tags) && tags.every((t) => typeof t === 'string'))) {
    throw new UpstreamError('invalid', `${what}: tag list has no array of strings`);
  }
  return { tags: (tags ?? []) as string[], next: nextLast(linkHeader, base) };
}

/** The `last` parameter of the `rel="next"` link, or null. */
export function nextLast(linkHeader: string | undefined, base: URL): string | null {
  return nextLink(linkHeader, base)?.searchParams.get('last') ?? null;
}
