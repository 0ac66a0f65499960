/**
 * Requests refused before they reach a route — by Node's HTTP parser, by Node itself (CONNECT,
 * Expect, Host) or by Fastify — get a status line and the OCI error body with a specification code,
 * like every other 4xx. Sent over raw sockets: no HTTP client library would send these bytes.
 */
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SPEC_CODES } from '../../src/oci/errors.js';
import { socketExchange, type SocketAnswer } from '../support/raw-socket.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { expectOciError, RegistryClient } from './registry-client.js';

let stowage: RunningStowage;
let client: RegistryClient;

beforeAll(async () => {
  stowage = await startStowage();
  client = new RegistryClient(stowage.url);
});
afterAll(async () => {
  await client.close();
  await stowage.close();
});

const request = (line: string, headers = ''): string => `${line}\r\nHost: registry.test\r\n${headers}\r\n`;
const blob = `sha256:${'0'.repeat(64)}`;

/** A complete answer: status line, JSON Content-Type, the envelope with one error whose code is `code`. */
function expectAnswer(answer: SocketAnswer, status: number, code: string): { code: string; message: string; detail: unknown } {
  expect({ status: answer.status, raw: answer.raw.toString('latin1').slice(0, 300) }).toMatchObject({ status });
  expect(answer.headers['content-type']).toMatch(/^application\/json/);
  const body = answer.json as { errors: Array<{ code: string; message: string; detail: unknown }> };
  expect(body.errors).toHaveLength(1);
  expect(body.errors[0]).toMatchObject({ code, message: expect.any(String) });
  expect(body.errors[0]).toHaveProperty('detail');
  if (status < 500) expect(SPEC_CODES).toContain(body.errors[0]!.code);
  return body.errors[0]!;
}

describe('requests the HTTP parser refuses', () => {
  it.each([
    ['a raw NUL in the path', request('GET /v2/myteam/fuzz\x00x/manifests/latest HTTP/1.1'), 400],
    ['a tab in the path', request('GET /v2/myteam/fuzz\tx/tags/list HTTP/1.1'), 400],
    ['a space in the path', request('GET /v2/myteam/a b/tags/list HTTP/1.1'), 400],
    ['a lower-case method', request('get /v2/ HTTP/1.1'), 501],
    ['an unknown method', request('FOO /v2/ HTTP/1.1'), 501],
    ['the coffee-pot method', request('BREW /v2/ HTTP/1.1'), 501],
    ['a header name with a space', request('GET /v2/ HTTP/1.1', 'Bad Header: x\r\n'), 400],
    ['a control character in a header value', request('GET /v2/ HTTP/1.1', 'X-Trace: a\x01b\r\n'), 400],
    ['Content-Length with Transfer-Encoding', request('POST /v2/fuzz/a/blobs/uploads/ HTTP/1.1', 'Content-Length: 3\r\nTransfer-Encoding: chunked\r\n'), 400],
    ['a Content-Length that is not a number', request('POST /v2/fuzz/a/blobs/uploads/ HTTP/1.1', 'Content-Length: abc\r\n'), 400],
    ['a Content-Length past 2^64', request('POST /v2/fuzz/a/blobs/uploads/ HTTP/1.1', `Content-Length: ${'9'.repeat(30)}\r\n`), 400],
    ['an unknown HTTP version', request('GET /v2/ HTTP/3.0'), 400],
    ['bare LF line ends', 'GET /v2/ HTTP/1.1\nHost: registry.test\n\n', 400],
  ])('%s: status line and OCI body', async (_, bytes, status) => {
    expectAnswer(await socketExchange(stowage.host, bytes), status, 'UNSUPPORTED');
  });

  it('a raw non-ASCII byte in the path is 400', async () => {
    const bytes = Buffer.concat([Buffer.from('GET /v2/caf'), Buffer.from([0xc3, 0xa9]), Buffer.from('/tags/list HTTP/1.1\r\nHost: registry.test\r\n\r\n')]);
    const error = expectAnswer(await socketExchange(stowage.host, bytes), 400, 'UNSUPPORTED');
    expect(error.detail).toEqual({ reason: 'Invalid char in url path' });
  });

  it('an encoded NUL (%00) in a name is 400 NAME_INVALID', async () => {
    expectAnswer(await socketExchange(stowage.host, request('GET /v2/myteam/fuzz%00x/manifests/latest HTTP/1.1')), 400, 'NAME_INVALID');
  });

  it('a header section over the limit is 431, also when the client is still sending it', async () => {
    const huge = request('GET /v2/ HTTP/1.1', `X-Filler: ${'a'.repeat(4 * 1024 * 1024)}\r\n`);
    const error = expectAnswer(await socketExchange(stowage.host, huge), 431, 'SIZE_INVALID');
    expect(error.message).toBe('request header section too large');
    const longUrl = request(`GET /v2/${'a/'.repeat(20_000)}tags/list HTTP/1.1`);
    expectAnswer(await socketExchange(stowage.host, longUrl), 431, 'SIZE_INVALID');
  });

  it('HTTP/2 prior knowledge (PRI * HTTP/2.0) on the plain listener is 505', async () => {
    const error = expectAnswer(await socketExchange(stowage.host, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), 505, 'UNSUPPORTED');
    expect(error.message).toMatch(/HTTP\/2/);
  });

  it('a TLS hello on the plain listener gets a 400 saying so', async () => {
    const hello = Buffer.from(`16030100a5010000a10303${'00'.repeat(60)}`, 'hex');
    const error = expectAnswer(await socketExchange(stowage.host, hello), 400, 'UNSUPPORTED');
    expect(error.message).toMatch(/TLS handshake/);
  });

  it('garbage pipelined after a valid request is answered after it: the valid response first, then the refusal', async () => {
    const answer = await socketExchange(stowage.host, `${request('POST /v2/fuzz/a/blobs/uploads/ HTTP/1.1', 'Content-Length: 0\r\n')}FOO /v2/ HTTP/1.1\r\n\r\n`, { timeoutMs: 5000, untilClose: true });
    expect(answer.status).toBe(202);
    const rest = answer.raw.toString('latin1');
    expect(rest.indexOf('HTTP/1.1 202')).toBe(0);
    expect(rest).toContain('HTTP/1.1 501 Not Implemented');
  });

  it('a body that breaks chunked framing is 400', async () => {
    const bytes = `${request('PATCH /v2/fuzz/a/blobs/uploads/00000000-0000-4000-8000-000000000000 HTTP/1.1', 'Transfer-Encoding: chunked\r\n')}zz\r\nabc\r\n`;
    expectAnswer(await socketExchange(stowage.host, bytes), 400, 'UNSUPPORTED');
  });
});

