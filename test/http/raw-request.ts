import { request } from 'node:http';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface RawRequest {
  /** `127.0.0.1:PORT` */
  host: string;
  method: string;
  /** Sent exactly as given: no normalisation of `..`, `%2e%2e` or `//` (unlike fetch and `new URL`). */
  path: string;
  headers?: Record<string, string | number | string[]>;
  /** One buffer is sent with Content-Length; an array is sent chunk by chunk with `Transfer-Encoding: chunked`. */
  body?: Buffer | Buffer[];
}

/**
 * One HTTP/1.1 request through `node:http`, for what fetch cannot express: raw paths (path-traversal
 * tests) and chunked bodies without Content-Length or Content-Type (what `docker push` sends).
 */
export function rawRequest({ host, method, path, headers = {}, body }: RawRequest): Promise<RawResponse> {
  const [hostname, port] = host.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port: Number(port), method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        let json: unknown;
        try {
          json = bytes.length > 0 ? JSON.parse(bytes.toString('utf8')) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: bytes, json });
      });
    });
    req.on('error', reject);
    if (Array.isArray(body)) {
      const write = async (): Promise<void> => {
        for (const chunk of body) {
          if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        }
        req.end();
      };
      write().catch(reject);
    } else {
      req.end(body);
    }
  });
}
