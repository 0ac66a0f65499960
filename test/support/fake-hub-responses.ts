import type http from 'node:http';

/** Sent on every registry API response, as distribution does. */
export const API_VERSION_HEADER = { 'docker-distribution-api-version': 'registry/2.0' } as const;

/** A distribution-spec error body: `{"errors":[{"code","message","detail"}]}`. */
export function sendRegistryError(
  res: http.ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify({ errors: [{ code, message, detail: null }] });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    ...API_VERSION_HEADER,
    ...headers,
  });
  res.end(body);
}
