/**
 * The base endpoint and the error envelope: `GET /v2/`, unknown endpoints, wrong methods, and the
 * `{"errors":[{"code","message","detail"}]}` body with the status the OCI table gives each code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { rawRequest } from './raw-request.js';
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

const missing = `sha256:${'0'.repeat(64)}`;

describe('GET /v2/', () => {
  it('returns 200 with the API version header and a JSON body', async () => {
    const res = await client.fetch('/v2/');
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({});
  });

  it('answers without the trailing slash and to HEAD (no body)', async () => {
    const noSlash = await rawRequest({ host: stowage.host, method: 'GET', path: '/v2' });
    expect(noSlash.status).toBe(200);
    expect(noSlash.headers['docker-distribution-api-version']).toBe('registry/2.0');
    const head = await rawRequest({ host: stowage.host, method: 'HEAD', path: '/v2/' });
    expect(head.status).toBe(200);
    expect(head.headers['docker-distribution-api-version']).toBe('registry/2.0');
    expect(head.body.length).toBe(0);
  });

  it('refuses other methods with 405 UNSUPPORTED', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const res = await client.fetch('/v2/', { method });
      await expectOciError(res, 405, 'UNSUPPORTED');
    }
  });
});

describe('unknown endpoints', () => {
  it.each([
    '/v2/library/alpine/nothing-here',
    '/v2/library/alpine/blobs',
    '/v2/library/alpine/tags',
    '/v2/library/alpine/tags/other',
    '/not-v2',
    '/v3/',
  ])('%s is 404 UNSUPPORTED (a specification code), "no such endpoint"', async (path) => {
    const error = await expectOciError(await client.fetch(path), 404, 'UNSUPPORTED');
    expect(error.message).toBe('no such endpoint');
  });
});

describe('wrong methods on known endpoints', () => {
  it.each([
    ['POST', `/v2/a/manifests/latest`],
    ['PATCH', `/v2/a/manifests/latest`],
    ['PUT', `/v2/a/blobs/${missing}`],
    ['POST', `/v2/a/blobs/${missing}`],
    ['GET', `/v2/a/blobs/uploads/`],
    ['PUT', `/v2/a/blobs/uploads/`],
    ['POST', `/v2/a/blobs/uploads/00000000-0000-4000-8000-000000000000`],
    ['DELETE', `/v2/a/tags/list`],
    ['PUT', `/v2/a/referrers/${missing}`],
    ['POST', `/v2/_catalog`],
  ])('%s %s is 405 UNSUPPORTED with Allow', async (method, path) => {
    const res = await client.fetch(path, { method });
    await expectOciError(res, 405, 'UNSUPPORTED');
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
    expect(res.headers.get('allow')).toMatch(/^[A-Z]+(, [A-Z]+)*$/);
    expect(res.headers.get('allow')).not.toContain(method);
  });
});

describe('error codes map to their OCI statuses', () => {
  it('BLOB_UNKNOWN is 404 with the digest in the detail', async () => {
    const error = await expectOciError(await client.fetch(`/v2/a/blobs/${missing}`), 404, 'BLOB_UNKNOWN');
    expect(error.detail).toEqual({ digest: missing });
  });

  it('MANIFEST_UNKNOWN is 404 for an unknown tag and an unknown digest', async () => {
    await expectOciError(await client.fetch('/v2/a/manifests/nope'), 404, 'MANIFEST_UNKNOWN');
    await expectOciError(await client.fetch(`/v2/a/manifests/${missing}`), 404, 'MANIFEST_UNKNOWN');
  });

  it('BLOB_UPLOAD_UNKNOWN is 404', async () => {
    await expectOciError(await client.fetch('/v2/a/blobs/uploads/00000000-0000-4000-8000-000000000000'), 404, 'BLOB_UPLOAD_UNKNOWN');
  });

  it('NAME_INVALID and DIGEST_INVALID are 400', async () => {
    await expectOciError(await client.fetch('/v2/UPPER/tags/list'), 400, 'NAME_INVALID');
    await expectOciError(await client.fetch('/v2/a/blobs/sha256:abc'), 400, 'DIGEST_INVALID');
  });

  it('an impossible tag is 404 MANIFEST_UNKNOWN on reads and 400 MANIFEST_INVALID (invalid tag) on a push', async () => {
    await expectOciError(await client.fetch(`/v2/a/manifests/${'t'.repeat(129)}`), 404, 'MANIFEST_UNKNOWN');
    const put = await client.fetch(`/v2/a/manifests/${'t'.repeat(129)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: '{}',
    });
    const error = await expectOciError(put, 400, 'MANIFEST_INVALID');
    expect(error.message).toMatch(/invalid tag/);
  });

  it('error responses to HEAD carry the status but no body', async () => {
    const res = await rawRequest({ host: stowage.host, method: 'HEAD', path: `/v2/a/blobs/${missing}` });
    expect(res.status).toBe(404);
    expect(res.body.length).toBe(0);
  });

  it('every response carries X-Request-Id, echoing the client id or generating one', async () => {
    const res = await client.fetch('/v2/', { headers: { 'X-Request-Id': 'trace-123' } });
    expect(res.headers.get('x-request-id')).toBe('trace-123');
    const generated = await client.fetch('/v2/a/manifests/nope');
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
