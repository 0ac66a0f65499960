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
 * response (one, with Content-Length) is complete, or `timeoutMs` passes. Never rejects: a reset
 * or a timeout is an answer with `status: null`.
 */
export function socketExchange(host: string, bytes: Buffer | string, options: { timeoutMs?: number } = {}): Promise<SocketAnswer> {
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
      resolve(parseAnswer(Buffer.concat(chunks)));
    };
    const timer = setTimeout(finish, options.timeoutMs ?? 5_000);
    socket.on('connect', () => socket.write(bytes, () => {}));
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (isComplete(Buffer.concat(chunks))) finish();
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

function isComplete(raw: Buffer): boolean {
  const parts = split(raw);
  if (!parts) return false;
  const length = headersOf(parts.head)['content-length'];
  return length !== undefined && parts.body.length >= Number(length);
}

function parseAnswer(raw: Buffer): SocketAnswer {
  const parts = split(raw);
  const statusLine = parts?.head.split('\r\n')[0] ?? '';
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!parts || !match) return { status: null, statusLine, headers: {}, body: Buffer.alloc(0), json: undefined, raw };
  const headers = headersOf(parts.head);
  const length = headers['content-length'];
  const body = length === undefined ? parts.body : parts.body.subarray(0, Number(length));
  let json: unknown;
  try {
    json = body.length > 0 ? JSON.parse(body.toString('utf8')) : undefined;
  } catch {
    json = undefined;
  }
  return { status: Number(match[1]), statusLine, headers, body, json, raw };
}
