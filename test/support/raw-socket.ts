import { connect } from 'node:net';

/** What came back on a raw TCP exchange: the parsed status line, headers and body, or nothing. */
export interface SocketAnswer {
  /** Null when the connection closed (or timed out) without a complete status line. */
  status: number | null;
  statusLine: string;
  headers: Record<string, string>;
  body: Buffer;
  /** The body parsed as JSON, or undefined. */
  json: unknown;
  /** Everything received, for failure messages. */
  raw: Buffer;
}

/**
 * Writes `bytes` to a fresh TCP connection exactly as given — methods, paths, header sections and
 * protocol preambles no HTTP client library would send — and reads until the server closes, the
 * first final response is complete (by Content-Length, chunked framing, or its head alone for HEAD
 * requests, 204 and 304) — or, with `untilClose`, every answer until the server closes — or `timeoutMs` passes. Interim 1xx responses are skipped. Never rejects:
 * a reset or a timeout is an answer with `status: null`.
 */
export function socketExchange(
  host: string,
  bytes: Buffer | string,
  options: { timeoutMs?: number; head?: boolean; untilClose?: boolean } = {},
): Promise<SocketAnswer> {
  const [hostname, port] = host.split(':');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: hostname!, port: Number(port) });
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parseAnswer(withoutInterim(Buffer.concat(chunks)), options.head ?? false));
    };
    const timer = setTimeout(finish, options.timeoutMs ?? 5_000);
    socket.on('connect', () => socket.write(bytes, () => {}));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (!options.untilClose && isComplete(withoutInterim(Buffer.concat(chunks)), options.head ?? false)) finish();
    });
    socket.on('error', finish);
    socket.on('close', finish);
  });
}

function split(raw: Buffer): { head: string; body: Buffer } | null {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return null;
  return { head: raw.subarray(0, end).toString('latin1'), body: raw.subarray(end + 4) };
}

function headersOf(head: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** The bytes after any `HTTP/1.1 1xx` interim responses (100 Continue). */
function withoutInterim(raw: Buffer): Buffer {
  let rest = raw;
  while (/^HTTP\/1\.[01] 1\d\d/.test(rest.subarray(0, 12).toString('latin1'))) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    rest = rest.subarray(end + 4);
  }
  return rest;
}

const bodyless = (statusLine: string, head: boolean): boolean => head || /^HTTP\/1\.[01] (204|304)/.test(statusLine);

function isComplete(raw: Buffer, head: boolean): boolean {
  const parts = split(raw);
  if (!parts) return false;
  if (bodyless(parts.head, head)) return true;
  const headers = headersOf(parts.head);
  if (headers['transfer-encoding']?.includes('chunked')) return parts.body.includes('0\r\n\r\n');
  const length = headers['content-length'];
  return length !== undefined && parts.body.length >= Number(length);
}

function parseAnswer(raw: Buffer, head: boolean): SocketAnswer {
  const parts = split(raw);
  const statusLine = parts?.head.split('\r\n')[0] ?? '';
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!parts || !match) return { status: null, statusLine, headers: {}, body: Buffer.alloc(0), json: undefined, raw };
  const headers = headersOf(parts.head);
  const length = headers['content-length'];
  const body = bodyless(statusLine, head) ? parts.body.subarray(0, 0) : length === undefined ? dechunk(parts.body, headers) : parts.body.subarray(0, Number(length));
  let json: unknown;
  try {
    json = body.length > 0 ? JSON.parse(body.toString('utf8')) : undefined;
  } catch {
    json = undefined;
  }
  return { status: Number(match[1]), statusLine, headers, body, json, raw };
}

/** A chunked body joined, or the bytes as they came when not chunked. */
function dechunk(body: Buffer, headers: Record<string, string>): Buffer {
  if (!headers['transfer-encoding']?.includes('chunked')) return body;
  const out: Buffer[] = [];
  let at = 0;
  while (at < body.length) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = parseInt(body.subarray(at, lineEnd).toString('latin1'), 16);
    if (!(size > 0)) break;
    out.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(out);
}
