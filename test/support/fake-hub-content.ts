import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import { digestOf, isDigest, type Digest } from '../../src/oci/digest.js';
import { UPSTREAM_MANIFEST_ACCEPT } from '../../src/oci/media-types.js';

/**
 * Where the fake hub's images come from: an in-memory store (`MemoryContent`) or a real registry it
 * proxies (`BackendContent`, e.g. the Debian `docker-registry` on loopback, speaking plain v2 without
 * auth). The hub's HTTP layer (auth, faults, CDN) is the same for both.
 */
export interface StoredManifest {
  digest: Digest;
  bytes: Buffer;
  mediaType: string;
}

export interface BlobHandle {
  digest: Digest;
  size: number;
  /** Bytes `start`..`end` inclusive. */
  read(start: number, end: number): Promise<Readable>;
}

/** `no-repo`: the repository does not exist (Docker Hub then answers 401 when auth is on). */
export type Lookup<T> = T | 'no-repo' | 'missing';

export interface HubContent {
  manifest(repository: string, reference: string): Promise<Lookup<StoredManifest>>;
  blob(repository: string, digest: string): Promise<Lookup<BlobHandle>>;
  /** All tags, sorted; the hub paginates. */
  tags(repository: string): Promise<Lookup<string[]>>;
  /** Descriptors of the manifests whose subject is `digest`, by digest; 'missing' when there is no referrers API. */
  referrers(repository: string, digest: string): Promise<Lookup<ReferrerDescriptor[]>>;
}

export interface ReferrerDescriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

interface MemoryRepository {
  manifests: Map<Digest, StoredManifest>;
  tags: Map<string, Digest>;
  blobs: Set<Digest>;
}

export class MemoryContent implements HubContent {
  private readonly repositories = new Map<string, MemoryRepository>();
  private readonly blobs = new Map<Digest, Buffer>();

  addBlob(repository: string, bytes: Buffer): Digest {
    const digest = digestOf(bytes);
    this.blobs.set(digest, bytes);
    this.repository(repository).blobs.add(digest);
    return digest;
  }

  addManifest(repository: string, tagOrDigest: string, bytes: Buffer, mediaType: string): Digest {
    const digest = digestOf(bytes);
    const repo = this.repository(repository);
    repo.manifests.set(digest, { digest, bytes, mediaType });
    if (!isDigest(tagOrDigest)) repo.tags.set(tagOrDigest, digest);
    else if (tagOrDigest !== digest) throw new Error(`manifest digest is ${digest}, not ${tagOrDigest}`);
    return digest;
  }

  removeTag(repository: string, tag: string): void {
    this.repositories.get(repository)?.tags.delete(tag);
  }

  async manifest(repository: string, reference: string): Promise<Lookup<StoredManifest>> {
    const repo = this.repositories.get(repository);
    if (!repo) return 'no-repo';
    const digest = isDigest(reference) ? reference : repo.tags.get(reference);
    return (digest && repo.manifests.get(digest)) || 'missing';
  }

  async blob(repository: string, digest: string): Promise<Lookup<BlobHandle>> {
    const repo = this.repositories.get(repository);
    if (!repo) return 'no-repo';
    const bytes = isDigest(digest) && repo.blobs.has(digest) ? this.blobs.get(digest) : undefined;
    if (!bytes) return 'missing';
    return { digest: digest as Digest, size: bytes.length, read: async (start, end) => Readable.from(slices(bytes, start, end + 1)) };
  }

  async tags(repository: string): Promise<Lookup<string[]>> {
    const repo = this.repositories.get(repository);
    return repo ? [...repo.tags.keys()].sort() : 'no-repo';
  }

