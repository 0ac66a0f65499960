import { createHash } from 'node:crypto';
import { Agent, fetch, type RequestInit, type Response } from 'undici';
import { expect } from 'vitest';

export type { Response };

/**
 * A thin OCI distribution client over fetch, for black-box tests against a running Stowage. It
 * checks nothing itself except where a helper's name says so (`pushBlob` expects 201): tests assert
 * the responses.
 */

export const MT = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

import { sha256, sha512 } from '../support/digests.js';

export { sha256, sha512 };

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

export const descriptorOf = (mediaType: string, bytes: Buffer, digest = sha256(bytes)): Descriptor => ({ mediaType, digest, size: bytes.length });

/** Deterministic pseudo-random bytes, distinct per seed. */
export function bytesOf(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(seed).digest();
  for (let offset = 0; offset < size; offset += block.length) {
    block.copy(out, offset);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

export const jsonBytes = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

/** An OCI error envelope with one error of `code`, at `status`. Returns the first error. */
export async function expectOciError(res: Response, status: number, code: string): Promise<{ code: string; message: string; detail: unknown }> {
  const text = await res.text();
  expect({ status: res.status, body: text }).toMatchObject({ status });
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = JSON.parse(text) as { errors: Array<{ code: string; message: string; detail: unknown }> };
  expect(Array.isArray(body.errors)).toBe(true);
  expect(body.errors[0]).toMatchObject({ code, message: expect.any(String) });
  expect(body.errors[0]).toHaveProperty('detail');
  return body.errors[0]!;
}

/**
 * Requests go through the client's own undici Agent so that `close()` can drop its keep-alive
 * connections: the server's close only ends connections idle at that instant, and a connection
 * whose response is still finishing would otherwise hold it open for the keep-alive timeout.
 */
export class RegistryClient {
  private readonly agent = new Agent();

  constructor(readonly base: string) {}

  url(path: string): string {
    return path.startsWith('http') ? path : `${this.base}${path}`;
  }

  fetch(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(this.url(path), { ...init, dispatcher: this.agent });
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  /** Monolithic upload (`POST ?digest=`); expects 201. */
  async pushBlob(repo: string, bytes: Buffer, digest = sha256(bytes)): Promise<string> {
    const res = await this.fetch(`/v2/${repo}/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: bytes,
    });
    expect(res.status, await res.clone().text()).toBe(201);
    await res.arrayBuffer();
    return digest;
  }

  async startUpload(repo: string): Promise<string> {
    const res = await this.fetch(`/v2/${repo}/blobs/uploads/`, { method: 'POST' });
    expect(res.status).toBe(202);
    await res.arrayBuffer();
    return res.headers.get('location')!;
  }

  putManifest(repo: string, reference: string, bytes: Buffer, mediaType: string): Promise<Response> {
    return this.fetch(`/v2/${repo}/manifests/${reference}`, { method: 'PUT', headers: { 'Content-Type': mediaType }, body: bytes });
  }

  /** Pushes a config and `layers` layers, then an image manifest under `reference`; expects 201. */
  async pushImage(repo: string, reference: string, options: ImageOptions = {}): Promise<PushedImage> {
    const image = buildImage(options);
    for (const blob of [image.config, ...image.layers]) await this.pushBlob(repo, blob);
    const res = await this.putManifest(repo, reference, image.manifest, image.mediaType);
    expect(res.status, await res.clone().text()).toBe(201);
    await res.arrayBuffer();
    return image;
  }
}

export interface ImageOptions {
  seed?: string;
  layers?: number;
  docker?: boolean;
  artifactType?: string;
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface PushedImage {
  config: Buffer;
  layers: Buffer[];
  manifest: Buffer;
  mediaType: string;
  digest: string;
  descriptor: Descriptor;
}

export function buildImage({ seed = 'image', layers = 1, docker = false, artifactType, subject, annotations }: ImageOptions = {}): PushedImage {
  const config = jsonBytes({ architecture: 'amd64', os: 'linux', seed, rootfs: { type: 'layers', diff_ids: [] } });
  const layerBytes = Array.from({ length: layers }, (_, i) => bytesOf(`${seed}/layer/${i}`, 1024 + i));
  const mediaType = docker ? MT.dockerManifest : MT.ociManifest;
  const manifest = jsonBytes({
    schemaVersion: 2,
    mediaType,
    ...(artifactType ? { artifactType } : {}),
    config: descriptorOf(docker ? MT.dockerConfig : MT.ociConfig, config),
    layers: layerBytes.map((l) => descriptorOf(docker ? MT.dockerLayer : MT.ociLayer, l)),
    ...(subject ? { subject } : {}),
    ...(annotations ? { annotations } : {}),
  });
  const digest = sha256(manifest);
  return { config, layers: layerBytes, manifest, mediaType, digest, descriptor: { mediaType, digest, size: manifest.length } };
}

export function buildIndex(children: Descriptor[], options: { docker?: boolean; artifactType?: string } = {}): { bytes: Buffer; digest: string; mediaType: string } {
  const mediaType = options.docker ? MT.dockerList : MT.ociIndex;
  const bytes = jsonBytes({
    schemaVersion: 2,
    mediaType,
    ...(options.artifactType ? { artifactType: options.artifactType } : {}),
    manifests: children.map((c, i) => ({ ...c, platform: { architecture: ['amd64', 'arm64', 's390x'][i % 3], os: 'linux' } })),
  });
  return { bytes, digest: sha256(bytes), mediaType };
}
