/**
 * S3SocketReader against a store that misbehaves in ways a real Ceph RGW will not on demand: a body
 * cut mid-way, a Range ignored, chunked framing, a client that goes away. The store here is a
 * loopback TCP server that answers one scripted response; the well-behaved cases (bytes, ranges,
 * slow clients, refusals) run on the real RGW in test/s3/s3-driver.test.ts.
 */
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BufferPool } from '../../src/storage/buffer-pool.js';
import { S3SocketReader } from '../../src/storage/s3/s3-socket-reader.js';
import { drain } from './contracts/support.js';

const pool = new BufferPool(1024 * 1024, 2);
let server: Server | null = null;
afterEach(async () => {
  server?.close();
  server = null;
});

/** A store that reads the request head, then lets `answer` write to (and end or cut) the socket. */
async function store(answer: (socket: Socket, request: string) => void): Promise<{ url: URL; closed: Promise<void> }> {
  let closed!: () => void;
  const closedPromise = new Promise<void>((resolve) => (closed = resolve));
  server = createServer((socket) => {
    let request = '';
    socket.on('data', (chunk: Buffer) => {
      request += chunk.toString('latin1');
      if (request.includes('\r\n\r\n')) answer(socket, request);
    });
    socket.on('close', closed);
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return { url: new URL(`http://127.0.0.1:${port}/bucket/key?X-Amz-Signature=secret`), closed: closedPromise };
}

async function openReader(url: URL, range?: { start: number; end: number }): Promise<S3SocketReader> {
  const response = await S3SocketReader.open(url, range, pool);
  if (!('reader' in response)) throw new Error(`refused: ${response.status}`);
  return response.reader;
}

describe('S3SocketReader', () => {
  it('sends the signed path, the Range and Connection: close, and delivers exactly the body', async () => {
    const body = Buffer.from('0123456789'.repeat(1000));
    let seen = '';
    const { url } = await store((socket, request) => {
      seen = request;
      socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 5-9004/10000\r\nContent-Length: 9000\r\n\r\n`), body.subarray(5, 9005)]));
    });
    const { bytes, ended, error } = await drain(await openReader(url, { start: 5, end: 9004 }));
    expect(error).toBeNull();
    expect(ended).toBe(true);
    expect(bytes.equals(body.subarray(5, 9005))).toBe(true);
    expect(seen).toMatch(/^GET \/bucket\/key\?X-Amz-Signature=secret HTTP\/1\.1\r\n/);
    expect(seen).toMatch(/\r\nrange: bytes=5-9004\r\n/i);
    expect(seen).toMatch(/\r\nconnection: close\r\n/i);
  });

  it('a body the store cuts short fails and never ends the destination', async () => {
    const { url } = await store((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 3000000\r\n\r\n');
      socket.end(Buffer.alloc(1_500_000, 7));
    });
    const { bytes, ended, error } = await drain(await openReader(url));
    expect(String(error)).toMatch(/1500000 bytes short/);
    expect(ended).toBe(false);
    expect(bytes.length).toBeLessThan(3_000_000);
  });

  it('a store that ignores the Range (200 for bytes from 10 on), answers chunked, or answers nothing fails before any byte is sent', async () => {
    const ignored = await store((socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n' + 'x'.repeat(100)));
    await expect(S3SocketReader.open(ignored.url, { start: 10, end: 19 }, pool)).rejects.toThrow(/not send the bytes asked for/);
    server!.close();
    const chunked = await store((socket) => socket.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'));
    await expect(S3SocketReader.open(chunked.url, undefined, pool)).rejects.toThrow(/cannot read/);
    server!.close();
    const silent = await store((socket) => socket.end());
    await expect(S3SocketReader.open(silent.url, undefined, pool)).rejects.toThrow(/before answering/);
  });

  it('a refusal gives its status and the S3 error code; the URL appears in no error', async () => {
    const { url } = await store((socket) => {
      const xml = '<?xml version="1.0"?><Error><Code>SlowDown</Code><Message>busy</Message></Error>';
      socket.end(`HTTP/1.1 503 Service Unavailable\r\nContent-Length: ${xml.length}\r\n\r\n${xml}`);
    });
    expect(await S3SocketReader.open(url, undefined, pool)).toEqual({ status: 503, code: 'SlowDown' });
  });

  it('a client that goes away closes the connection to the store', async () => {
    const { url, closed } = await store((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n');
      socket.write(Buffer.alloc(4 * 1024 * 1024));
    });
    const reader = await openReader(url);
    const client = new Writable({ write: (_chunk, _encoding, callback) => setTimeout(callback, 5) });
    const piping = reader.pipeTo(client).then(() => null, (e: unknown) => e);
    setTimeout(() => client.destroy(), 50);
    expect(String(await piping)).toMatch(/client closed/);
    await closed;
  });
});
