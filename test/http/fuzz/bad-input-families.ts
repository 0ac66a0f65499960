/**
 * Families of malformed requests for the seeded bad-input test: names, references, headers,
 * methods and manifests, each derived from a valid request by random mutations. Everything comes
 * from one seeded generator, so a seed reproduces the exact run. Requests are raw bytes: many of
 * them are nothing an HTTP client library would send.
 */
import { createHash } from 'node:crypto';

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  bytes(length: number): Buffer {
    return Buffer.from(Array.from({ length }, () => this.int(256)));
  }

  text(alphabet: string, length: number): string {
    return Array.from({ length }, () => alphabet[this.int(alphabet.length)]).join('');
  }
}

export interface FuzzRequest {
  family: string;
  method: string;
  /** The request target exactly as sent. */
  path: string;
  headers?: Array<[string, string]>;
  body?: Buffer;
  /** Sent instead of the request built from the fields (framing of its own). */
  raw?: Buffer;
}

/** The request's bytes: request line, Host, the headers, Content-Length when there is a body. */
export function encode(request: FuzzRequest): Buffer {
  if (request.raw) return request.raw;
  const headers = request.headers ?? [];
  const framed = headers.some(([name]) => /^(content-length|transfer-encoding)$/i.test(name));
  const lines = [`${request.method} ${request.path} HTTP/1.1`, 'Host: registry.test', ...headers.map(([k, v]) => `${k}: ${v}`)];
  if (request.body && !framed) lines.push(`Content-Length: ${request.body.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), request.body ?? Buffer.alloc(0)]);
}

export const sha256 = (bytes: Buffer | string): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** What the families build on: repositories and content that exist. */
export interface FuzzTargets {
  hosted: string;
  proxied: string;
  /** A blob pushed to `hosted`. */
  blob: string;
  /** A valid image manifest of `hosted`'s blobs (as a JSON value, to mutate). */
  manifest: Record<string, unknown>;
  /** A valid digest of a blob no repository has: for families whose requests may be valid deletes. */
  absent: string;
}

const NAME_PIECES = ['A', 'Z', '.', '..', '_', '__', '-', '/', '//', '%2e', '%2E%2E', '%2f', '%00', '%20', '%ff', '%C3%A9', '~', '!', '*', '\\', '%5c', ':', '@', '?x=', '#', ';', "'", '"', '<', '>'];
const ENDPOINTS = (t: FuzzTargets, blob = t.blob): string[] => ['manifests/latest', `blobs/${blob}`, 'tags/list', `referrers/${blob}`, 'blobs/uploads/'];
const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'];

function mutateName(r: Random, name: string): string {
  let out = name;
  for (let i = 0, n = 1 + r.int(3); i < n; i++) {
    const at = r.int(out.length + 1);
    switch (r.int(4)) {
      case 0:
        out = out.slice(0, at) + r.pick(NAME_PIECES) + out.slice(at);
        break;
      case 1:
        out = out.slice(0, at) + out.slice(at + 1 + r.int(4));
        break;
      case 2:
        out = out.slice(0, at) + r.pick(NAME_PIECES).repeat(1 + r.int(300)) + out.slice(at);
        break;
      default:
        out = out.toUpperCase();
    }
  }
  return out;
}

/** Repository names: valid ones bent out of shape, on every endpoint, hosted and proxied. */
export function nameRequests(r: Random, t: FuzzTargets, count: number): FuzzRequest[] {
  return Array.from({ length: count }, () => {
    const method = r.pick(METHODS);
    return {
      family: 'names',
      method,
      // The absent blob: a mutation may turn back into the valid name, and then a DELETE would delete.
      path: `/v2/${mutateName(r, r.pick([t.hosted, t.proxied]))}/${r.pick(ENDPOINTS(t, t.absent))}`,
      ...(method === 'PUT' || method === 'PATCH' || method === 'POST' ? { body: r.bytes(r.int(64)) } : {}),
    };
  });
}

const TAG_ALPHABET = 'abcXYZ019._-:/%@#?+~ ';

function badReference(r: Random): string {
  switch (r.int(8)) {
    case 0:
      return r.text(TAG_ALPHABET, r.int(200));
    case 1:
      return `sha256:${r.text('0123456789abcdefABCDEFg', r.int(130))}`;
    case 2:
      return `sha512:${r.text('0123456789abcdef', 64)}`;
    case 3:
      return `${r.pick(['md5', 'sha1', 'SHA256', 'sha256+b64', ''])}:${r.text('0123456789abcdef', 64)}`;
    case 4:
      return `${r.pick(['..', '%2e%2e', '..%2f..%2f', '%00', '.', '-', '_'])}${r.text('abc', r.int(5))}`;
    case 5:
      return 't'.repeat(120 + r.int(20));
    case 6:
      return encodeURIComponent(r.bytes(1 + r.int(8)).toString('latin1'));
    default:
      return `sha256:${'a'.repeat(64)}${r.pick(['%00', '/..', '/x', '%2f', ':'])}`;
  }
}

/** Tags and digests that are not, on manifests, blobs and referrers. */
export function referenceRequests(r: Random, t: FuzzTargets, count: number): FuzzRequest[] {
  return Array.from({ length: count }, () => {
    const repo = r.pick([t.hosted, t.proxied]);
    const endpoint = r.pick(['manifests', 'blobs', 'referrers']);
    const method = endpoint === 'referrers' ? 'GET' : r.pick(endpoint === 'manifests' ? ['GET', 'HEAD', 'PUT', 'DELETE'] : ['GET', 'HEAD', 'DELETE']);
    const body = method === 'PUT' ? Buffer.from(JSON.stringify(t.manifest)) : undefined;
    return {
      family: 'references',
      method,
      path: `/v2/${repo}/${endpoint}/${badReference(r)}`,
      ...(body ? { body, headers: [['Content-Type', 'application/vnd.oci.image.manifest.v1+json']] as Array<[string, string]> } : {}),
    };
  });
}

function garbageValue(r: Random): string {
  return r.pick([
    () => r.text('abc=;,-0123456789 ', r.int(80)),
    () => `bytes=${r.int(1e6)}-${r.int(1e6)}`,
    () => `bytes=-${r.int(10)}`,
    () => 'bytes=0-1,5-6',
    () => `bytes=${'9'.repeat(25)}-`,
    () => `items=0-${r.int(9)}`,
    () => `${r.int(1000)}-${r.int(1000)}`,
    () => r.bytes(r.int(40)).toString('latin1').replace(/[\r\n\0]/g, 'x'),
    () => '',
    () => 'x'.repeat(4000 + r.int(20_000)),
  ])();
}

/** Header values no client should send, on requests that are otherwise fine. */
export function headerRequests(r: Random, t: FuzzTargets, count: number): FuzzRequest[] {
  return Array.from({ length: count }, () => {
    const repo = r.pick([t.hosted, t.proxied]);
    const header = r.pick(['Range', 'Content-Range', 'Accept', 'If-None-Match', 'Content-Type', 'X-Request-Id', 'Authorization', 'Content-Length', 'Transfer-Encoding', 'Expect', 'Host', 'X-Bad Name', 'Connection']);
    const target = r.pick([
      { method: 'GET', path: `/v2/${repo}/blobs/${t.blob}` },
      { method: 'GET', path: `/v2/${repo}/manifests/latest` },
      { method: 'HEAD', path: `/v2/${repo}/manifests/latest` },
      { method: 'PUT', path: `/v2/${t.hosted}/manifests/fuzz-header`, body: Buffer.from(JSON.stringify(t.manifest)) },
      { method: 'POST', path: `/v2/${t.hosted}/blobs/uploads/`, body: r.bytes(r.int(32)) },
      { method: 'GET', path: `/v2/${repo}/tags/list?n=${encodeURIComponent(garbageValue(r).slice(0, 20))}` },
    ]);
    let value = garbageValue(r);
    // Framing headers that promise more body than is sent would only make the server wait for it.
    if (header === 'Content-Length') value = String(target.body ? r.int(target.body.length + 1) : 0);
    if (header === 'Transfer-Encoding') value = r.pick(['chunked', 'gzip', 'chunked, chunked', 'identity', 'x']);
    // Chunk sizes that fit, are no number, or overflow 64 bits — never one that promises bytes that
    // do not follow, which a server must rightly wait for.
    const body = header === 'Transfer-Encoding' && value.includes('chunked') ? Buffer.from(`${r.pick(['5', 'zz', '-1', 'f'.repeat(20)])}\r\nhello\r\n0\r\n\r\n`) : target.body;
    return { family: 'headers', method: target.method, path: target.path, headers: [[header, value]], ...(body ? { body } : {}) };
  });
}

const ODD_METHODS = ['get', 'Get', 'FOO', 'BREW', 'OPTIONS', 'TRACE', 'PROPFIND', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'SEARCH', 'PURGE', 'LINK', 'CONNECT', 'QUERY', 'M-SEARCH', 'PRI', 'X', 'GET\tX', ''];

/** Methods endpoints do not take, and methods nobody knows. */
export function methodRequests(r: Random, t: FuzzTargets, count: number): FuzzRequest[] {
  return Array.from({ length: count }, () => {
    const method = r.pick([...ODD_METHODS, ...METHODS]);
    // The absent blob: with the valid names used here, a DELETE would really delete.
    const path = r.pick(['/v2/', '/v2/_catalog', `/v2/${r.pick([t.hosted, t.proxied])}/${r.pick(ENDPOINTS(t, t.absent))}`, '/v2/tags/list', '/nothing', '*']);
    return { family: 'methods', method, path: method === 'CONNECT' ? 'registry.test:443' : path };
  });
}

function randomJson(r: Random, depth = 0): unknown {
  switch (r.int(depth > 3 ? 6 : 9)) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
      return r.pick([0, -1, 1.5, 2 ** 53 + 2, -0, 1e308]);
    case 3:
      return r.text('abc:/@', r.int(30));
    case 4:
      return '';
    case 5:
      return 'x'.repeat(r.int(2000));
    case 6:
      return Array.from({ length: r.int(4) }, () => randomJson(r, depth + 1));
    case 7:
      return Object.fromEntries(Array.from({ length: r.int(4) }, (_, i) => [`k${i}`, randomJson(r, depth + 1)]));
    default:
      return { mediaType: randomJson(r, depth + 1), digest: randomJson(r, depth + 1), size: randomJson(r, depth + 1) };
  }
}

/** Sets `value` at a random path of `target` (a deep copy is the caller's). */
function plant(r: Random, target: Record<string, unknown>, value: unknown): void {
  let node: any = target;
  for (let i = 0; i < 4; i++) {
    const keys: Array<string | number> = Array.isArray(node) ? node.map((_: unknown, j: number) => j) : Object.keys(node);
    if (keys.length === 0 || r.chance(0.3)) break;
    const key = r.pick(keys);
    if (node[key] === null || typeof node[key] !== 'object' || r.chance(0.3)) {
      node[key] = value;
      return;
    }
    node = node[key];
  }
  const extra = r.pick(['annotations', 'subject', 'artifactType', 'urls', 'platform', 'mediaType', 'schemaVersion', 'config', 'layers', 'manifests']);
  node[extra] = value;
}

const nested = (depth: number): string => `${'{"a":'.repeat(depth)}"x"${'}'.repeat(depth)}`;

/** Manifests with fields of the wrong type, missing, nested too deep, truncated or not JSON. */
export function manifestRequests(r: Random, t: FuzzTargets, count: number): FuzzRequest[] {
  const valid = JSON.stringify(t.manifest);
  return Array.from({ length: count }, () => {
    let body: Buffer;
    switch (r.int(6)) {
      case 0:
        body = Buffer.from(valid.slice(0, r.int(valid.length)));
        break;
      case 1:
        body = r.bytes(r.int(300));
        break;
      case 2:
        body = Buffer.from(valid.replace('"layers"', `"annotations":{"deep":${nested(60 + r.int(10_000))}},"layers"`));
        break;
      case 3: {
        const copy = JSON.parse(valid) as Record<string, unknown>;
        delete copy[r.pick(['schemaVersion', 'config', 'layers', 'mediaType'])];
        body = Buffer.from(JSON.stringify(copy));
        break;
      }
      default: {
        const copy = JSON.parse(valid) as Record<string, unknown>;
        for (let i = 0, n = 1 + r.int(3); i < n; i++) plant(r, copy, randomJson(r));
        body = Buffer.from(JSON.stringify(copy));
      }
    }
    const reference = r.chance(0.3) ? sha256(body) : `fuzz-${r.int(50)}`;
    const contentType = r.pick(['application/vnd.oci.image.manifest.v1+json', 'application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.v2+json', 'application/json', 'text/plain', 'application/vnd.docker.distribution.manifest.v1+prettyjws']);
    return { family: 'manifests', method: 'PUT', path: `/v2/${r.chance(0.9) ? t.hosted : t.proxied}/manifests/${reference}`, headers: [['Content-Type', contentType]], body };
  });
}
