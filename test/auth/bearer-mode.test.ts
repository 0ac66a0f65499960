/**
 * Bearer mode: Stowage as its own token server (the Docker token flow) — challenges, both forms of
 * the token endpoint, the tokens' claims and signature, scope intersection with the rules,
 * canonical names in scopes (no replay through `?ns=` or a prefix), expiry, refresh tokens, and
 * the catalog scope. Everything over HTTP against a real server; the clock is the test's.
 */
import { createPublicKey, verify } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaType } from '../../src/oci/media-types.js';
import { expectOciError } from '../http/registry-client.js';
import { TestClock } from '../proxy/support/proxy-helpers.js';
import { AuthorizedClient, basic, htpasswdLine, parseChallenge, readJwt, writeHtpasswd } from '../support/auth.js';
import { ACCEPT_ALL_MANIFESTS } from '../support/digests.js';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { requireTool, tempDir } from '../support/processes.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';

const RULES = [
  { repos: ['team/**'], users: ['alice'], actions: ['pull', 'push'] },
  { repos: ['team/shared/**'], users: ['*'], actions: ['pull'] },
  { repos: ['docker.io/**'], users: ['anonymous', '*'], actions: ['pull'] },
];

interface TokenBody {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
  refresh_token?: string;
}

describe.runIf(requireTool('htpasswd'))('Bearer mode (built-in token server)', () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let hub: FakeHub;
  let ghcr: FakeHub;
  let stowage: RunningStowage;
  let htpasswd: string;
  const clock = new TestClock();
  const clients: AuthorizedClient[] = [];
  const as = (authorization?: string): AuthorizedClient => {
    const client = new AuthorizedClient(stowage.url, authorization);
    clients.push(client);
    return client;
  };
  const bearer = (token: string): AuthorizedClient => as(`Bearer ${token}`);

  beforeAll(async () => {
    work = await tempDir('auth-bearer');
    hub = await startFakeHub({ auth: 'none' });
    ghcr = await startFakeHub({ auth: 'none' });
    hub.addImage('library/alpine', '3.20');
    ghcr.addImage('library/alpine', '3.20');
    htpasswd = join(work.path, 'htpasswd');
    await writeHtpasswd(htpasswd, { alice: 'alice-pw', bob: 'bob-pw', admin: 'admin-pw' });
    stowage = await startStowage({
      config: {
        hosted: ['team/**'],
        upstreams: { 'docker.io': { url: hub.url }, 'ghcr.io': { url: ghcr.url } },
        defaultUpstream: 'docker.io',
        auth: { htpasswd, admins: ['admin'], access: RULES, token: { ttl: '15m' } },
        metrics: { auth: true },
      },
      app: { now: clock.now },
    });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await stowage?.close();
    await hub?.close();
    await ghcr?.close();
    await work?.remove();
  });

  const realm = (): string => `${stowage.url}/auth/token`;

  /** GET /auth/token (Docker's form). */
  async function getToken(query: string, authorization?: string): Promise<{ status: number; body: any; headers: Headers }> {
    const response = await as(authorization).fetch(`/auth/token?${query}`);
    return { status: response.status, body: await response.json(), headers: response.headers as unknown as Headers };
  }

  /** POST /auth/token (containerd's OAuth2 form). */
  async function postToken(form: Record<string, string>): Promise<{ status: number; body: any }> {
    const response = await as().fetch('/auth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
    return { status: response.status, body: await response.json() };
  }

  async function tokenFor(user: string | null, password: string, scopes: string[]): Promise<string> {
    const query = new URLSearchParams([['service', 'Stowage'], ...scopes.map((s): [string, string] => ['scope', s])]).toString();
    const { status, body } = await getToken(query, user === null ? undefined : basic(user, password));
    expect(status).toBe(200);
    return (body as TokenBody).token;
  }

  describe('challenges', () => {
    it('GET /v2/ without credentials: 401 with an absolute Bearer realm and the service', async () => {
      const response = await as().fetch('/v2/');
      await expectOciError(response, 401, 'UNAUTHORIZED');
      expect(response.headers.get('www-authenticate')).toBe(`Bearer realm="${realm()}",service="Stowage"`);
    });

    it('a repository request names the canonical scope, however the repository was addressed', async () => {
      for (const path of ['/v2/library/alpine/manifests/3.20?ns=ghcr.io', '/v2/ghcr.io/library/alpine/manifests/3.20']) {
        const response = await as().fetch(path);
        expect(response.status).toBe(401);
        expect(parseChallenge(response.headers.get('www-authenticate'))).toEqual({ scheme: 'Bearer', realm: realm(), service: 'Stowage', scope: 'repository:ghcr.io/library/alpine:pull' });
      }
      const push = await as().fetch('/v2/team/app/blobs/uploads/', { method: 'POST' });
      expect(parseChallenge(push.headers.get('www-authenticate')).scope).toBe('repository:team/app:pull,push');
      expect(ghcr.requests).toEqual([]);
    });
  });

  describe('the token endpoint, GET form', () => {
    it('docker login: Basic credentials and no scope → 200 with a signed ES256 JWT carrying every claim and empty access', async () => {
      const { status, body, headers } = await getToken('account=alice&client_id=docker&offline_token=true&service=Stowage', basic('alice', 'alice-pw'));
      expect(status).toBe(200);
      expect(headers.get('cache-control')).toBe('no-store');
      const token = body as TokenBody;
      expect(token.access_token).toBe(token.token);
      expect(token.expires_in).toBe(900);
      expect(Date.parse(token.issued_at)).toBe(Math.floor(clock.now() / 1000) * 1000);
      expect(token.refresh_token).toBeUndefined();
      const { header, claims } = readJwt(token.token);
      expect(header).toMatchObject({ alg: 'ES256', typ: 'JWT', kid: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
      expect(claims).toMatchObject({ iss: 'stowage', sub: 'alice', aud: 'Stowage', access: [], jti: expect.stringMatching(/^[A-Za-z0-9_-]{16,}$/) });
      expect(claims.nbf).toBe(claims.iat);
      expect(claims.exp - claims.iat).toBe(900);
      // Signed by the key created on first start: EC P-256, mode 0600, in the data directory.
      const keyFile = join(stowage.dataDir, 'auth', 'token-key.pem');
      expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
      const publicKey = createPublicKey(await readFile(keyFile, 'utf8'));
      const [h, p, s] = token.token.split('.');
      expect(verify('sha256', Buffer.from(`${h}.${p}`), { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(s!, 'base64url'))).toBe(true);
      expect((await bearer(token.token).fetch('/v2/')).status).toBe(200);
    });

    it('a wrong password or unknown user: 401 without scopes (docker login fails), the anonymous grant with scopes (a mirror pull)', async () => {
      for (const credentials of [basic('alice', 'wrong'), basic('nobody', 'alice-pw')]) {
        const login = await getToken('service=Stowage&account=alice', credentials);
        expect(login.status).toBe(401);
        expect(login.body.errors[0].code).toBe('UNAUTHORIZED');
        const pull = await getToken('service=Stowage&scope=repository:library/alpine:pull&scope=repository:team/app:pull', credentials);
        expect(pull.status).toBe(200);
        expect(readJwt(pull.body.token).claims).toMatchObject({ sub: '', access: [{ type: 'repository', name: 'docker.io/library/alpine', actions: ['pull'] }] });
      }
    });

    it('grants the intersection of the request with the rules, by canonical name; `*` means all the user has; never an error', async () => {
      const scopes = ['repository:team/app:pull,push,delete', 'repository:team/other:*', 'repository:alpine:pull', 'repository:docker.io/library/alpine:push', 'repository:ghcr.io/library/alpine:pull', 'repository:Bad..Name:pull', 'registry:catalog:*'];
      const { claims } = readJwt(await tokenFor('alice', 'alice-pw', scopes));
      expect(claims.access).toEqual([
        { type: 'repository', name: 'team/app', actions: ['pull', 'push'] },
        { type: 'repository', name: 'team/other', actions: ['pull', 'push'] },
        { type: 'repository', name: 'docker.io/library/alpine', actions: ['pull'] },
        { type: 'registry', name: 'catalog', actions: ['*'] },
      ]);
      const anonymous = readJwt(await tokenFor(null, '', ['repository:team/app:pull', 'registry:catalog:*'])).claims;
      expect(anonymous).toMatchObject({ sub: '', access: [{ type: 'registry', name: 'catalog', actions: ['*'] }] });
    });

    it('a service that is not ours is refused (400)', async () => {
      const { status, body } = await getToken('service=registry.docker.io', basic('alice', 'alice-pw'));
      expect(status).toBe(400);
      expect(body.errors[0].message).toMatch(/unknown service/);
    });
  });

  describe('using tokens', () => {
    it('a push token pushes; a pull token reads but a push with it is 401 insufficient_scope naming the scope to ask for', async () => {
      const pushToken = await tokenFor('alice', 'alice-pw', ['repository:team/app:pull,push']);
      const image = await bearer(pushToken).pushImage('team/app', 'v1', { seed: 'bearer' });
      const pullToken = await tokenFor('bob', 'bob-pw', ['repository:team/app:pull,push', 'repository:team/shared/x:pull']);
      expect(readJwt(pullToken).claims.access).toEqual([{ type: 'repository', name: 'team/shared/x', actions: ['pull'] }]);
      const denied = await bearer(pullToken).fetch('/v2/team/app/manifests/v1');
      await expectOciError(denied, 401, 'UNAUTHORIZED');
      expect(parseChallenge(denied.headers.get('www-authenticate'))).toEqual({
        scheme: 'Bearer', realm: realm(), service: 'Stowage', scope: 'repository:team/app:pull', error: 'insufficient_scope',
      });
      const alicePull = await tokenFor('alice', 'alice-pw', ['repository:team/app:pull']);
      const read = await bearer(alicePull).fetch(`/v2/team/app/manifests/${image.digest}`, { headers: { accept: MediaType.OciManifest } });
      expect(read.status).toBe(200);
      const push = await bearer(alicePull).fetch('/v2/team/app/blobs/uploads/', { method: 'POST' });
      expect(parseChallenge(push.headers.get('www-authenticate'))).toMatchObject({ scope: 'repository:team/app:pull,push', error: 'insufficient_scope' });
    });

    it('a token for docker.io/library/alpine cannot be replayed for the same name under another upstream (?ns=, prefix)', async () => {
      const token = await tokenFor(null, '', ['repository:library/alpine:pull']);
      ghcr.reset();
      const ok = await bearer(token).fetch('/v2/docker.io/library/alpine/manifests/3.20', { headers: { accept: ACCEPT_ALL_MANIFESTS } });
      expect(ok.status).toBe(200);
      for (const path of ['/v2/library/alpine/manifests/3.20?ns=ghcr.io', '/v2/ghcr.io/library/alpine/manifests/3.20']) {
        const replay = await bearer(token).fetch(path, { headers: { accept: ACCEPT_ALL_MANIFESTS } });
        expect(replay.status).toBe(401);
        expect(parseChallenge(replay.headers.get('www-authenticate'))).toMatchObject({ scope: 'repository:ghcr.io/library/alpine:pull', error: 'insufficient_scope' });
      }
      expect(ghcr.requests).toEqual([]);
    });

    it('a tampered, foreign or expired token is 401 invalid_token (containerd then fetches a new one)', async () => {
      const token = await tokenFor('alice', 'alice-pw', ['repository:team/app:pull']);
      const [h, p, s] = token.split('.');
      const claims = readJwt(token).claims;
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, access: [{ type: 'repository', name: 'team/app', actions: ['pull', 'push', 'delete'] }] })).toString('base64url')}.${s}`;
      const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
      for (const bad of [forged, none, 'not-a-jwt', `${token}x`]) {
        const response = await bearer(bad).fetch('/v2/team/app/tags/list');
        await expectOciError(response, 401, 'UNAUTHORIZED');
        expect(parseChallenge(response.headers.get('www-authenticate')).error).toBe('invalid_token');
      }
      expect((await bearer(token).fetch('/v2/team/app/tags/list')).status).toBe(200);
      clock.advance(15 * 60_000);
      const expired = await bearer(token).fetch('/v2/team/app/tags/list');
      expect(parseChallenge(expired.headers.get('www-authenticate')).error).toBe('invalid_token');
      expect((await bearer(await tokenFor('alice', 'alice-pw', ['repository:team/app:pull'])).fetch('/v2/team/app/tags/list')).status).toBe(200);
    });

    it('Basic credentials work directly in Bearer mode too; /metrics takes only an admin\'s Basic credentials', async () => {
      expect((await as(basic('alice', 'alice-pw')).fetch('/v2/team/app/tags/list')).status).toBe(200);
      await expectOciError(await as(basic('bob', 'bob-pw')).fetch('/v2/team/app/tags/list'), 403, 'DENIED');
      expect((await as(basic('admin', 'admin-pw')).fetch('/metrics')).status).toBe(200);
      const adminToken = await tokenFor('admin', 'admin-pw', []);
      const metrics = await bearer(adminToken).fetch('/metrics');
      expect(metrics.status).toBe(401);
      expect(metrics.headers.get('www-authenticate')).toBe('Basic realm="Stowage", charset="UTF-8"');
    });

    it('the catalog needs registry:catalog:* in the token and lists only what the token and the rules allow', async () => {
      const without = await bearer(await tokenFor('bob', 'bob-pw', [])).fetch('/v2/_catalog');
      expect(parseChallenge(without.headers.get('www-authenticate'))).toMatchObject({ scope: 'registry:catalog:*', error: 'insufficient_scope' });
      const response = await bearer(await tokenFor('bob', 'bob-pw', ['registry:catalog:*'])).fetch('/v2/_catalog');
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ repositories: ['docker.io/library/alpine'] });
    });
  });

  describe('the token endpoint, POST form (containerd)', () => {
    it('grant_type=password with one space-separated scope and access_type=offline returns a refresh token that works', async () => {
      const { status, body } = await postToken({
        grant_type: 'password', username: 'alice', password: 'alice-pw', service: 'Stowage', client_id: 'containerd-client',
        access_type: 'offline', scope: 'repository:team/app:pull repository:library/alpine:pull',
      });
      expect(status).toBe(200);
      expect(readJwt(body.access_token).claims.access).toEqual([
        { type: 'repository', name: 'team/app', actions: ['pull'] },
        { type: 'repository', name: 'docker.io/library/alpine', actions: ['pull'] },
      ]);
      expect(readJwt(body.refresh_token).claims).toMatchObject({ sub: 'alice', aud: 'Stowage#refresh' });
      // A refresh token is not an access token.
      expect(parseChallenge((await bearer(body.refresh_token).fetch('/v2/')).headers.get('www-authenticate')).error).toBe('invalid_token');
      const refreshed = await postToken({ grant_type: 'refresh_token', refresh_token: body.refresh_token, service: 'Stowage', scope: 'repository:team/app:push' });
      expect(refreshed.status).toBe(200);
      expect(readJwt(refreshed.body.access_token).claims).toMatchObject({ sub: 'alice', access: [{ type: 'repository', name: 'team/app', actions: ['push'] }] });
    });

    it('errors in OAuth2 form: a wrong password, an unknown grant type, a bad refresh token', async () => {
      expect(await postToken({ grant_type: 'password', username: 'alice', password: 'wrong', service: 'Stowage' })).toEqual({ status: 401, body: { error: 'invalid_grant', error_description: expect.any(String) } });
      expect((await postToken({ grant_type: 'client_credentials', service: 'Stowage' })).body.error).toBe('unsupported_grant_type');
      expect((await postToken({ grant_type: 'refresh_token', refresh_token: 'nope', service: 'Stowage' })).body.error).toBe('invalid_grant');
    });

    it('a user who leaves the htpasswd file: refresh token and access tokens stop working within seconds', async () => {
      const { body } = await postToken({ grant_type: 'password', username: 'bob', password: 'bob-pw', service: 'Stowage', access_type: 'offline', scope: 'repository:team/shared/x:pull' });
      const access = body.access_token as string;
      expect((await bearer(access).fetch('/v2/team/shared/x/tags/list')).status).not.toBe(401);
      await writeFile(htpasswd, `${await htpasswdLine('alice', 'alice-pw')}\n${await htpasswdLine('admin', 'admin-pw')}\n`);
      clock.advance(2000); // the file is checked at most once a second
      const refreshed = await postToken({ grant_type: 'refresh_token', refresh_token: body.refresh_token, service: 'Stowage' });
      expect(refreshed).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
      expect(parseChallenge((await bearer(access).fetch('/v2/team/shared/x/tags/list')).headers.get('www-authenticate')).error).toBe('invalid_token');
    });

    it('a password change revokes refresh tokens issued before it', async () => {
      const { body } = await postToken({ grant_type: 'password', username: 'alice', password: 'alice-pw', service: 'Stowage', access_type: 'offline' });
      await writeFile(htpasswd, `${await htpasswdLine('alice', 'new-pw')}\n${await htpasswdLine('admin', 'admin-pw')}\n`);
      clock.advance(2000);
      expect((await postToken({ grant_type: 'refresh_token', refresh_token: body.refresh_token, service: 'Stowage' })).status).toBe(400);
    });
  });
});
