import type http from 'node:http';
import type { FakeHubAuthority } from './fake-hub-auth.js';
import { serveBlobBytes } from './fake-hub-blob-serving.js';
import type { FakeCdn } from './fake-hub-cdn.js';
import type { HubContent } from './fake-hub-content.js';
import type { FakeHubFaults, HubRequestKind } from './fake-hub-faults.js';
import { API_VERSION_HEADER, sendRegistryError } from './fake-hub-responses.js';

export interface Route {
  kind: HubRequestKind;
  repository?: string;
  reference?: string;
}

export interface FakeRegistryApiOptions {
  auth: FakeHubAuthority;
  content: HubContent;
  faults: FakeHubFaults;
  cdn: FakeCdn | null;
  rateLimit: { limit: number; windowSeconds: number } | null;
  redirectManifestsTo: string | undefined;
  /** Referrers per page (`?page=N`, with `Link: rel="next"`); all on one page when unset. */
  referrersPageSize: number | undefined;
}

/**
 * The fake hub's registry API (read-only distribution spec): `/v2/`, manifests, blobs, tags, and the
 * token endpoint — behind the Docker-Hub-like auth rules of FakeHubAuthority.
 */
export class FakeRegistryApi {
  private rateLimitRemaining: number;

  constructor(private readonly options: FakeRegistryApiOptions) {
    this.rateLimitRemaining = options.rateLimit?.limit ?? 0;
  }

  resetRateLimit(): void {
    this.rateLimitRemaining = this.options.rateLimit?.limit ?? 0;
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const route = classify(url.pathname);
    if (route.kind === 'token') return this.options.auth.handleTokenRequest(req, res, url);
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendRegistryError(res, 405, 'UNSUPPORTED', 'read-only fake hub');
    if (route.kind === 'other') {
      if (url.pathname !== '/v2/' && url.pathname !== '/v2') return sendRegistryError(res, 404, 'NOT_FOUND', 'no such endpoint');
      if (!this.options.auth.authorize(req, res, null)) return;
      res.writeHead(200, { 'content-type': 'application/json', ...API_VERSION_HEADER });
      res.end('{}');
      return;
    }
    const repository = route.repository as string;
    if (!this.options.auth.authorize(req, res, repository)) return;
    if (route.kind === 'manifest' && this.options.redirectManifestsTo) {
      res.writeHead(307, { location: new URL(url.pathname, this.options.redirectManifestsTo).href, ...API_VERSION_HEADER });
      res.end();
      return;
    }
    if (route.kind === 'manifest') return this.serveManifest(req, res, repository, route.reference as string);
    if (route.kind === 'blob') return this.serveBlob(req, res, repository, route.reference as string);
    if (route.kind === 'referrers') return this.serveReferrers(res, repository, route.reference as string, url);
    return this.serveTags(res, repository, url);
  }

  private async serveManifest(req: http.IncomingMessage, res: http.ServerResponse, repository: string, reference: string): Promise<void> {
    const found = await this.options.content.manifest(repository, reference);
    if (found === 'no-repo') return this.unknownRepository(res, repository);
    if (found === 'missing' || !accepts(req.headers.accept, found.mediaType)) {
      return sendRegistryError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown', this.rateLimitHeaders());
    }
    if (req.method === 'GET' && this.options.rateLimit) this.rateLimitRemaining = Math.max(0, this.rateLimitRemaining - 1);
    res.writeHead(200, {
      'content-type': found.mediaType,
      'content-length': String(found.bytes.length),
      'docker-content-digest': found.digest,
      etag: `"${found.digest}"`,
      ...API_VERSION_HEADER,
      ...this.rateLimitHeaders(),
    });
    res.end(req.method === 'HEAD' ? undefined : found.bytes);
  }

