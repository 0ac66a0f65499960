/**
 * A Docker-Hub-like upstream registry for tests and benchmarks: plain `node:http` on 127.0.0.1 with
 * random ports, no framework.
 *
 * ```ts
 * const hub = await startFakeHub({ auth: 'anonymous-token', cdn: true });
 * const image = hub.addImage('library/alpine', '3.20');   // config + 2 random layers + OCI manifest
 * // ... point the code under test at hub.url ...
 * expect(hub.count({ kind: 'token' })).toBe(1);
 * hub.faults.fail('manifest', { status: 429, retryAfter: 1 });
 * await hub.close();
 * ```
 *
 * Behaviour (what Docker Hub does, as far as clients can tell):
 * - auth `'anonymous-token'` (default) or `{ username, password }`: `/v2/` and every registry request
 *   without a valid bearer token answer 401 with
 *   `WWW-Authenticate: Bearer realm="<hub>/token",service="fake-hub"[,scope="repository:NAME:pull"]`.
 *   `GET /token?service=fake-hub&scope=repository:NAME:pull` returns `{"token","expires_in"}`; with
 *   credentials configured it requires matching Basic credentials (anything else → 401).
 *   An unknown repository answers **401** even with a valid token (like Docker Hub); a known
 *   repository with an unknown tag/blob answers 404 `MANIFEST_UNKNOWN` / `BLOB_UNKNOWN`.
 *   auth `'none'`: no challenges; unknown repositories are 404 `NAME_UNKNOWN`.
 * - Manifests (GET/HEAD, by tag or digest) with `Content-Type`, `Content-Length`,
 *   `Docker-Content-Digest`, and `ratelimit-limit: 100;w=21600` / `ratelimit-remaining` (decremented by
 *   each manifest GET). A manifest whose type is not in `Accept` (and no `*` wildcard) is 404.
 * - Blobs: with `cdn: true`, GET answers `307 Location: <cdnUrl>/blobs/<digest>?sig=…`; the CDN rejects
 *   any request carrying `Authorization` with 400 and unknown signatures with 403. HEAD is answered
 *   directly. Range (`bytes=N-`, `bytes=N-M`) → 206 + `Content-Range`, on the hub and on the CDN.
 * - `tags/list` with `n` / `last` and a `Link: <…>; rel="next"` header while more tags remain.
 * - `backend`: serve manifests, blobs and tags from a real v2 registry (no auth) instead of memory;
 *   the hub's auth, CDN and faults still apply. The `add*` methods are unavailable then.
 *
 * Every request is logged in `hub.requests` when it arrives (`status` is 0 until a response head is
 * sent, and stays 0 for stalled or reset requests). Faults: see fake-hub-faults.ts.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Digest } from '../../src/oci/digest.js';
import { serveBlobBytes } from './fake-hub-blob-serving.js';
import { BackendContent, MemoryContent, type HubContent } from './fake-hub-content.js';
import { FakeHubFaults, type HubRequestKind } from './fake-hub-faults.js';
import { buildImage, buildIndex, type FakeImage, type FakeIndex, type ImageOptions, type Platform } from './fake-hub-images.js';

export type { FakeBlob, FakeImage, FakeIndex, ImageOptions, Platform } from './fake-hub-images.js';
export type { FailRule, FaultTarget, HubRequestKind } from './fake-hub-faults.js';
export { FakeHubFaults } from './fake-hub-faults.js';

export type FakeHubAuth = 'none' | 'anonymous-token' | { username: string; password: string };

export interface FakeHubOptions {
  /** Default `'anonymous-token'` (Docker Hub for public images). */
  auth?: FakeHubAuth;
  /** Redirect blob GETs to a separate CDN server (default false). */
  cdn?: boolean;
  /** Base URL of a real registry (plain v2, no auth) to take content from instead of memory. */
  backend?: string;
  /** `expires_in` of issued tokens in seconds (default 300); `null` leaves the field out. */
  tokenExpiresIn?: number | null;
  /** Realm advertised in challenges instead of the hub's own `/token` (e.g. a hostile realm). */
  realm?: string;
  /** Pull-limit headers on manifest responses (default 100 per 21600 s); `null` sends none. */
  rateLimit?: { limit: number; windowSeconds: number } | null;
}

export interface HubRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** The query string including `?`, or ''. */
  query: string;
  kind: HubRequestKind;
  /** Status of the response head; 0 while none was sent (stalled, reset, cut before headers). */
  status: number;
  /** Whether the request carried an `Authorization` header (its value is never recorded). */
  authorization: boolean;
  range?: string;
  accept?: string;
  /** For registry requests: the repository in the path. */
  repository?: string;
}

