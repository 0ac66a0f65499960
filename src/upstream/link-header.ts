/**
 * The target of the `rel="next"` link in a `Link` header (RFC 8288), resolved against `base` (the
 * URL the response came from), or null. The distribution spec pages tags and referrers this way:
 * `Link: </v2/<name>/tags/list?n=100&last=v1.2>; rel="next"`.
 */
export function nextLink(linkHeader: string | undefined, base: URL): URL | null {
  if (!linkHeader) return null;
  for (const link of linkHeader.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(link);
    if (!match?.[1] || match[2] === undefined) continue;
    if (!/;\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?\s*(;|$)/i.test(match[2])) continue;
    try {
      return new URL(match[1], base);
    } catch {
      return null;
    }
  }
  return null;
}
