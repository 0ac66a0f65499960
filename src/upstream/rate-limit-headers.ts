/**
 * Docker Hub's pull-limit headers: `ratelimit-limit: 100;w=21600` and `ratelimit-remaining: 76;w=21600`
 * (count; window in seconds). Only the count is reported.
 *
 * Absence of both headers means "unlimited" (behaviour 27): nothing is reported then, so a metric keeps
 * its last value rather than being overwritten with nulls by upstreams or endpoints that never send them.
 */
export interface RateLimitReading {
  limit: number | null;
  remaining: number | null;
}

export function parseRateLimitHeaders(
  limitHeader: string | undefined,
  remainingHeader: string | undefined,
): RateLimitReading | null {
  const limit = parseCount(limitHeader);
  const remaining = parseCount(remainingHeader);
  if (limit === null && remaining === null) return null;
  return { limit, remaining };
}

function parseCount(value: string | undefined): number | null {
  if (value === undefined) return null;
  const match = /^\s*(\d+)\s*(?:[;,]|$)/.exec(value);
  return match?.[1] === undefined ? null : Number(match[1]);
}