  async referrers(repository: string, digest: string): Promise<Lookup<ReferrerDescriptor[]>> {
    const repo = this.repositories.get(repository);
    if (!repo) return 'no-repo';
    const found: ReferrerDescriptor[] = [];
    for (const manifest of repo.manifests.values()) {
      const json = JSON.parse(manifest.bytes.toString('utf8')) as {
        subject?: { digest?: string };
        artifactType?: string;
        config?: { mediaType?: string };
        annotations?: Record<string, string>;
      };
      if (json.subject?.digest !== digest) continue;
      const artifactType = json.artifactType ?? json.config?.mediaType;
      found.push({
        mediaType: manifest.mediaType,
        digest: manifest.digest,
        size: manifest.bytes.length,
        ...(artifactType ? { artifactType } : {}),
        ...(json.annotations ? { annotations: json.annotations } : {}),
      });
    }
    return found.sort((a, b) => (a.digest < b.digest ? -1 : 1));
  }

  private repository(name: string): MemoryRepository {
    let repo = this.repositories.get(name);
    if (!repo) {
      repo = { manifests: new Map(), tags: new Map(), blobs: new Set() };
      this.repositories.set(name, repo);
    }
    return repo;
  }
}

/** Proxies a plain (no auth) v2 registry at `baseUrl`. */
export class BackendContent implements HubContent {
  constructor(private readonly baseUrl: string) {}

  async manifest(repository: string, reference: string): Promise<Lookup<StoredManifest>> {
    const response = await this.send('GET', `/v2/${repository}/manifests/${reference}`, { accept: UPSTREAM_MANIFEST_ACCEPT });
    const bytes = await readAll(response);
    if (response.statusCode !== 200) return notFound(response.statusCode ?? 0, bytes);
    const header = response.headers['docker-content-digest'];
    const digest = typeof header === 'string' && isDigest(header) ? header : digestOf(bytes);
    const mediaType = (response.headers['content-type'] ?? 'application/octet-stream').split(';')[0]!.trim();
    return { digest, bytes, mediaType };
  }

  async blob(repository: string, digest: string): Promise<Lookup<BlobHandle>> {
    const path = `/v2/${repository}/blobs/${digest}`;
    const head = await this.send('HEAD', path, {});
    head.resume();
    if (head.statusCode !== 200) return head.statusCode === 404 ? 'missing' : Promise.reject(new Error(`backend HEAD blob: ${head.statusCode}`));
    const size = Number(head.headers['content-length']);
    return {
      digest: digest as Digest,
      size,
      read: async (start, end) => {
        const response = await this.send('GET', path, { range: `bytes=${start}-${end}` });
        if (response.statusCode === 206 || (response.statusCode === 200 && start === 0)) return response;
        response.resume();
        throw new Error(`backend GET blob with Range answered ${response.statusCode}`);
      },
    };
  }

  async tags(repository: string): Promise<Lookup<string[]>> {
    const response = await this.send('GET', `/v2/${repository}/tags/list`, { accept: 'application/json' });
    const bytes = await readAll(response);
    if (response.statusCode !== 200) return notFound(response.statusCode ?? 0, bytes);
    const tags = (JSON.parse(bytes.toString('utf8')) as { tags?: string[] | null }).tags ?? [];
    return [...tags].sort();
  }

  /** A backend (distribution 2.8) has no referrers API; neither has the hub in front of it. */
  async referrers(): Promise<Lookup<ReferrerDescriptor[]>> {
    return 'missing';
  }

  private send(method: string, path: string, headers: Record<string, string>): Promise<http.IncomingMessage> {
    const url = new URL(path, this.baseUrl);
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const request = transport.request(url, { method, headers }, resolve);
      request.on('error', reject);
      request.end();
    });
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Tells a missing repository from a missing manifest by the backend's error code. */
function notFound(status: number, body: Buffer): Lookup<never> {
  if (status !== 404) throw new Error(`backend answered ${status}`);
  return body.toString('utf8').includes('NAME_UNKNOWN') ? 'no-repo' : 'missing';
}

/**
 * `bytes[start, end)` as a registry's body arrives: in 256 KiB pieces (views, not copies), so pacing
 * and per-write byte counts see a stream, not one multi-hundred-MB write.
 */
function* slices(bytes: Buffer, start: number, end: number): Generator<Buffer> {
  for (let at = start; at < end; at += 256 * 1024) yield bytes.subarray(at, Math.min(end, at + 256 * 1024));
}
