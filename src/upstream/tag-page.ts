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
  if (!linkHeader) return null;
  for (const link of linkHeader.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(link);
    if (!match?.[1] || match[2] === undefined) continue;
    if (!/;\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?\s*(;|$)/i.test(match[2])) continue;
    try {
      return new URL(match[1], base).searchParams.get('last');
    } catch {
      return null;
    }
  }
  return null;
}
