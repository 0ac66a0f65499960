import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { RegistryError, type ErrorKind } from '../oci/errors.js';

/**
 * Answers for requests Node's HTTP/1 server refuses before Fastify sees them: invalid characters in
 * the target (`%00` is Fastify's, a raw NUL, a tab or a raw non-ASCII byte is the parser's), unknown
 * or lower-case methods, oversized header sections, `PRI * HTTP/2.0` or a TLS hello on the plain
 * port, malformed framing, CONNECT, an `Expect` other than 100-continue. Each gets a status line and
 * the OCI error body, as every other 4xx does, instead of Fastify's `{"error":"Bad Request"}` or a
 * silently closed connection.
 */

/** How long a refused connection may keep sending before it is cut (see `answerOnSocket`). */
const LINGER_MS = 2_000;

/** Everything the parser can only call malformed; the rest by what it says. */
function kindOf(error: NodeJS.ErrnoException & { rawPacket?: Buffer }): { kind: ErrorKind; message?: string } {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { kind: 'HEADERS_TOO_LARGE' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return { kind: 'REQUEST_TIMEOUT' };
    case 'HPE_PAUSED_H2_UPGRADE':
      return { kind: 'HTTP_VERSION_UNSUPPORTED', message: 'HTTP/2 without TLS (prior knowledge) is not supported: use HTTP/1.1, or HTTP/2 over TLS' };
    case 'HPE_INVALID_METHOD':
      // 0x16 is a TLS handshake record: a client speaking HTTPS to the plain port.
      if (error.rawPacket?.[0] === 0x16) return { kind: 'REQUEST_MALFORMED', message: 'a TLS handshake was sent to a plain HTTP port' };
      return { kind: 'METHOD_UNKNOWN', message: 'unknown method (methods are case-sensitive)' };
    default:
      return { kind: 'REQUEST_MALFORMED' };
  }
}

/** The parser's own short reason ("Invalid char in url path"): fixed strings, never client bytes. */
function parserReason(error: NodeJS.ErrnoException & { reason?: unknown }): string | null {
  return typeof error.reason === 'string' ? error.reason : null;
}

/**
 * Writes a complete HTTP/1.1 error response straight to the socket and closes it gently: `end()`
 * sends the response and a FIN, then whatever the client is still sending (the rest of a huge
 * header section) is read and dropped for up to LINGER_MS. Destroying at once, as Node's default
 * does, resets a connection with unread input — and a reset can discard the answer on its way.
 */
function answerOnSocket(socket: Duplex, error: RegistryError): void {
  const body = JSON.stringify(error.toJSON());
  const headers = {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'Docker-Distribution-API-Version': 'registry/2.0',
    Connection: 'close',
    ...error.headers,
  };
  const head = [`HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
  socket.on('data', () => {}); // drain what still arrives; never parsed
  const cut = setTimeout(() => socket.destroy(), LINGER_MS);
  cut.unref();
  socket.once('close', () => clearTimeout(cut));
}

/** Sockets already answered: after a parse error Node may report the same error again for later input. */
const answered = new WeakSet<Duplex>();

/** Fastify's `clientErrorHandler`: a parser error on an HTTP/1 connection. */
export function answerClientError(log: Logger, error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed || answered.has(socket)) return;
  answered.add(socket);
  const { kind, message } = kindOf(error);
  const answer = new RegistryError(kind, { reason: parserReason(error) ?? error.code ?? null }, message ? { message } : {});
  log.debug({ code: error.code, status: answer.status }, 'refused a request the HTTP parser rejected');
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage;
  if (inFlight && !inFlight.writableFinished) {
    // A complete request is still being answered and the garbage came after it (pipelined): its
    // response goes first, then ours — answering now would put our status line before it.
    if (inFlight.req.complete) {
      inFlight.once('finish', () => answerOnSocket(socket, answer));
      inFlight.once('close', () => inFlight.writableFinished || socket.destroy());
      return;
    }
    // The request being served broke its own framing (a bad chunk): once its response has begun,
    // a second status line would corrupt it, and cutting the connection is the only signal left.
    if (inFlight.headersSent) {
      socket.destroy();
      return;
    }
  }
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  answerOnSocket(socket, answer);
}

const ALLOW = 'GET, HEAD, POST, PUT, PATCH, DELETE';

/**
 * Handlers for what Node answers itself on the plain HTTP/1 server: CONNECT (closed without a word
 * when nobody listens) and an unmet `Expect` (417 with an empty chunked body).
 */
export function installProtocolAnswers(server: Server): void {
  server.on('connect', (_request: IncomingMessage, socket: Duplex) => {
    answered.add(socket);
    answerOnSocket(socket, new RegistryError('UNSUPPORTED', { method: 'CONNECT' }, {
      message: 'CONNECT is not supported: Stowage is a registry, not a forward proxy',
      headers: { Allow: ALLOW },
    }));
  });
  server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    const error = new RegistryError('EXPECTATION_FAILED', { expect: String(request.headers.expect ?? '').slice(0, 100) }, {
      message: 'only Expect: 100-continue is supported',
    });
    const body = JSON.stringify(error.toJSON());
    response.writeHead(error.status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Connection: 'close' });
    response.end(body);
  });
}
