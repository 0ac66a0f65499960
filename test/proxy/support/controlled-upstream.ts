/**
 * A minimal registry upstream (plain `node:http`, no auth) whose blob bodies the test paces by hand,
 * and which can serve bytes that do not match the digest they are served under — what the fake hub
 * cannot do. Blob HEAD/GET and manifest HEAD/GET exist; everything else is 404.
 *
 * ```ts
 * const upstream = await startControlledUpstream();
 * const blob = upstream.addBlob('app', bytes, { holdAfter: 64 * 1024 });
 * // ... a client starts a pull through Stowage ...
 * await blob.held;       // the upstream has sent 64 KiB and is waiting
 * blob.release();        // send the rest
 * ```
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ControlledRequest {
  method: string;
  path: string;
  range?: string;
}

export interface ControlledBlob {
  digest: string;
  bytes: Buffer;
  /** Resolves once a GET has sent `holdAfter` bytes and is waiting for `release()`. */
  readonly held: Promise<void>;
  /** Lets every held (and future) GET of this blob send the rest. */
  release(): void;
}

export interface ControlledUpstream {
  readonly url: string;
  readonly requests: readonly ControlledRequest[];
  /**
   * Serves `bytes` under `digest` (default: their real sha256). With `holdAfter`, each GET sends that
   * many bytes, then waits for `release()` before sending the rest. With `noLength`, GETs are sent
   * chunked, without Content-Length.
   */
  addBlob(repository: string, bytes: Buffer, options?: { digest?: string; holdAfter?: number; noLength?: boolean }): ControlledBlob;
  /**
   * Serves `bytes` as a manifest under `reference` (a tag or a digest, which need not match), with
   * `Docker-Content-Digest: <digestHeader>` (default: the real digest).
   */
  addManifest(repository: string, reference: string, bytes: Buffer, mediaType: string, options?: { digestHeader?: string }): void;
  count(filter?: (request: ControlledRequest) => boolean): number;
  close(): Promise<void>;
}

import { sha256 } from '../../support/digests.js';

export { sha256 };

interface Entry {
  blob: ControlledBlob;
  holdAfter: number | null;
  noLength: boolean;
  released: Promise<void>;
  markHeld: () => void;
}

export async function startControlledUpstream(): Promise<ControlledUpstream> {
  const blobs = new Map<string, Entry>();
  const manifests = new Map<string, { bytes: Buffer; mediaType: string; digest: string }>();
  const requests: ControlledRequest[] = [];
  const sockets = new Set<Socket>();

  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://upstream').pathname;
    requests.push({ method: req.method ?? 'GET', path, ...(req.headers.range ? { range: req.headers.range } : {}) });
    const manifestMatch = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
    const manifest = manifestMatch ? manifests.get(`${manifestMatch[1]}:${manifestMatch[2]}`) : undefined;
    if (manifest) {
      res.writeHead(200, { 'content-type': manifest.mediaType, 'content-length': String(manifest.bytes.length), 'docker-content-digest': manifest.digest });
      res.end(req.method === 'HEAD' ? undefined : manifest.bytes);
      return;
    }
    const match = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(path);
    const entry = match ? blobs.get(`${match[1]}@${match[2]}`) : undefined;
    if (!entry) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown', detail: null }] }));
      return;
    }
    const { bytes, digest } = entry.blob;
    const length = entry.noLength && req.method === 'GET' ? {} : { 'content-length': String(bytes.length) };
    res.writeHead(200, { 'content-type': 'application/octet-stream', ...length, 'docker-content-digest': digest });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    void (async () => {
      if (entry.holdAfter !== null) {
        await new Promise<void>((resolve) => res.write(bytes.subarray(0, entry.holdAfter!), () => resolve()));
        entry.markHeld();
        await entry.released;
        res.end(bytes.subarray(entry.holdAfter));
      } else {
        res.end(bytes);
      }
    })();
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    addBlob(repository, bytes, options = {}) {
      let release!: () => void;
      let markHeld!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const held = new Promise<void>((resolve) => (markHeld = resolve));
      const blob: ControlledBlob = { digest: options.digest ?? sha256(bytes), bytes, held, release };
      blobs.set(`${repository}@${blob.digest}`, { blob, holdAfter: options.holdAfter ?? null, noLength: options.noLength ?? false, released, markHeld });
      return blob;
    },
    addManifest(repository, reference, bytes, mediaType, options = {}) {
      manifests.set(`${repository}:${reference}`, { bytes, mediaType, digest: options.digestHeader ?? sha256(bytes) });
    },
    count(filter) {
      return filter ? requests.filter(filter).length : requests.length;
    },
    async close() {
      for (const entry of blobs.values()) entry.blob.release();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
