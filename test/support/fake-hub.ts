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
 * - `redirectManifestsTo`: authorized manifest requests get `307` to another registry.
 * - `tags/list` with `n` / `last` and a `Link: <…>; rel="next"` header while more tags remain.
 * - The referrers API (`/v2/<name>/referrers/<digest>`, unfiltered, paged by `referrersPageSize`);
 *   with `backend` there is none (404, like distribution 2.8).
 * - `backend`: serve manifests, blobs and tags from a real v2 registry (no auth) instead of memory;
 *   the hub's auth, CDN and faults still apply. The `add*` methods are unavailable then.
 *
 * Every request is logged in `hub.requests` when it arrives (`status` is 0 until a response head is
 * sent, and stays 0 for stalled or reset requests). Faults: see fake-hub-faults.ts.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Digest } from '../../src/oci/digest.js';
import { FakeHubAuthority, type FakeHubAuth } from './fake-hub-auth.js';
import { FakeCdn } from './fake-hub-cdn.js';
import { BackendContent, MemoryContent, type HubContent } from './fake-hub-content.js';
import { FakeHubFaults, type HubRequestKind } from './fake-hub-faults.js';
import { buildImage, buildIndex, type FakeImage, type FakeIndex, type ImageOptions, type Platform } from './fake-hub-images.js';
import { classify, FakeRegistryApi } from './fake-hub-registry-api.js';
import { sendRegistryError } from './fake-hub-responses.js';

export type { FakeBlob, FakeImage, FakeIndex, ImageOptions, Platform } from './fake-hub-images.js';
export type { FailRule, FaultTarget, HubRequestKind } from './fake-hub-faults.js';
export type { FakeHubAuth } from './fake-hub-auth.js';
export { FakeHubFaults } from './fake-hub-faults.js';

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
  /** Loopback address to listen on (default 127.0.0.1; 127.0.0.2 makes a "different host"). */
  host?: string;
  /**
   * Answer authorized manifest requests with `307` to the same path under this base URL, like
   * registry.k8s.io sending clients to a regional backend.
   */
  redirectManifestsTo?: string;
  /** Referrers per page of the referrers API (`Link: rel="next"` while more remain); all at once by default. */
  referrersPageSize?: number;
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
  /** Body bytes the response handed to its socket so far (what the upstream paid for, read or not). */
  bodyBytes: number;
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

export async function startFakeHub(options: FakeHubOptions = {}): Promise<FakeHub> {
  const hub = new FakeHubServer(options);
  await hub.start();
  return hub;
}

class FakeHubServer implements FakeHub {
  readonly requests: HubRequest[] = [];
  readonly faults: FakeHubFaults;
  private readonly auth: FakeHubAuthority;
  private readonly content: HubContent;
  private readonly memory: MemoryContent | null;
  private readonly registryServer: http.Server;
  private readonly cdnServer: http.Server | null;
  private readonly sockets = new Set<Socket>();
  private readonly api: FakeRegistryApi;
  private resetting = false;
  private ports = { registry: 0, cdn: 0 };

  constructor(private readonly options: FakeHubOptions) {
    const lifetime = options.tokenExpiresIn === undefined ? 300 : options.tokenExpiresIn;
    this.auth = new FakeHubAuthority(options.auth ?? 'anonymous-token', () => this.realm, lifetime);
    this.memory = options.backend ? null : new MemoryContent();
    this.content = options.backend ? new BackendContent(options.backend) : (this.memory as MemoryContent);
    this.faults = new FakeHubFaults({ down: (mode) => this.goDown(mode), up: () => this.comeUp() });
    const cdn = options.cdn ? new FakeCdn(() => this.cdnUrl as string, this.content, this.faults) : null;
    this.api = new FakeRegistryApi({
      auth: this.auth,
      content: this.content,
      faults: this.faults,
      cdn,
      rateLimit: options.rateLimit === undefined ? { limit: 100, windowSeconds: 21600 } : options.rateLimit,
      redirectManifestsTo: options.redirectManifestsTo,
      referrersPageSize: options.referrersPageSize,
    });
    this.registryServer = this.createServer((req, res) => this.api.handle(req, res, new URL(req.url ?? '/', this.url)));
    this.cdnServer = cdn ? this.createServer((req, res) => cdn.handle(req, res)) : null;
  }

  get url(): string {
    return `http://${this.host}:${this.ports.registry}`;
  }

  get cdnUrl(): string | null {
    return this.cdnServer ? `http://${this.host}:${this.ports.cdn}` : null;
  }

  private get host(): string {
    return this.options.host ?? '127.0.0.1';
  }

  get realm(): string {
    return this.options.realm ?? `${this.url}/token`;
  }

  async start(): Promise<void> {
    this.ports.registry = await listen(this.registryServer, this.host, 0);
    if (this.cdnServer) this.ports.cdn = await listen(this.cdnServer, this.host, 0);
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
    for (const image of index.images) {
      this.storeImage(repository, image);
      this.addManifest(repository, image.digest, image.bytes, image.mediaType);
    }
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
    this.api.resetRateLimit();
  }

  async close(): Promise<void> {
    this.faults.clear();
    this.resetting = true;
    for (const socket of this.sockets) socket.destroy();
    await Promise.all([closeServer(this.registryServer), this.cdnServer ? closeServer(this.cdnServer) : undefined]);
  }

  // ---- servers ----

  private createServer(handler: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>): http.Server {
    const server = http.createServer((req, res) => {
      const entry = this.log(req, server === this.cdnServer);
      const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => http.ServerResponse;
      res.writeHead = ((status: number, ...rest: unknown[]) => {
        entry.status = status;
        return writeHead(status, ...rest);
      }) as typeof res.writeHead;
      // Counted when a write completes: bytes that reached the socket, not ones offered to a dead one.
      const counted = (chunk: unknown, rest: unknown[]): unknown[] => {
        if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) return rest;
        const bytes = Buffer.byteLength(chunk);
        const at = rest.findIndex((arg) => typeof arg === 'function');
        const callback = at >= 0 ? (rest[at] as (error?: Error | null) => void) : undefined;
        const done = (error?: Error | null): void => {
          if (!error) entry.bodyBytes += bytes;
          callback?.(error);
        };
        return at >= 0 ? rest.map((arg, i) => (i === at ? done : arg)) : [...rest, done];
      };
      const write = res.write.bind(res) as (...args: unknown[]) => boolean;
      res.write = ((chunk: unknown, ...rest: unknown[]) => write(chunk, ...counted(chunk, rest))) as typeof res.write;
      const end = res.end.bind(res) as (...args: unknown[]) => http.ServerResponse;
      res.end = ((chunk?: unknown, ...rest: unknown[]) =>
        typeof chunk === 'function' || chunk === undefined ? end(chunk, ...rest) : end(chunk, ...counted(chunk, rest))) as typeof res.end;
      this.applyFaults(req, res, entry)
        .then((handled) => (handled ? undefined : handler(req, res)))
        .catch((error: unknown) => {
          if (!res.headersSent) sendRegistryError(res, 500, 'UNKNOWN', String(error));
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
      bodyBytes: 0,
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
    sendRegistryError(res, fail.status, code, 'injected fault', headers);
    return true;
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
    if (!this.registryServer.listening) await listen(this.registryServer, this.host, this.ports.registry);
    if (this.cdnServer && !this.cdnServer.listening) await listen(this.cdnServer, this.host, this.ports.cdn);
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

function listen(server: http.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
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
