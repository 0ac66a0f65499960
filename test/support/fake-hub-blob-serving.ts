import type http from 'node:http';
import type { BlobHandle } from './fake-hub-content.js';
import type { FakeHubFaults } from './fake-hub-faults.js';

/**
 * Serves blob bytes like a registry or a CDN does: `Range: bytes=N-` / `bytes=N-M` → 206 with
 * `Content-Range`, an unsatisfiable range → 416, otherwise 200. Honours the body faults (cut after K
 * bytes by destroying the socket or by going silent; ignore Range). Returns the status sent.
 */
export async function serveBlobBytes(
  request: http.IncomingMessage,
  response: http.ServerResponse,
  blob: BlobHandle,
  faults: FakeHubFaults,
  extraHeaders: Record<string, string> = {},
): Promise<number> {
  const requested = parseRange(request.headers.range, blob.size);
  const range = requested !== null && faults.takeIgnoreRange() ? null : requested;
  if (range === 'unsatisfiable') {
    response.writeHead(416, { 'content-range': `bytes */${blob.size}`, 'content-length': '0', ...extraHeaders });
    response.end();
    return 416;
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? blob.size - 1;
  const status = range ? 206 : 200;
  const headers: Record<string, string> = {
    'content-type': 'application/octet-stream',
    'content-length': String(Math.max(0, end - start + 1)),
    'docker-content-digest': blob.digest,
    'accept-ranges': 'bytes',
    ...extraHeaders,
  };
  if (range) headers['content-range'] = `bytes ${start}-${end}/${blob.size}`;
  response.writeHead(status, headers);
  if (request.method === 'HEAD' || blob.size === 0) {
    response.end();
    return status;
  }

  const cut = faults.takeCut();
  const source = await blob.read(start, end);
  const paceStart = performance.now();
  let sent = 0;
  try {
    for await (const chunk of source) {
      const bytes = chunk as Buffer;
      if (cut !== null && sent + bytes.length >= cut.afterBytes) {
        const head = bytes.subarray(0, cut.afterBytes - sent);
        if (head.length > 0) await write(response, head);
        source.destroy();
        if (cut.mode === 'stall') {
          await new Promise((resolve) => response.once('close', resolve));
        } else {
          // Give the bytes a moment to leave before the reset, so the client really sees them.
          await new Promise((resolve) => setTimeout(resolve, 10));
          response.destroy();
        }
        return status;
      }
      // A paced chunk leaves when a link of that speed would have finished sending it.
      if (faults.bandwidth) await pace(paceStart, sent + bytes.length, faults.bandwidth);
      if (!response.write(bytes)) await drainOrClose(response);
      if (response.destroyed) break;
      sent += bytes.length;
    }
    response.end();
  } catch {
    response.destroy();
  } finally {
    source.destroy();
  }
  return status;
}

/** Waits until `bytes` are due at `bytesPerSecond` since `start`: the schedule, not each chunk, is paced. */
async function pace(start: number, bytes: number, bytesPerSecond: number): Promise<void> {
  const wait = start + (bytes * 1000) / bytesPerSecond - performance.now();
  if (wait >= 1) await new Promise((resolve) => setTimeout(resolve, wait));
}

function drainOrClose(response: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.once('drain', done);
    response.once('close', done);
  });
}

function write(response: http.ServerResponse, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => response.write(bytes, () => resolve()));
}

function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  const match = header === undefined ? null : /^bytes=(\d+)-(\d*)$/.exec(header.trim());
  if (!match?.[1]) return null;
  const start = Number(match[1]);
  const end = match[2] ? Math.min(Number(match[2]), size - 1) : size - 1;
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}