export type HubRequestFilter = Partial<Omit<HubRequest, 'query'>> | ((request: HubRequest) => boolean);

export interface FakeHub {
  /** Registry base URL, `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** CDN base URL when `cdn` is on, else null. */
  readonly cdnUrl: string | null;
  /** The realm advertised in challenges. */
  readonly realm: string;
  readonly requests: readonly HubRequest[];
  readonly faults: FakeHubFaults;
  addBlob(repository: string, bytes: Buffer | string): Digest;
  /** Stores a manifest under its digest, and under `tagOrDigest` when that is a tag. Returns the digest. */
  addManifest(repository: string, tagOrDigest: string, bytes: Buffer | string, mediaType: string): Digest;
  /** Builds and stores a small image (its blobs and manifest) under `tag`. */
  addImage(repository: string, tag: string, options?: ImageOptions): FakeImage;
  /** Builds and stores a multi-platform index and its images under `tag`. */
  addIndex(repository: string, tag: string, platforms: Platform[], options?: Omit<ImageOptions, 'platform'>): FakeIndex;
  removeTag(repository: string, tag: string): void;
  /** Number of logged requests matching the filter (all of them without one). */
  count(filter?: HubRequestFilter): number;
  /** Clears the request log and every fault rule, restores the rate-limit counter; content is kept. */
  reset(): void;
  close(): Promise<void>;
}

const SERVICE = 'fake-hub';
const API_VERSION = { 'docker-distribution-api-version': 'registry/2.0' };

interface IssuedToken {
  repositories: Set<string>;
  expiresAt: number;
}

interface Route {
  kind: HubRequestKind;
  repository?: string;
  reference?: string;
}

export async function startFakeHub(options: FakeHubOptions = {}): Promise<FakeHub> {
  const hub = new FakeHubServer(options);
  await hub.start();
  return hub;
}

class FakeHubServer implements FakeHub {
  readonly requests: HubRequest[] = [];
  readonly faults: FakeHubFaults;
  private readonly auth: FakeHubAuth;
  private readonly content: HubContent;
  private readonly memory: MemoryContent | null;
  private readonly registryServer: http.Server;
  private readonly cdnServer: http.Server | null;
  private readonly sockets = new Set<Socket>();
  private readonly tokens = new Map<string, IssuedToken>();
  private readonly signatures = new Map<string, { repository: string; digest: string }>();
  private readonly rateLimit: { limit: number; windowSeconds: number } | null;
  private rateLimitRemaining: number;
  private resetting = false;
  private ports = { registry: 0, cdn: 0 };

  constructor(private readonly options: FakeHubOptions) {
    this.auth = options.auth ?? 'anonymous-token';
    this.memory = options.backend ? null : new MemoryContent();
    this.content = options.backend ? new BackendContent(options.backend) : (this.memory as MemoryContent);
    this.rateLimit = options.rateLimit === undefined ? { limit: 100, windowSeconds: 21600 } : options.rateLimit;
    this.rateLimitRemaining = this.rateLimit?.limit ?? 0;
    this.faults = new FakeHubFaults({ down: (mode) => this.goDown(mode), up: () => this.comeUp() });
    this.registryServer = this.createServer((req, res, entry) => this.handleRegistry(req, res, entry));
    this.cdnServer = options.cdn ? this.createServer((req, res, entry) => this.handleCdn(req, res, entry)) : null;
  }

  get url(): string {
    return `http://127.0.0.1:${this.ports.registry}`;
  }

  get cdnUrl(): string | null {
    return this.cdnServer ? `http://127.0.0.1:${this.ports.cdn}` : null;
  }

  get realm(): string {
    return this.options.realm ?? `${this.url}/token`;
  }

  async start(): Promise<void> {
    this.ports.registry = await listen(this.registryServer, 0);
    if (this.cdnServer) this.ports.cdn = await listen(this.cdnServer, 0);
  }

  addBlob(repository: string, bytes: Buffer | string): Digest {
    return this.store().addBlob(repository, Buffer.from(bytes));
  }

  addManifest(repository: string, tagOrDigest: string, bytes: Buffer | string, mediaType: string): Digest {
    return this.store().addManifest(repository, tagOrDigest, Buffer.from(bytes), mediaType);
  }

  addImage(repository: string, tag: string, options?: ImageOptions): FakeImage {
    const image = buildImage(options);
    this.storeImage(repository, image);
    this.addManifest(repository, tag, image.bytes, image.mediaType);
    return image;
  }

