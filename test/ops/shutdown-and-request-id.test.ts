import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startStowage, type RunningStowage } from '../support/stowage.js';

/** One request on a keep-alive agent, so the connection stays open after the response. */
function get(agent: http.Agent, url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      })
      .on('error', reject);
  });
}

describe('request ids, framework errors and graceful shutdown', () => {
  let stowage: RunningStowage | null = null;
  const agent = new http.Agent({ keepAlive: true });
  afterEach(async () => {
    await stowage?.close();
    stowage = null;
  });

  it('echoes a well-formed X-Request-Id and replaces anything else', async () => {
    stowage = await startStowage();
    const given = await get(agent, `${stowage.url}/v2/`, { 'x-request-id': 'build-42.step:7' });
    expect(given.headers['x-request-id']).toBe('build-42.step:7');
    const hostile = await get(agent, `${stowage.url}/v2/`, { 'x-request-id': 'bad id with spaces' });
    expect(hostile.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a malformed URL gets a 400 in the OCI error format', async () => {
    stowage = await startStowage();
    const response = await get(agent, `${stowage.url}/v2/a%zz/tags/list`);
    expect(response.status).toBe(400);
    expect(JSON.parse(response.body)).toMatchObject({ errors: [{ code: expect.any(String), message: expect.any(String) }] });
  });

  it('shutdown lets an in-flight upload finish, then closes its keep-alive connection at once', async () => {
    const running = await startStowage();
    const start = await fetch(`${running.url}/v2/team/app/blobs/uploads/`, { method: 'POST' });
    const location = start.headers.get('location')!;
    // A chunked PATCH that is still sending its body when shutdown begins.
    const patch = http.request(`${running.url}${location}`, { method: 'PATCH', agent, headers: { 'content-type': 'application/octet-stream' } });
    const response = new Promise<number>((resolve, reject) => {
      patch.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      patch.on('error', reject);
    });
    patch.write(Buffer.alloc(64 * 1024, 1));
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    const stopped = running.app.shutdown();
    patch.end(Buffer.alloc(64 * 1024, 2));
    expect(await response).toBe(202);
    await stopped;
    // Without sweeping idle connections, close() would wait for the keep-alive timeout (72 s).
    expect(Date.now() - started).toBeLessThan(10_000);
    agent.destroy();
  });
});
