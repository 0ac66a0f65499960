import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import http2 from 'node:http2';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../support/digests.js';
import { requireTool } from '../support/processes.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';

const hasOpenssl = requireTool('openssl');

describe.skipIf(!hasOpenssl)('HTTPS and HTTP/2 when server.tls is configured', () => {
  let dir: string;
  let stowage: RunningStowage;
  let cert: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'stowage-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore', timeout: 30_000 });
    cert = (await import('node:fs')).readFileSync(join(dir, 'cert.pem'));
    stowage = await startStowage({ config: { server: { host: '127.0.0.1', port: 0, tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') } } } });
  });
  afterAll(async () => {
    await stowage?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers /v2/ over HTTPS with HTTP/1.1', async () => {
    const { status, header } = await new Promise<{ status: number; header: string | undefined }>((resolve, reject) => {
      https
        .get(`https://${stowage.host}/v2/`, { ca: cert }, (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, header: res.headers['docker-distribution-api-version'] as string | undefined });
        })
        .on('error', reject);
    });
    expect(status).toBe(200);
    expect(header).toBe('registry/2.0');
  });

  it('pushes and pulls a blob over HTTP/2', async () => {
    const session = http2.connect(`https://${stowage.host}`, { ca: cert });
    const request = (headers: http2.OutgoingHttpHeaders, body?: Buffer) =>
      new Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
        const stream = session.request(headers);
        const chunks: Buffer[] = [];
        let responseHeaders: http2.IncomingHttpHeaders = {};
        stream.on('response', (h) => (responseHeaders = h));
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => resolve({ status: Number(responseHeaders[':status']), headers: responseHeaders, body: Buffer.concat(chunks) }));
        stream.on('error', reject);
        stream.end(body);
      });
    try {
      const bytes = Buffer.from('over http/2');
      const digest = sha256(bytes);
      const pushed = await request(
        { ':method': 'POST', ':path': `/v2/team/h2/blobs/uploads/?digest=${digest}`, 'content-type': 'application/octet-stream', 'content-length': bytes.length },
        bytes,
      );
      expect(pushed.status).toBe(201);
      expect(pushed.headers['docker-content-digest']).toBe(digest);
      const pulled = await request({ ':method': 'GET', ':path': `/v2/team/h2/blobs/${digest}` });
      expect(pulled.status).toBe(200);
      expect(pulled.body.equals(bytes)).toBe(true);
    } finally {
      session.close();
    }
  });
});
