import { discardBody, type HttpExchange, type UpstreamResponse } from './http-exchange.js';
import { HeadersDeadline } from './headers-deadline.js';
import { describeUrl, nextRedirectUrl, REDIRECT_STATUSES } from './redirect-policy.js';
import type { RegistryAuthenticator } from './registry-auth.js';
import { headerValue } from './response-headers.js';
import { UpstreamError } from './upstream.js';

export interface RegistryRequest {
  method: 'GET' | 'HEAD';
  /** Path and query below the upstream base URL: `/v2/library/alpine/manifests/3.20`. */
  path: string;
  /** The upstream repository name; the token scope is `repository:<name>:pull`. */
  repository: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface RegistryAnswer {
  /** A final (non-redirect, non-401) response; the caller owns its body. */
  response: UpstreamResponse;
  /** Where it came from, after redirects. May carry a signed query string: never log it whole. */
  url: URL;
}

/** A 401 is answered by learning the challenge or refreshing a token; more rounds mean a loop. */
const MAX_AUTH_ROUNDS = 4;

/**
 * One registry API request, end to end: authorization (registry-auth.ts), redirects followed hop by
 * hop under redirect-policy.ts, retries inside each hop (http-exchange.ts), all of it within one
 * request deadline (headers-deadline.ts). Redirect responses are
 * never returned or cached; every hop's body is drained. Headers like `Range` travel across hops,
 * `Authorization` never does: it is computed per hop for that hop's origin.
 */
export class RegistryClient {
  private readonly basePath: string;

  constructor(
    private readonly upstreamUrl: URL,
    private readonly http: HttpExchange,
    private readonly auth: RegistryAuthenticator,
    /** HeadersDeadline of every request: `UpstreamSettings.requestDeadlineMs`. */
    private readonly deadlineMs: number,
  ) {
    // An upstream may live below a path (`https://mirror.example/prefix`); the API is `<base>/v2/...`.
    this.basePath = upstreamUrl.pathname.replace(/\/+$/, '');
  }

  async request(request: RegistryRequest): Promise<RegistryAnswer> {
    const url = new URL(`${this.basePath}${request.path}`, this.upstreamUrl.origin);
    const deadline = new HeadersDeadline(this.deadlineMs, request.signal, () => `${request.method} ${describeUrl(url)}`);
    try {
      return await this.follow({ ...request, signal: deadline.signal }, url);
    } finally {
      deadline.settle();
    }
  }

  private async follow(request: RegistryRequest, start: URL): Promise<RegistryAnswer> {
    const scope = `repository:${request.repository}:pull`;
    let url = start;
    let hops = 0;
    let authRounds = 0;
    while (true) {
      const { header, attempt } = await this.auth.authorize(url, scope, request.signal);
      const headers: Record<string, string> = { ...request.headers };
      if (header !== null) headers.authorization = header;
      const response = await this.http.send({ method: request.method, url, headers, signal: request.signal });

      if (REDIRECT_STATUSES.has(response.statusCode)) {
        const location = headerValue(response.headers, 'location');
        await discardBody(response);
        url = nextRedirectUrl(url, location, { upstream: this.upstreamUrl, hops });
        hops++;
        continue;
      }
      if (response.statusCode === 401) {
        await discardBody(response);
        if (++authRounds > MAX_AUTH_ROUNDS) {
          throw new UpstreamError('unauthorized', `${url.origin} kept answering 401`, { status: 401 });
        }
        this.auth.onUnauthorized(url, response.headers, attempt);
        continue;
      }
      return { response, url };
    }
  }
}