  addIndex(repository: string, tag: string, platforms: Platform[], options?: Omit<ImageOptions, 'platform'>): FakeIndex {
    const index = buildIndex(platforms, options);
    for (const image of index.images) this.storeImage(repository, image);
    this.addManifest(repository, tag, index.bytes, index.mediaType);
    return index;
  }

  removeTag(repository: string, tag: string): void {
    this.store().removeTag(repository, tag);
  }

  count(filter?: HubRequestFilter): number {
    if (!filter) return this.requests.length;
    if (typeof filter === 'function') return this.requests.filter(filter).length;
    const entries = Object.entries(filter) as Array<[keyof HubRequest, unknown]>;
    return this.requests.filter((r) => entries.every(([key, value]) => r[key] === value)).length;
  }

  reset(): void {
    this.requests.length = 0;
    this.faults.clear();
    this.rateLimitRemaining = this.rateLimit?.limit ?? 0;
  }

  async close(): Promise<void> {
    this.faults.clear();
    this.resetting = true;
    for (const socket of this.sockets) socket.destroy();
    await Promise.all([closeServer(this.registryServer), this.cdnServer ? closeServer(this.cdnServer) : undefined]);
  }

  // ---- servers ----

  private createServer(handler: (req: http.IncomingMessage, res: http.ServerResponse, entry: HubRequest) => Promise<void>): http.Server {
    const server = http.createServer((req, res) => {
      const entry = this.log(req, server === this.cdnServer);
      const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => http.ServerResponse;
      res.writeHead = ((status: number, ...rest: unknown[]) => {
        entry.status = status;
        return writeHead(status, ...rest);
      }) as typeof res.writeHead;
      this.applyFaults(req, res, entry)
        .then((handled) => (handled ? undefined : handler(req, res, entry)))
        .catch((error: unknown) => {
          if (!res.headersSent) sendError(res, 500, 'UNKNOWN', String(error));
          else res.destroy();
        });
    });
    server.on('connection', (socket: Socket) => {
      if (this.resetting) {
        socket.destroy();
        return;
      }
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    return server;
  }

  private log(req: http.IncomingMessage, cdn: boolean): HubRequest {
    const url = new URL(req.url ?? '/', 'http://fake-hub');
    const route = cdn ? { kind: 'cdn' as const } : classify(url.pathname);
    const entry: HubRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.search,
      kind: route.kind,
      status: 0,
      authorization: req.headers.authorization !== undefined,
      ...(req.headers.range ? { range: req.headers.range } : {}),
      ...(req.headers.accept ? { accept: req.headers.accept } : {}),
      ...(route.repository ? { repository: route.repository } : {}),
    };
    this.requests.push(entry);
    return entry;
  }

  /** Returns true when a fault answered (or swallowed) the request. */
  private async applyFaults(req: http.IncomingMessage, res: http.ServerResponse, entry: HubRequest): Promise<boolean> {
    const delay = this.faults.takeDelay(entry.kind);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    if (this.faults.takeStall(entry.kind)) return true; // never answered; the socket dies with the client or close()
    const fail = this.faults.takeFail(entry.kind);
    if (!fail) return false;
    const headers: Record<string, string> = fail.retryAfter !== undefined ? { 'retry-after': String(fail.retryAfter) } : {};
    const code = fail.status === 429 ? 'TOOMANYREQUESTS' : fail.status === 401 ? 'UNAUTHORIZED' : 'UNAVAILABLE';
    req.resume();
    sendError(res, fail.status, code, 'injected fault', headers);
    return true;
  }

  private async handleRegistry(req: http.IncomingMessage, res: http.ServerResponse, entry: HubRequest): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const route = classify(url.pathname);
    if (route.kind === 'token') return this.handleToken(req, res, url);
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'UNSUPPORTED', 'read-only fake hub');
    if (route.kind === 'other') {
      if (url.pathname !== '/v2/' && url.pathname !== '/v2') return sendError(res, 404, 'NOT_FOUND', 'no such endpoint');
      if (this.auth !== 'none' && !this.validToken(req)) return this.challenge(res, null, false);
      res.writeHead(200, { 'content-type': 'application/json', ...API_VERSION });
      res.end('{}');
      return;
    }
    const repository = route.repository as string;
    if (this.auth !== 'none') {
      const token = this.validToken(req);
      if (!token) return this.challenge(res, repository, req.headers.authorization !== undefined ? 'invalid_token' : false);
      if (!token.repositories.has(repository)) return this.challenge(res, repository, 'insufficient_scope');
    }
    if (route.kind === 'manifest') return this.serveManifest(req, res, repository, route.reference as string);
    if (route.kind === 'blob') return this.serveBlob(req, res, repository, route.reference as string);
    return this.serveTags(res, repository, url);
  }

  private async handleToken(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    if (this.auth === 'none') return sendError(res, 404, 'NOT_FOUND', 'no token service');
    const service = url.searchParams.get('service');
    if (service !== null && service !== SERVICE) return sendError(res, 400, 'UNSUPPORTED', 'unknown service');
    if (typeof this.auth === 'object') {
      const expected = `Basic ${Buffer.from(`${this.auth.username}:${this.auth.password}`).toString('base64')}`;
      if (req.headers.authorization !== expected) {
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': `Basic realm="${SERVICE}"` });
        res.end(JSON.stringify({ details: 'incorrect username or password' }));
        return;
      }
    }
    const repositories = new Set<string>();
    for (const scope of url.searchParams.getAll('scope')) {
      const match = /^repository:([^:]+):([a-z,*]+)$/.exec(scope);
      if (match?.[1] && match[2]?.split(',').includes('pull')) repositories.add(match[1]);
    }
    const token = `fh_${randomBytes(16).toString('hex')}`;
    const lifetime = this.options.tokenExpiresIn === undefined ? 300 : this.options.tokenExpiresIn;
    this.tokens.set(token, { repositories, expiresAt: Date.now() + (lifetime ?? 60) * 1000 });
    const body: Record<string, unknown> = { token, access_token: token, issued_at: new Date().toISOString() };
    if (lifetime !== null) body.expires_in = lifetime;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private async serveManifest(req: http.IncomingMessage, res: http.ServerResponse, repository: string, reference: string): Promise<void> {
    const found = await this.content.manifest(repository, reference);
    if (found === 'no-repo') return this.unknownRepository(res, repository);
    if (found === 'missing' || !accepts(req.headers.accept, found.mediaType)) {
      return sendError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown', this.rateLimitHeaders());
    }
    if (req.method === 'GET' && this.rateLimit) this.rateLimitRemaining = Math.max(0, this.rateLimitRemaining - 1);
    res.writeHead(200, {
      'content-type': found.mediaType,
      'content-length': String(found.bytes.length),
      'docker-content-digest': found.digest,
      etag: `"${found.digest}"`,
      ...API_VERSION,
      ...this.rateLimitHeaders(),
    });
    res.end(req.method === 'HEAD' ? undefined : found.bytes);
  }

  private async serveBlob(req: http.IncomingMessage, res: http.ServerResponse, repository: string, digest: string): Promise<void> {
    const found = await this.content.blob(repository, digest);
    if (found === 'no-repo') return this.unknownRepository(res, repository);
    if (found === 'missing') return sendError(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry');
    if (this.cdnServer && req.method === 'GET') {
      const signature = randomBytes(12).toString('hex');
      this.signatures.set(signature, { repository, digest });
      const location = `${this.cdnUrl}/blobs/${digest}?sig=${signature}&expires=${Date.now() + 600_000}`;
      res.writeHead(307, { location, 'content-type': 'text/html; charset=utf-8', ...API_VERSION });
      res.end(`<a href="${location}">Temporary Redirect</a>.\n`);
      return;
    }
    await serveBlobBytes(req, res, found, this.faults, API_VERSION);
  }

  private async serveTags(res: http.ServerResponse, repository: string, url: URL): Promise<void> {
    const all = await this.content.tags(repository);
    if (all === 'no-repo') return this.unknownRepository(res, repository);
    if (all === 'missing') return sendError(res, 404, 'NAME_UNKNOWN', 'repository name not known to registry');
    const last = url.searchParams.get('last');
    const nParam = url.searchParams.get('n');
    if (nParam !== null && !/^\d+$/.test(nParam)) return sendError(res, 400, 'PAGINATION_NUMBER_INVALID', 'invalid n');
    const after = last === null ? all : all.filter((t) => t > last);
    const n = nParam === null ? after.length : Number(nParam);
    const page = after.slice(0, n);
    const headers: Record<string, string> = { 'content-type': 'application/json', ...API_VERSION };
    if (page.length < after.length && page.length > 0) {
      const next = new URLSearchParams({ n: String(n), last: page[page.length - 1] as string });
      headers.link = `</v2/${repository}/tags/list?${next.toString()}>; rel="next"`;
    }
    res.writeHead(200, headers);
    res.end(JSON.stringify({ name: repository, tags: page }));
  }

  private async handleCdn(req: http.IncomingMessage, res: http.ServerResponse, _entry: HubRequest): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://cdn');
    if (req.headers.authorization !== undefined) {
      // Like S3/CloudFront with a signed URL: a second authentication mechanism is an error.
      res.writeHead(400, { 'content-type': 'application/xml' });
      res.end('<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>');
      return;
    }
    const match = /^\/blobs\/([^/]+)$/.exec(url.pathname);
    const signed = this.signatures.get(url.searchParams.get('sig') ?? '');
    if (!match || !signed || signed.digest !== match[1]) {
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end('<Error><Code>AccessDenied</Code></Error>');
      return;
    }
    const found = await this.content.blob(signed.repository, signed.digest);
    if (typeof found === 'string') {
      res.writeHead(404, { 'content-type': 'application/xml' });
      res.end('<Error><Code>NoSuchKey</Code></Error>');
      return;
    }
    await serveBlobBytes(req, res, found, this.faults);
  }

  // ---- auth helpers ----

  private validToken(req: http.IncomingMessage): IssuedToken | null {
    const header = req.headers.authorization;
    if (!header?.startsWith('Bearer ')) return null;
    const token = this.tokens.get(header.slice('Bearer '.length));
    return token && token.expiresAt > Date.now() ? token : null;
  }

  private challenge(res: http.ServerResponse, repository: string | null, error: string | false): void {
    let value = `Bearer realm="${this.realm}",service="${SERVICE}"`;
    if (repository) value += `,scope="repository:${repository}:pull"`;
    if (error) value += `,error="${error}"`;
    sendError(res, 401, 'UNAUTHORIZED', 'authentication required', { 'www-authenticate': value });
  }

  /** Docker Hub answers 401 (not 404) for repositories that do not exist, even with a valid token. */
  private unknownRepository(res: http.ServerResponse, repository: string): void {
    if (this.auth === 'none') return sendError(res, 404, 'NAME_UNKNOWN', 'repository name not known to registry');
    this.challenge(res, repository, 'insufficient_scope');
  }

  private rateLimitHeaders(): Record<string, string> {
    if (!this.rateLimit) return {};
    const window = `;w=${this.rateLimit.windowSeconds}`;
    return { 'ratelimit-limit': `${this.rateLimit.limit}${window}`, 'ratelimit-remaining': `${this.rateLimitRemaining}${window}` };
  }

  // ---- down / up ----

  private async goDown(mode: 'reset' | 'refuse'): Promise<void> {
    this.resetting = true;
    for (const socket of this.sockets) socket.destroy();
    if (mode === 'refuse') {
      await Promise.all([closeServer(this.registryServer), this.cdnServer ? closeServer(this.cdnServer) : undefined]);
      this.resetting = false;
    }
  }

  private async comeUp(): Promise<void> {
    this.resetting = false;
    if (!this.registryServer.listening) await listen(this.registryServer, this.ports.registry);
    if (this.cdnServer && !this.cdnServer.listening) await listen(this.cdnServer, this.ports.cdn);
  }

  private store(): MemoryContent {
    if (!this.memory) throw new Error('fake hub in backend mode: content comes from the backend registry');
    return this.memory;
  }

  private storeImage(repository: string, image: FakeImage): void {
    this.addBlob(repository, image.config.bytes);
    for (const layer of image.layers) this.addBlob(repository, layer.bytes);
  }
}

function classify(pathname: string): Route {
  if (pathname === '/token') return { kind: 'token' };
  let match = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(pathname);
  if (match) return { kind: 'manifest', repository: match[1], reference: match[2] };
  match = /^\/v2\/(.+)\/blobs\/(?!uploads\/)([^/]+)$/.exec(pathname);
  if (match) return { kind: 'blob', repository: match[1], reference: match[2] };
  match = /^\/v2\/(.+)\/tags\/list$/.exec(pathname);
  if (match) return { kind: 'tags', repository: match[1] };
  return { kind: 'other' };
}

/** Whether an `Accept` header admits `mediaType` (no header: anything goes). */
function accepts(header: string | undefined, mediaType: string): boolean {
  if (!header) return true;
  const types = header.split(',').map((part) => part.split(';')[0]?.trim().toLowerCase());
  return types.some((t) => t === mediaType || t === '*/*' || t === `${mediaType.split('/')[0]}/*`);
}

function sendError(res: http.ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ errors: [{ code, message, detail: null }] });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...API_VERSION, ...headers });
  res.end(body);
}

function listen(server: http.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}
