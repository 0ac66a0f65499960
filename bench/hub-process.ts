/**
 * The benchmark's "Docker Hub": the test fake hub (token challenge, 307 to a CDN for blob GETs) in
 * backend mode over a real `docker-registry`, run as its own process so its CPU is not spent on the
 * benchmark's event loop, plus a small control endpoint that reports what the proxies asked of it.
 *
 *   node hub-process.js --backend http://127.0.0.1:PORT --ready FILE
 *
 * Writes `{ url, cdnUrl, controlUrl }` to FILE once listening. `PUT <controlUrl>/bandwidth?bytesPerSecond=N`
 * paces blob bodies (CDN and registry) to N bytes/s, 0 to unpace. `GET <controlUrl>/stats` answers
 * `{ bytes, requests }`: every byte this process wrote to a hub or CDN socket (headers included; the
 * blob bodies dominate), and the request log aggregated as `"<kind> <METHOD>" → count`.
 */
import dc from 'node:diagnostics_channel';
import { renameSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { startFakeHub } from '../test/support/fake-hub.js';

function argument(name: string): string {
  const index = process.argv.indexOf(name);
  const value = index >= 0 ? process.argv[index + 1] : undefined;
  if (!value) throw new Error(`hub-process: ${name} is required`);
  return value;
}

let controlPort = -1;
let closedBytes = 0;
const live = new Set<Socket>();
// Every accepted connection of every server in this process; the control server's own are skipped.
dc.subscribe('net.server.socket', (message) => {
  const { socket } = message as { socket: Socket };
  if (socket.localPort === controlPort) return;
  live.add(socket);
  socket.once('close', () => {
    live.delete(socket);
    closedBytes += socket.bytesWritten;
  });
});

const hub = await startFakeHub({ auth: 'anonymous-token', cdn: true, backend: argument('--backend'), tokenExpiresIn: 3600, rateLimit: null });

const control = http.createServer((request, response) => {
  // `PUT /bandwidth?bytesPerSecond=N` paces blob bodies to a link's speed (0 = unpaced).
  if (request.method === 'PUT' && request.url?.startsWith('/bandwidth?')) {
    const rate = Number(new URL(request.url, 'http://control').searchParams.get('bytesPerSecond'));
    hub.faults.bandwidth = rate > 0 ? rate : null;
    response.writeHead(204).end();
    return;
  }
  if (request.url !== '/stats') {
    response.writeHead(404).end();
    return;
  }
  let bytes = closedBytes;
  for (const socket of live) bytes += socket.bytesWritten;
  const requests: Record<string, number> = {};
  for (const entry of hub.requests) {
    const key = `${entry.kind} ${entry.method}`;
    requests[key] = (requests[key] ?? 0) + 1;
  }
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ bytes, requests }));
});
await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
controlPort = (control.address() as AddressInfo).port;

// Written aside and renamed: the bench polls for the file and read it half-written under load.
writeFileSync(`${argument('--ready')}.part`, JSON.stringify({ url: hub.url, cdnUrl: hub.cdnUrl, controlUrl: `http://127.0.0.1:${controlPort}` }));
renameSync(`${argument('--ready')}.part`, argument('--ready'));

const stop = (): void => {
  control.close();
  void hub.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
