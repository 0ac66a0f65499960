/**
 * An upstream that needs credentials: pulls work with the configured account, a wrong password is a
 * clear upstream error (never a 500), and no secret — password, Basic header, bearer token — ever
 * reaches Stowage's logs, even at trace level.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { ACCEPT_ALL, errorCode, sha256 } from './support/proxy-helpers.js';

const USERNAME = 'robot-puller';
const PASSWORD = 'S3cret-pull-P4ss';
const WRONG = 'Wr0ng-guess-P4ss';

describe('an upstream with credentials', () => {
  let hub: FakeHub;
  let stowage: RunningStowage;
  const lines: string[] = [];
  const logs = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'));
      callback();
    },
  });

  beforeAll(async () => {
    hub = await startFakeHub({ auth: { username: USERNAME, password: PASSWORD }, cdn: true });
    stowage = await startStowage({
      config: {
        hosted: ['team/**'],
        upstreams: {
          'docker.io': { url: hub.url, username: USERNAME, password: PASSWORD },
          // The same hub with a wrong password.
          'wrong.test': { url: hub.url, username: USERNAME, password: WRONG, retries: 0 },
        },
        defaultUpstream: 'docker.io',
      },
      app: { logger: pino({ level: 'trace' }, logs) },
    });
  });
  afterAll(async () => {
    await stowage?.close();
    await hub?.close();
  });

  it('pulls a manifest and its blobs with the configured account', async () => {
    const image = hub.addImage('acme/private', 'v1');
    const manifest = await fetch(`${stowage.url}/v2/acme/private/manifests/v1`, { headers: { accept: ACCEPT_ALL } });
    expect(manifest.status).toBe(200);
    expect(manifest.headers.get('docker-content-digest')).toBe(image.digest);
    await manifest.arrayBuffer();
    for (const blob of [image.config, ...image.layers]) {
      const response = await fetch(`${stowage.url}/v2/acme/private/blobs/${blob.digest}`);
      expect(sha256(new Uint8Array(await response.arrayBuffer()))).toBe(blob.digest);
    }
    // The token realm saw the credentials; the CDN never saw any Authorization.
    expect(hub.count((r) => r.kind === 'token' && r.authorization)).toBeGreaterThan(0);
    expect(hub.count((r) => r.kind === 'cdn' && r.authorization)).toBe(0);
  });

  it('a wrong password is a clear upstream error, not a 500', async () => {
    hub.addImage('acme/other', 'v1');
    const response = await fetch(`${stowage.url}/v2/acme/other/manifests/v1?ns=wrong.test`, { headers: { accept: ACCEPT_ALL } });
    expect(response.status).toBe(502);
    const body = (await response.json()) as { errors: Array<{ code: string; detail: { reason?: string } }> };
    expect(body.errors[0]!.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(body.errors[0]!.detail.reason).toMatch(/credentials/);
    expect(JSON.stringify(body)).not.toContain(WRONG);

    const blob = await fetch(`${stowage.url}/v2/acme/other/blobs/${sha256(Buffer.from('x'))}?ns=wrong.test`);
    expect(blob.status).toBe(502);
    expect(await errorCode(blob)).toBe('UPSTREAM_UNAVAILABLE');
  });

  it('no credential or token ever appears in the logs', async () => {
    const everything = lines.join('');
    expect(everything.length).toBeGreaterThan(0);
    const secrets = [
      PASSWORD,
      WRONG,
      Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64'),
      Buffer.from(`${USERNAME}:${WRONG}`).toString('base64'),
      'Bearer ',
      'fh_', // the fake hub's token prefix
      'sig=', // signed CDN URLs
    ];
    for (const secret of secrets) expect(everything, secret).not.toContain(secret);
  });
});