  private async serveBlob(req: http.IncomingMessage, res: http.ServerResponse, repository: string, digest: string): Promise<void> {
    const found = await this.options.content.blob(repository, digest);
    if (found === 'no-repo') return this.unknownRepository(res, repository);
    if (found === 'missing') return sendRegistryError(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry');
    if (this.options.cdn && req.method === 'GET') {
      const location = this.options.cdn.sign(repository, digest);
      res.writeHead(307, { location, 'content-type': 'text/html; charset=utf-8', ...API_VERSION_HEADER });
      res.end(`<a href="${location}">Temporary Redirect</a>.\n`);
      return;
    }
    await serveBlobBytes(req, res, found, this.options.faults, API_VERSION_HEADER);
  }

  private async serveTags(res: http.ServerResponse, repository: string, url: URL): Promise<void> {
    const all = await this.options.content.tags(repository);
    if (all === 'no-repo') return this.unknownRepository(res, repository);
    if (all === 'missing') return sendRegistryError(res, 404, 'NAME_UNKNOWN', 'repository name not known to registry');
    const last = url.searchParams.get('last');
    const nParam = url.searchParams.get('n');
    if (nParam !== null && !/^\d+$/.test(nParam)) return sendRegistryError(res, 400, 'PAGINATION_NUMBER_INVALID', 'invalid n');
    const after = last === null ? all : all.filter((t) => t > last);
    const n = nParam === null ? after.length : Number(nParam);
    const page = after.slice(0, n);
    const headers: Record<string, string> = { 'content-type': 'application/json', ...API_VERSION_HEADER };
    if (page.length < after.length && page.length > 0) {
      const next = new URLSearchParams({ n: String(n), last: page[page.length - 1] as string });
      headers.link = `</v2/${repository}/tags/list?${next.toString()}>; rel="next"`;
    }
    res.writeHead(200, headers);
    res.end(JSON.stringify({ name: repository, tags: page }));
  }

  /**
   * The referrers API, unfiltered, paged by `referrersPageSize`. Without the API (a backend), a 404
   * with a plain-text body, as distribution 2.8's router answers unknown paths.
   */
  private async serveReferrers(res: http.ServerResponse, repository: string, digest: string, url: URL): Promise<void> {
    const all = await this.options.content.referrers(repository, digest);
    if (all === 'no-repo') return this.unknownRepository(res, repository);
    if (all === 'missing') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...API_VERSION_HEADER });
      res.end('404 page not found\n');
      return;
    }
    const size = this.options.referrersPageSize ?? Math.max(all.length, 1);
    const page = Number(url.searchParams.get('page') ?? '0');
    const headers: Record<string, string> = { 'content-type': 'application/vnd.oci.image.index.v1+json', ...API_VERSION_HEADER };
    if ((page + 1) * size < all.length) headers.link = `</v2/${repository}/referrers/${digest}?page=${page + 1}>; rel="next"`;
    res.writeHead(200, headers);
    res.end(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: all.slice(page * size, (page + 1) * size) }));
  }

  /** Docker Hub answers 401 (not 404) for repositories that do not exist, even with a valid token. */
  private unknownRepository(res: http.ServerResponse, repository: string): void {
    if (!this.options.auth.enabled) return sendRegistryError(res, 404, 'NAME_UNKNOWN', 'repository name not known to registry');
    this.options.auth.challenge(res, repository, 'insufficient_scope');
  }

  private rateLimitHeaders(): Record<string, string> {
    if (!this.options.rateLimit) return {};
    const window = `;w=${this.options.rateLimit.windowSeconds}`;
    return { 'ratelimit-limit': `${this.options.rateLimit.limit}${window}`, 'ratelimit-remaining': `${this.rateLimitRemaining}${window}` };
  }
}

export function classify(pathname: string): Route {
  if (pathname === '/token') return { kind: 'token' };
  let match = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(pathname);
  if (match) return { kind: 'manifest', repository: match[1], reference: match[2] };
  match = /^\/v2\/(.+)\/blobs\/(?!uploads\/)([^/]+)$/.exec(pathname);
  if (match) return { kind: 'blob', repository: match[1], reference: match[2] };
  match = /^\/v2\/(.+)\/tags\/list$/.exec(pathname);
  if (match) return { kind: 'tags', repository: match[1] };
  match = /^\/v2\/(.+)\/referrers\/([^/]+)$/.exec(pathname);
  if (match) return { kind: 'referrers', repository: match[1], reference: match[2] };
  return { kind: 'other' };
}

/** Whether an `Accept` header admits `mediaType` (no header: anything goes). */
function accepts(header: string | undefined, mediaType: string): boolean {
  if (!header) return true;
  const types = header.split(',').map((part) => part.split(';')[0]?.trim().toLowerCase());
  return types.some((t) => t === mediaType || t === '*/*' || t === `${mediaType.split('/')[0]}/*`);
}