describe('requests Node or Fastify would answer in their own way', () => {
  it('CONNECT is 405 with Allow, not a closed connection', async () => {
    const answer = await socketExchange(stowage.host, request('CONNECT example.com:443 HTTP/1.1'));
    const error = expectAnswer(answer, 405, 'UNSUPPORTED');
    expect(error.message).toMatch(/CONNECT/);
    expect(answer.headers.allow).toBe('GET, HEAD, POST, PUT, PATCH, DELETE');
  });

  it('an HTTP/1.1 request without Host is 400; HTTP/1.0 needs none', async () => {
    const error = expectAnswer(await socketExchange(stowage.host, 'GET /v2/ HTTP/1.1\r\n\r\n'), 400, 'UNSUPPORTED');
    expect(error.message).toMatch(/Host/);
    expect((await socketExchange(stowage.host, 'GET /v2/ HTTP/1.0\r\n\r\n')).status).toBe(200);
  });

  it('an Expect other than 100-continue is 417', async () => {
    const answer = await socketExchange(stowage.host, request('POST /v2/fuzz/a/blobs/uploads/ HTTP/1.1', 'Expect: teapot\r\nContent-Length: 0\r\n'));
    expectAnswer(answer, 417, 'UNSUPPORTED');
  });

  it('a malformed Content-Type is 415', async () => {
    const answer = await socketExchange(stowage.host, `${request('PUT /v2/fuzz/a/manifests/v1 HTTP/1.1', 'Content-Type: ;;\r\nContent-Length: 2\r\n')}{}`);
    expectAnswer(answer, 415, 'UNSUPPORTED');
  });

  it('a percent-encoding that does not decode is 400', async () => {
    expectAnswer(await socketExchange(stowage.host, request('GET /v2/fuzz/a/manifests/%zz HTTP/1.1')), 400, 'UNSUPPORTED');
  });

  it.each([
    ['OPTIONS', '/v2/', 'GET, HEAD'],
    ['OPTIONS', `/v2/fuzz/a/blobs/${blob}`, 'GET, HEAD, DELETE'],
    ['TRACE', '/v2/fuzz/a/tags/list', 'GET'],
    ['PROPFIND', '/v2/fuzz/a/manifests/latest', 'GET, HEAD, PUT, DELETE'],
    ['LOCK', '/v2/fuzz/a/blobs/uploads/', 'POST'],
    ['SEARCH', '/v2/_catalog', 'GET'],
  ])('%s %s (a method Fastify never routes here) is 405 with Allow: %s', async (method, path, allow) => {
    const answer = await socketExchange(stowage.host, request(`${method} ${path} HTTP/1.1`));
    expectAnswer(answer, 405, 'UNSUPPORTED');
    expect(answer.headers.allow).toBe(allow);
  });

  it('the same methods on a path that is no endpoint are 404', async () => {
    for (const method of ['OPTIONS', 'PROPFIND', 'GET']) {
      expectAnswer(await socketExchange(stowage.host, request(`${method} /nothing/here HTTP/1.1`)), 404, 'UNSUPPORTED');
    }
  });

  it('a page size that is not a count is 400 UNSUPPORTED, naming n', async () => {
    for (const n of ['abc', '-1', '1.5']) {
      const error = await expectOciError(await client.fetch(`/v2/_catalog?n=${n}`), 400, 'UNSUPPORTED');
      expect(error.message).toMatch(/number of results/);
      expect(error.detail).toEqual({ n });
    }
  });
});

describe('after all of that', () => {
  it('the server still answers', async () => {
    expect((await client.fetch('/v2/')).status).toBe(200);
  });
});

describe('shutdown', () => {
  it('a registry request on a connection still open once shutdown began is 503 in the OCI format, with Connection: close', async () => {
    const own = await startStowage();
    const agent = new Agent({ connections: 1 });
    try {
      const first = await fetch(`${own.url}/v2/`, { dispatcher: agent });
      expect(first.status).toBe(200);
      await first.arrayBuffer();
      own.app.readiness.beginShutdown();
      const refused = await fetch(`${own.url}/v2/fuzz/a/tags/list`, { dispatcher: agent });
      expect(refused.headers.get('connection')).toBe('close');
      await expectOciError(refused, 503, 'UNAVAILABLE');
    } finally {
      await agent.close();
      await own.close();
    }
  });
});
