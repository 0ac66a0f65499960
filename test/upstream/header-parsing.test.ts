import { describe, expect, it } from 'vitest';
import { parseRateLimitHeaders } from '../../src/upstream/rate-limit-headers.js';
import { parseContentRange } from '../../src/upstream/response-headers.js';
import { nextLast } from '../../src/upstream/tag-page.js';

describe('ratelimit headers', () => {
  it('reads the count before the window parameter; absence reports nothing', () => {
    expect(parseRateLimitHeaders('100;w=21600', '76;w=21600')).toEqual({ limit: 100, remaining: 76 });
    expect(parseRateLimitHeaders('200', undefined)).toEqual({ limit: 200, remaining: null });
    expect(parseRateLimitHeaders(undefined, undefined)).toBeNull();
    expect(parseRateLimitHeaders('lots', 'w=1')).toBeNull();
  });
});

describe('Link rel="next"', () => {
  const base = new URL('https://registry.example.com/v2/library/alpine/tags/list?n=2');
  it('extracts `last` from the next link', () => {
    expect(nextLast('</v2/library/alpine/tags/list?n=2&last=3.19>; rel="next"', base)).toBe('3.19');
    expect(nextLast('<https://other.example/v2/x/tags/list?last=a%2Bb&n=5>; rel=next', base)).toBe('a+b');
    expect(nextLast('</v2/x/tags/list?last=p>; rel="prev", </v2/x/tags/list?last=n>; rel="next"', base)).toBe('n');
  });
  it('is null without a next link', () => {
    expect(nextLast(undefined, base)).toBeNull();
    expect(nextLast('</v2/x/tags/list?last=p>; rel="prev"', base)).toBeNull();
    expect(nextLast('</v2/x/tags/list?n=2>; rel="next"', base)).toBeNull();
  });
});

describe('Content-Range', () => {
  it('parses bytes ranges and rejects inconsistent ones', () => {
    const headers = (value: string) => ({ 'content-range': value });
    expect(parseContentRange(headers('bytes 100-199/1000'))).toEqual({ start: 100, end: 199, total: 1000 });
    expect(parseContentRange(headers('bytes 100-199/*'))).toEqual({ start: 100, end: 199, total: null });
    expect(parseContentRange(headers('bytes 200-100/1000'))).toBeNull();
    expect(parseContentRange(headers('bytes 0-1000/1000'))).toBeNull();
    expect(parseContentRange({})).toBeNull();
  });
});
