import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetch, type RequestInit } from 'undici';
import { expectOciError } from '../http/registry-client.js';
import { AuthorizedClient, basic, writeHtpasswd } from '../support/auth.js';
import { startFakeHub, type FakeHub } from '../support/fake-hub.js';
import { requireTool, tempDir } from '../support/processes.js';
import { startStowage, type RunningStowage } from '../support/stowage.js';
import { pushHosted } from './support/api-fixture.js';

const RULES = [
  { repos: ['team/**'], users: ['alice'], actions: ['pull', 'push', 'delete'] },
  { repos: ['team/shared/**'], users: ['*'], actions: ['pull'] },
  { repos: ['docker.io/**'], users: ['anonymous', '*'], actions: ['pull'] },
];

/**
 * The API with access control (Bearer mode, the rules of issue 10): the same identities and rules
 * as the registry, a session cookie after the sign-in form (or Basic / Bearer headers for
 * scripts), listings filtered to what the caller may pull, and never a `WWW-Authenticate` that
 * would open the browser's Basic pop-up.
 */
describe.runIf(requireTool('htpasswd'))('API with access control', () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let hub: FakeHub;
  let stowage: RunningStowage;
  let alice: AuthorizedClient;

  const api = (path: string, init: RequestInit & { cookie?: string; authorization?: string } = {}) => {
    const headers: Record<string, string> = { ...(init.headers as Record<string, string> | undefined) };
    if (init.cookie) headers.cookie = init.cookie;
    if (init.authorization) headers.authorization = init.authorization;
    if (init.method && init.method !== 'GET') headers['x-stowage-csrf'] = '1';
    return fetch(`${stowage.url}/api/v1/${path}`, { ...init, headers });
  };
  const signIn = async (username: string, password: string): Promise<string> => {
    const res = await api('session', { method: 'POST', body: JSON.stringify({ username, password }), headers: { 'content-type': 'application/json' } });
    expect(res.status, await res.clone().text()).toBe(200);
    const cookie = res.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^stowage_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    return cookie.split(';')[0]!;
  };
  const names = async (init: Parameters<typeof api>[1] = {}): Promise<string[]> => {
    const res = await api('repositories', init);
    expect(res.status).toBe(200);
    return ((await res.json()) as any).repositories.map((r: any) => r.name);
  };

  beforeAll(async () => {
    work = await tempDir('api-access');
    hub = await startFakeHub({ auth: 'none' });
    hub.addImage('library/alpine', '3.20');
    const htpasswd = `${work.path}/htpasswd`;
    await writeHtpasswd(htpasswd, { alice: 'alice-pw', bob: 'bob-pw' });
    stowage = await startStowage({
      config: {
        hosted: ['team/**'],
        upstreams: { 'docker.io': { url: hub.url } },
        defaultUpstream: 'docker.io',
        auth: { htpasswd, access: RULES, token: { ttl: '15m' } },
      },
    });
    alice = new AuthorizedClient(stowage.url, basic('alice', 'alice-pw'));
    await pushHosted(alice, 'team/app', '1');
    await pushHosted(alice, 'team/shared/base', '1');
    const pulled = await new AuthorizedClient(stowage.url, undefined).fetch('/v2/docker.io/library/alpine/manifests/3.20', { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    expect([200, 401]).toContain(pulled.status); // anonymous Bearer pulls go through the token flow
    await alice.fetch('/v2/docker.io/library/alpine/manifests/3.20', { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } }).then((r) => r.arrayBuffer());
  });
  afterAll(async () => {
    await alice?.close();
    await stowage?.close();
    await hub?.close();
    await work?.remove();
  });

  it('shows anonymous callers only what they may pull, and asks them to sign in without a Basic pop-up', async () => {
    expect(await names()).toEqual(['docker.io/library/alpine']);
    expect(await (await api('session')).json()).toEqual({ mode: 'bearer', user: null, admin: false });
    for (const path of ['repositories/team/app', 'repositories/team/app/tags', 'repositories/team/app/manifests/1', 'stats']) {
      const res = await api(path);
      expect(res.headers.get('www-authenticate'), path).toBeNull();
      await expectOciError(res, 401, 'UNAUTHORIZED');
    }
    // Existence is not leaked: a name that does not exist answers the same.
    await expectOciError(await api('repositories/team/none'), 401, 'UNAUTHORIZED');
  });

  it('signs in with the form: a wrong password is 401 (no WWW-Authenticate), the right one a session cookie', async () => {
    const wrong = await api('session', { method: 'POST', body: JSON.stringify({ username: 'alice', password: 'nope' }) });
    expect(wrong.headers.get('www-authenticate')).toBeNull();
    expect(wrong.headers.get('set-cookie')).toBeNull();
    await expectOciError(wrong, 401, 'UNAUTHORIZED');
    await expectOciError(await api('session', { method: 'POST', body: 'username=alice' }), 400, 'UNSUPPORTED');
    // The form is a mutating call too: without the CSRF header it is refused before any password check.
    await expectOciError(await fetch(`${stowage.url}/api/v1/session`, { method: 'POST', body: JSON.stringify({ username: 'alice', password: 'alice-pw' }) }), 403, 'DENIED');

    const cookie = await signIn('alice', 'alice-pw');
    expect(await (await api('session', { cookie })).json()).toEqual({ mode: 'bearer', user: 'alice', admin: false });
    expect(await names({ cookie })).toEqual(['docker.io/library/alpine', 'team/app', 'team/shared/base']);
    expect(await (await api('repositories/team/app', { cookie })).json()).toMatchObject({ permissions: { delete: true } });
    expect((await api('stats', { cookie })).status).toBe(200);

    // A forged or altered cookie is nobody.
    const forged = cookie.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    expect(await (await api('session', { cookie: forged })).json()).toMatchObject({ user: null });

    const out = await api('session', { method: 'DELETE', cookie });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toBe('stowage_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0');
  });

  it('applies the registry rules to signed-in users: bob sees shared content, may not delete', async () => {
    const cookie = await signIn('bob', 'bob-pw');
    expect(await names({ cookie })).toEqual(['docker.io/library/alpine', 'team/shared/base']);
    await expectOciError(await api('repositories/team/app/tags', { cookie }), 403, 'DENIED');
    const shared = (await (await api('repositories/team/shared/base/tags', { cookie })).json()) as any;
    expect(shared.permissions).toEqual({ delete: false, refresh: false, evict: false, pin: false });
    await expectOciError(await api('repositories/team/shared/base/tags/1', { method: 'DELETE', cookie }), 403, 'DENIED');
    expect((await alice.fetch('/v2/team/shared/base/manifests/1')).status).toBe(200);
  });

  it('accepts Basic and Bearer headers for scripts; wrong credentials are 401 without a challenge', async () => {
    expect(await names({ authorization: basic('alice', 'alice-pw') })).toContain('team/app');
    const token = (await (await fetch(`${stowage.url}/auth/token?service=Stowage&scope=repository:team/app:pull`, { headers: { authorization: basic('alice', 'alice-pw') } })).json()) as { token: string };
    expect(await names({ authorization: `Bearer ${token.token}` })).toContain('team/app');
    const wrong = await api('repositories', { authorization: basic('alice', 'wrong') });
    expect(wrong.headers.get('www-authenticate')).toBeNull();
    await expectOciError(wrong, 401, 'UNAUTHORIZED');
    // Deleting through the API with a signed-in session works like the registry's DELETE.
    const cookie = await signIn('alice', 'alice-pw');
    expect((await api('repositories/team/app/tags/1', { method: 'DELETE', cookie })).status).toBe(204);
    expect((await alice.fetch('/v2/team/app/manifests/1')).status).toBe(404);
  });
});
