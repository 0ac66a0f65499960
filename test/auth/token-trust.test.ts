/**
 * Where clients are sent for tokens (the realm: server.publicUrl, X-Forwarded-* only with
 * trustProxy, never raw client text), a signing key given as a file and kept across restarts, and
 * tokens from an external token server (auth.token.trust) with PEM or JWKS keys. The external
 * tokens are signed here with node:crypto, independently of Stowage's own JWT code.
 */
import { createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOciError } from '../http/registry-client.js';
import { AuthorizedClient, basic, parseChallenge, readJwt, writeHtpasswd } from '../support/auth.js';
import { requireTool, tempDir } from '../support/processes.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
function rs256(key: KeyObject, header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const input = `${b64({ alg: 'RS256', typ: 'JWT', ...header })}.${b64(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

describe.runIf(requireTool('htpasswd'))('token realm, signing keys and external token servers', () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let htpasswd: string;
  const running: RunningStowage[] = [];
  const clients: AuthorizedClient[] = [];
  const start = async (config: Record<string, unknown>, dataDir?: string): Promise<RunningStowage> => {
    const stowage = await startStowage({ config, ...(dataDir ? { dataDir } : {}) });
    running.push(stowage);
    return stowage;
  };
  const client = (stowage: RunningStowage, authorization?: string): AuthorizedClient => {
    const c = new AuthorizedClient(stowage.url, authorization);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    work = await tempDir('auth-trust');
    htpasswd = join(work.path, 'htpasswd');
    await writeHtpasswd(htpasswd, { alice: 'alice-pw' });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    for (const stowage of running) await stowage.close();
    await work?.remove();
  });

  const realmOf = async (stowage: RunningStowage, headers: Record<string, string> = {}): Promise<string | undefined> =>
    parseChallenge((await client(stowage).fetch('/v2/', { headers })).headers.get('www-authenticate')).realm;

  it('the realm comes from server.publicUrl when set; from the request otherwise, X-Forwarded-* only with trustProxy', async () => {
    const auth = { htpasswd, token: {} };
    const fixed = await start({ auth, server: { publicUrl: 'https://registry.example.com/' } });
    expect(await realmOf(fixed, { 'x-forwarded-host': 'evil.example' })).toBe('https://registry.example.com/auth/token');
    const plain = await start({ auth });
    expect(await realmOf(plain, { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' })).toBe(`${plain.url}/auth/token`);
    const proxied = await start({ auth, server: { trustProxy: true } });
    expect(await realmOf(proxied, { 'x-forwarded-host': 'registry.internal', 'x-forwarded-proto': 'https' })).toBe('https://registry.internal/auth/token');
    // A Host that is not a host name is never echoed: the address the request arrived on is used.
    expect(await realmOf(plain, { host: 'a",error="x' })).toBe(`${plain.url}/auth/token`);
  });

  it('a signing key given as a file (RSA → RS256) is used as is, and a created key survives a restart', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const keyFile = join(work.path, 'rsa.pem');
    await writeFile(keyFile, rsa, { mode: 0o600 });
    const withRsa = await start({ auth: { htpasswd, token: { signingKey: keyFile } } });
    const response = await client(withRsa, basic('alice', 'alice-pw')).fetch('/auth/token?service=Stowage');
    expect(readJwt(((await response.json()) as { token: string }).token).header.alg).toBe('RS256');

    const dataDir = join(work.path, 'data');
    const first = await start({ auth: { htpasswd, token: {} } }, dataDir);
    const token = ((await (await client(first, basic('alice', 'alice-pw')).fetch('/auth/token?service=Stowage')).json()) as { token: string }).token;
    await first.close();
    running.splice(running.indexOf(first), 1);
    const second = await start({ auth: { htpasswd, token: {} } }, dataDir);
    expect((await client(second, `Bearer ${token}`).fetch('/v2/')).status).toBe(200);
  });

  describe.each(['pem', 'jwks'] as const)('an external token server whose key is given as %s', (format) => {
    let stowage: RunningStowage;
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const other = createPrivateKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const now = (): number => Math.floor(Date.now() / 1000);
    const claims = (access: unknown[], extra: Record<string, unknown> = {}) => ({ iss: 'corp-auth', sub: 'alice', aud: 'registry.corp', iat: now(), nbf: now(), exp: now() + 300, jti: 'x', access, ...extra });
    const kid = format === 'jwks' ? { kid: 'corp-key-1' } : {};

    beforeAll(async () => {
      const keyFile = join(work.path, `corp.${format}`);
      await writeFile(keyFile, format === 'pem'
        ? (publicKey.export({ format: 'pem', type: 'spki' }) as string)
        : JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'corp-key-1', use: 'sig', alg: 'RS256' }] }));
      stowage = await start({
        hosted: ['team/**'],
        auth: {
          access: [{ repos: ['team/**'], users: ['alice'], actions: ['pull', 'push'] }],
          token: { service: 'registry.corp', trust: { issuer: 'corp-auth', realm: 'https://auth.corp.example/token', keys: [keyFile] } },
        },
      });
    });

    it('challenges send clients to the external realm; Stowage serves no token endpoint of its own', async () => {
      const response = await client(stowage).fetch('/v2/team/app/tags/list');
      expect(parseChallenge(response.headers.get('www-authenticate'))).toEqual({
        scheme: 'Bearer', realm: 'https://auth.corp.example/token', service: 'registry.corp', scope: 'repository:team/app:pull',
      });
      expect((await client(stowage).fetch('/auth/token')).status).toBe(404);
    });

    it('accepts its tokens within their access and the rules; refuses other issuers, audiences, keys and expired ones', async () => {
      const access = [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }];
      const good = rs256(privateKey, kid, claims(access));
      expect((await client(stowage, `Bearer ${good}`).fetch('/v2/team/app/blobs/uploads/', { method: 'POST' })).status).toBe(202);
      // The token grants team/other, the rules do too — but the token does not: insufficient scope.
      const otherRepo = await client(stowage, `Bearer ${good}`).fetch('/v2/team/other/tags/list');
      expect(parseChallenge(otherRepo.headers.get('www-authenticate')).error).toBe('insufficient_scope');
      // The token grants more than the rules: the rules win.
      const bobToken = rs256(privateKey, kid, claims(access, { sub: 'bob' }));
      expect(parseChallenge((await client(stowage, `Bearer ${bobToken}`).fetch('/v2/team/app/tags/list')).headers.get('www-authenticate')).error).toBe('insufficient_scope');
      for (const bad of [
        rs256(privateKey, kid, claims(access, { iss: 'someone-else' })),
        rs256(privateKey, kid, claims(access, { aud: 'other-registry' })),
        rs256(privateKey, kid, claims(access, { exp: now() - 120 })),
        rs256(other, kid, claims(access)),
      ]) {
        const response = await client(stowage, `Bearer ${bad}`).fetch('/v2/team/app/tags/list');
        await expectOciError(response, 401, 'UNAUTHORIZED');
        expect(parseChallenge(response.headers.get('www-authenticate')).error).toBe('invalid_token');
      }
    });
  });
});
